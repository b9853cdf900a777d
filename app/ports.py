"""Small interfaces in domain words; adapters implement them, services depend on them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

from app.deadline import Deadline
from app.domain.orders import BrokerOrder, Fill, Margin, OrderRequest, PlacedOrder, Position, PositionExit, Priority


class Broker(ABC):
    """A broker account: quotes, positions and orders.

    Implementations raise domain errors only: `OrderRejected`, `BrokerUnavailable`
    (certainly not placed), `LoginRequired`, `RateLimited`, `OrderOutcomeUnknown`
    (may have been placed: look it up, never re-send).

    `priority` says what a call is for, so that a broker short of rate budget serves exits
    first; a caller that passes nothing gets the default of each method (an order's own
    priority comes from its `closing` flag).
    """

    name: str = "broker"

    @abstractmethod
    def quotes(
        self, symbols: Sequence[str], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> dict[str, Decimal]:
        """Last traded price of each symbol."""

    @abstractmethod
    def positions(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Position]:
        """Net positions of the day."""

    @abstractmethod
    def place_order(
        self, order: OrderRequest, deadline: Deadline, *, priority: Priority | None = None
    ) -> PlacedOrder:
        """Send one order, once (at the order's own priority unless told)."""

    @abstractmethod
    def find_order(
        self, order: OrderRequest, since: datetime, deadline: Deadline, *, priority: Priority | None = None
    ) -> BrokerOrder | None:
        """Look `order` up in today's book: by its tag, or (CO/BO) by contract, side, qty, time."""

    @abstractmethod
    def exit_position(
        self, position: Position, deadline: Deadline, *, priority: Priority = Priority.EXIT
    ) -> PositionExit:
        """Close one position with the broker's own exit call, its working legs cancelled first.

        Sent once: `OrderOutcomeUnknown` when it may have left; the position book settles it.
        """

    @abstractmethod
    def order_book(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[BrokerOrder]:
        """Today's orders, one per broker order (each slice, each protection leg), oldest first."""

    @abstractmethod
    def order_by_id(
        self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.LOOKUP
    ) -> BrokerOrder | None:
        """One order as the book shows it now, or None when the book has no such id."""

    @abstractmethod
    def fills(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Fill]:
        """Today's trades (the tradebook), oldest first."""

    @abstractmethod
    def cancel_order(self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.EXIT) -> None:
        """Cancel one working order, once.

        `OrderRejected` when the broker refuses (it already filled or was cancelled);
        `OrderOutcomeUnknown` when the request may have left: the book settles it.
        """

    @abstractmethod
    def readiness(self) -> tuple[bool, str]:
        """Whether the broker can take orders now, and why not; cheap and cached."""

    def market_open(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> bool | None:
        """Whether the broker says NSE F&O is open now; None when it cannot say."""
        return None

    def margin(
        self, orders: list[OrderRequest], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> Margin | None:
        """What `orders`, placed in this sequence, need and what the account has free; None when it cannot say."""
        return None

    def rate_limited_today(self) -> int:
        """How many times the broker refused a request for its rate limit today (429s)."""
        return 0


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


@dataclass(frozen=True)
class TokenStatus:
    """What the operator may see about the broker session: never the tokens themselves."""

    logged_in: bool
    expires_at: datetime | None
    reason: str
    can_refresh: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "logged_in": self.logged_in,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "reason": self.reason,
            "can_refresh": self.can_refresh,
        }


class TokenSource(ABC):
    """The broker session's access token, as the broker adapter uses it."""

    @abstractmethod
    def access_token(self) -> str:
        """The current access token; LoginRequired when there is none that is usable."""

    @abstractmethod
    def mark_invalid(self, access_token: str, reason: str) -> None:
        """The broker refused this token: no call uses it again until the next login."""

    @abstractmethod
    def status(self) -> TokenStatus:
        """Whether a usable session exists, until when, and why not."""


class TokenCipher(ABC):
    """Seals the broker session's tokens for the state store, and opens them again.

    `context` names the document the sealed value belongs to: a sealed value copied into another
    document does not open there.
    """

    key_id: str  # a fingerprint of the key, safe to store and log: tells a rotated key apart

    @abstractmethod
    def seal(self, tokens: dict[str, Any], context: str) -> dict[str, str]:
        """An encrypted, authenticated JSON-ready form of `tokens`, carrying `key_id`."""

    @abstractmethod
    def open(self, sealed: Any, context: str) -> dict[str, Any] | None:
        """The tokens back; None when this key cannot open `sealed` (another key, altered, malformed)."""


class BrokerLogin(ABC):
    """The broker's login endpoints: the login page, the auth-code exchange and the refresh."""

    @abstractmethod
    def login_url(self, state: str) -> str:
        """The broker's login page, carrying `state` back to our callback."""

    @abstractmethod
    def exchange_code(self, auth_code: str, deadline: Deadline) -> tuple[str, str | None]:
        """Access and refresh tokens for an auth code; LoginFailed when the broker refuses it."""

    @abstractmethod
    def refresh(self, refresh_token: str, pin: str, deadline: Deadline) -> str:
        """A new access token from a refresh token and the PIN; LoginRequired when refused."""
