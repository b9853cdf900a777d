"""Small interfaces in domain words; adapters implement them, services depend on them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

from app.deadline import Deadline
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder, Position, PositionExit


class Broker(ABC):
    """A broker account: quotes, positions and orders.

    Implementations raise domain errors only: `OrderRejected`, `BrokerUnavailable`
    (certainly not placed), `LoginRequired`, `RateLimited`, `OrderOutcomeUnknown`
    (may have been placed: look it up, never re-send).
    """

    name: str = "broker"

    @abstractmethod
    def quotes(self, symbols: Sequence[str], deadline: Deadline) -> dict[str, Decimal]:
        """Last traded price of each symbol."""

    @abstractmethod
    def positions(self, deadline: Deadline) -> list[Position]:
        """Net positions of the day."""

    @abstractmethod
    def place_order(self, order: OrderRequest, deadline: Deadline) -> PlacedOrder:
        """Send one order, once."""

    @abstractmethod
    def find_order(
        self, order: OrderRequest, since: datetime, deadline: Deadline
    ) -> BrokerOrder | None:
        """Look `order` up in today's book: by its tag, or (CO/BO) by contract, side, qty, time."""

    @abstractmethod
    def exit_position(self, position: Position, deadline: Deadline) -> PositionExit:
        """Close one position with the broker's own exit call, its working legs cancelled first.

        Sent once: `OrderOutcomeUnknown` when it may have left; the position book settles it.
        """

    @abstractmethod
    def readiness(self) -> tuple[bool, str]:
        """Whether the broker can take orders now, and why not; cheap and cached."""

    def market_open(self, deadline: Deadline) -> bool | None:
        """Whether the broker says NSE F&O is open now; None when it cannot say."""
        return None


@dataclass(frozen=True, slots=True)
class Versioned:
    """A stored document and the generation that a compare-and-swap must name."""

    data: dict[str, Any]
    generation: int


class StateStore(ABC):
    """Small JSON documents with create-only and compare-and-swap writes."""

    @abstractmethod
    def get(self, key: str) -> Versioned | None:
        """The document at `key`, or None."""

    @abstractmethod
    def create(self, key: str, data: dict[str, Any]) -> int | None:
        """Write only if absent; the new generation, or None when the key exists."""

    @abstractmethod
    def replace(self, key: str, data: dict[str, Any], generation: int) -> int | None:
        """Write only if still at `generation`; the new generation, or None on conflict."""

    @abstractmethod
    def delete(self, key: str, generation: int | None = None) -> bool:
        """Remove (only at `generation` when given); False when absent or changed."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""


class Clock:
    """Wall-clock time; tests pass a fixed one."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        return datetime.now(timezone.utc)


class FixedClock(Clock):
    """A clock that stays where it is set."""

    def __init__(self, instant: datetime):
        self.instant = instant

    def now(self) -> datetime:
        """The set instant."""
        return self.instant


@dataclass(frozen=True, slots=True)
class Notification:
    """Something the trader should know, in a form every channel can send."""

    kind: str  # order_failed, order_pending, order_placed, login_required, token_refresh_error...
    text: str  # one short paragraph for a phone screen
    fields: dict[str, Any]
    link: str | None = None


class Notifier(ABC):
    """One channel to the trader's phone or systems."""

    name: str = "notifier"

    @abstractmethod
    def send(self, notification: Notification, timeout: float) -> None:
        """Deliver within `timeout` seconds or raise."""
