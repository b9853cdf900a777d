"""An alert's typed record: what it came to (`Outcome`), what the journal keeps, what the caller is told."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

from app.domain.errors import BridgeError


class Outcome(StrEnum):
    """How an alert (or a pending order, or a queued alert) ended; the value is the journal's word."""

    PLACED = "placed"
    PENDING = "pending"  # sent, the broker's answer lost: the order book settles it
    PARTIAL = "partial"  # a sliced order some of whose slices the broker rejected
    CLOSED = "closed"  # a CO/BO position closed by the broker's exit call
    LEGS_PARTIAL = "legs_partial"  # some legs of a multi-leg alert stand, then one failed
    NOTHING_TO_CLOSE = "nothing_to_close"
    DRY_RUN = "dry_run"
    QUEUED = "queued"
    CANCELLED = "cancelled"  # a queued alert the operator cancelled
    REPLAYED = "replayed"
    REPLAYED_SETTLED = "replayed_settled"  # a replay of a pending order the book has since settled
    INTERNAL_ERROR = "internal_error"
    RECONCILED = "reconciled"
    RECONCILED_PARTIAL = "reconciled_partial"
    NOT_PLACED = "not_placed"  # the book never showed a pending order: it was not sent again
    # What became of a placed entry afterwards (app/domain/trades.py Event: the same words).
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED_BY_EXCHANGE = "rejected_by_exchange"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_EXPIRED = "order_expired"
    PROTECTED = "protected"
    PROTECTION_FAILED = "protection_failed"
    STOP_HIT = "stop_hit"
    TARGET_HIT = "target_hit"
    PROTECTION_CANCELLED = "protection_cancelled"
    # The day's money (app/services/day_lock.py).
    DAY_LOCKED = "day_locked"
    DAY_LOCK_LIFTED = "day_lock_lifted"
    CLOSE_ALL = "close_all"  # close-all or the square-off: what was cancelled and exited (app/services/close_all.py)
    BOOK_RECONCILED = "book_reconciled"  # a strategy's book shrunk to Fyers's positions (app/services/books.py)
    # A refusal or failure is journalled under its error's code.
    ERROR = "error"
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TOO_LARGE = "too_large"
    IN_FLIGHT = "in_flight"
    UNEXECUTABLE = "unexecutable"
    CONTRACT_NOT_FOUND = "contract_not_found"
    RISK_REFUSED = "risk_refused"
    INVALID_LEVEL = "invalid_level"
    MARKET_CLOSED = "market_closed"
    STALE = "stale"
    REJECTED = "rejected"
    BROKER_UNAVAILABLE = "broker_unavailable"
    LOGIN_REQUIRED = "login_required"
    LOGIN_FAILED = "login_failed"
    RATE_LIMITED = "rate_limited"
    OUTCOME_UNKNOWN = "outcome_unknown"
    STATE_UNAVAILABLE = "state_unavailable"

    @classmethod
    def of(cls, error: BridgeError) -> Outcome:
        """The outcome an error ends an alert with (its code)."""
        return cls(error.code)


# An order that stands at the broker, whatever its answer says about the rest.
STANDING = frozenset({Outcome.PLACED, Outcome.PENDING, Outcome.CLOSED, Outcome.PARTIAL})


@dataclass(frozen=True)
class AlertResult:
    """What an alert came to: its outcome and the body the caller is told; app/answers.py adds the HTTP."""

    outcome: Outcome
    body: dict[str, Any]
    error: BridgeError | None = None  # the error whose status the answer carries
    stored_status: int | None = None  # a replay: the status answered the first time
    replayed: bool = False
    retry_after: float | None = None  # seconds the broker asked us to wait before a resend
    # Orders answered 202 because Fyers's rate limit had no slot inside the alert's budget:
    # sent by this, in the same request, once the answer is written (web/webhook.py).
    then: Callable[[], None] | None = None

    @classmethod
    def refused(cls, error: BridgeError, **extra: Any) -> AlertResult:
        """The answer to an alert that ended on `error`."""
        return cls(Outcome.of(error), error_body(error, **extra), error, retry_after=error.details.get("retry_after"))


def error_body(error: BridgeError, **extra: Any) -> dict[str, Any]:
    """An error's JSON body, naming the field or rule when there is one."""
    body: dict[str, Any] = {"status": error.code, "message": error.message}
    body.update({k: v for k, v in error.details.items() if v is not None})
    body.update(extra)
    return body


@dataclass
class AlertRecord:
    """The journal's record of one alert; `as_dict` is its stored JSON."""

    alert_id: str
    body_bytes: int | None = None
    alert: dict[str, Any] | str | None = None  # as received, without the secret, bounded in size
    message_read: bool = False  # the alert parsed: its key and strategy are recorded, even when None
    idempotency_key: str | None = None
    strategy: str | None = None
    dry_run: bool = False
    queue_id: str | None = None
    from_queue: bool = False
    attempt: int | None = None
    replayed: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # told in the answer too (e.g. an unchecked age)
    order_attempted: bool = False
    taken_over: bool = False
    # Each order's broker answer; a pending order settled later records the one settled answer.
    broker: list[dict[str, Any]] | dict[str, Any] | None = None
    outcome: Outcome | None = None
    status: int | None = None
    message: str | None = None  # why it was refused: the answer's message, which TradingView does not show
    latency_ms: float | None = None
    trade: dict[str, Any] | None = None  # a trade's event after the order: fill, hit, protection
    paper: bool = False  # BROKER=paper or fyers-paper: no real order stands behind this record

    def broker_answer(self, answer: dict[str, Any]) -> None:
        """Add one order's broker answer."""
        self.broker = [*(self.broker or []), answer]

    def as_dict(self) -> dict[str, Any]:
        """The stored JSON: only what is known (the same keys as records written before)."""
        stored = {name: value for name, value in vars(self).items() if not _unknown(value)}
        stored.pop("message_read", None)
        if self.message_read:
            stored.update(idempotency_key=self.idempotency_key, strategy=self.strategy)
        if self.outcome is not None:
            stored["outcome"] = self.outcome.value
        return stored


def _unknown(value: Any) -> bool:
    """Nothing recorded: None, a flag not raised, no decisions (0 and 0.0 are values)."""
    return value is None or value is False or value == []


def read_outcome(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored record with its outcome read back into the enum (a StrEnum: JSON and Jinja see the word)."""
    value = stored.get("outcome")
    if value in Outcome._value2member_map_:
        return {**stored, "outcome": Outcome(value)}
    return stored
