"""What an alert's outcome tells the operator: one named log event, and a notification when it matters."""

from __future__ import annotations

import logging
from typing import Any, Callable

from app.deadline import Deadline
from app.logs import log_event
from app.ports import Clock, Notification
from app.services.notify import Notifications
from app.services.record import AlertRecord, AlertResult, Outcome
from app.services.refusals import RefusalCounter

log = logging.getLogger("app.alerts")

# Outcomes where the broker (or our own state, or code) failed the trader's alert.
_BROKER_FAILURES = frozenset(
    {
        Outcome.REJECTED,
        Outcome.BROKER_UNAVAILABLE,
        Outcome.RATE_LIMITED,
        Outcome.STATE_UNAVAILABLE,
        Outcome.OUTCOME_UNKNOWN,
        Outcome.ERROR,
        Outcome.INTERNAL_ERROR,
    }
)
_QUIET = frozenset({Outcome.DRY_RUN, Outcome.NOTHING_TO_CLOSE})
_DUPLICATES = frozenset({Outcome.REPLAYED, Outcome.REPLAYED_SETTLED, Outcome.IN_FLIGHT})


class AlertReporter:
    """Maps an alert's journal record and result to an event and, if wanted, a notification."""

    def __init__(
        self,
        notifications: Notifications | None,
        login_link: Callable[[], str] | None = None,
        refusals: RefusalCounter | None = None,
    ):
        self._notifications = notifications
        self._login_link = login_link
        self.refusals = refusals or RefusalCounter(Clock())

    def received(self, body_bytes: int) -> None:
        """An authenticated alert arrived (junk gets no line of its own: see `unauthenticated`)."""
        log_event(log, logging.INFO, "alert_received", "alert received", body_bytes=body_bytes)

    def unauthenticated(self, source: str, status: int, reason: str) -> None:
        """A request refused before authentication: counted, and logged at most once a minute per source."""
        self.refusals.refused(source, status, reason)

    def report(self, record: AlertRecord, result: AlertResult, deadline: Deadline) -> None:
        """Log the outcome's event; notify the trader of failures (or of everything)."""
        outcome = record.outcome
        fields = {
            "status": record.status,
            "outcome": outcome.value,
            "symbol": (record.decisions or [{}])[0].get("symbol"),
            "latency_ms": record.latency_ms,
        }
        message = str(result.body.get("message", ""))
        what = _describe(record.decisions, record.alert)
        if outcome in _QUIET:
            log_event(log, logging.INFO, outcome.value, f"{outcome.replace('_', ' ')}: {what}", **fields)
        elif outcome == Outcome.LEGS_PARTIAL:
            log_event(log, logging.ERROR, "legs_partial", f"only some legs stand: {message}", **fields)
            self._notify("legs_partial", f"Multi-leg alert PARTIAL: {message}", fields, deadline)
        elif outcome in _DUPLICATES:
            log_event(log, logging.INFO, "duplicate_suppressed", f"duplicate of an earlier alert ({outcome})", **fields)
        elif outcome == Outcome.CLOSED:  # a CO/BO position closed by the broker's exit call
            log_event(log, logging.INFO, "position_closed", f"position closed: {what}", **fields)
            self._notify("order_placed", f"Position closed: {what}", fields, deadline)
        else:
            self._report_order(record, result, fields, what, message, deadline)

    def _report_order(
        self,
        record: AlertRecord,
        result: AlertResult,
        fields: dict[str, Any],
        what: str,
        message: str,
        deadline: Deadline,
    ) -> None:
        """An alert that reached (or was refused before) the broker: placed, pending, failed or refused."""
        outcome = record.outcome
        if outcome == Outcome.PLACED:
            order_id = result.body.get("order_id")
            log_event(log, logging.INFO, "order_placed", f"order placed: {what}", order_id=order_id, **fields)
            self._notify("order_placed", f"Order placed: {what} (order {order_id})", fields, deadline)
        elif outcome == Outcome.PENDING:
            log_event(log, logging.WARNING, "order_pending", f"order outcome unknown, reconciling: {what}", **fields)
            text = f"Order pending: {what}. Fyers did not confirm in time; checking the order book. {message}"
            self._notify("order_pending", text, fields, deadline)
        elif outcome == Outcome.LOGIN_REQUIRED:
            log_event(log, logging.ERROR, "login_required", f"alert refused, Fyers login required: {what}", **fields)
            link = self._login_link() if self._login_link else None
            text = f"Fyers login required: alert not placed ({what}). Log in:"
            self._notify("login_required", text, fields, deadline, link)
        elif outcome in _BROKER_FAILURES:
            log_event(log, logging.ERROR, "order_failed", f"order failed: {what}: {message}", **fields)
            self._notify("order_failed", f"Order FAILED: {what}. {message}", fields, deadline)
        else:
            log_event(log, logging.WARNING, "alert_rejected", f"alert refused ({outcome}): {message}", **fields)
            if record.alert is not None:  # authenticated: the trader's own alert did nothing
                self._notify("order_failed", f"Alert refused, no order: {message}", fields, deadline)

    def queue_ended(self, entry: dict[str, Any], deadline: Deadline) -> None:
        """A queued alert ended (placed, failed, expired or cancelled): one event, one notification."""
        end = entry["state"]
        answer = entry.get("answer") or {}
        fields = {
            "queue_id": entry["id"],
            "alert_id": entry.get("alert_id"),
            "end": end,
            "attempts": entry.get("attempts", 0),
            "order_id": answer.get("order_id"),
        }
        what = _describe(None, entry.get("payload"))
        text = {
            "placed": f"Queued alert placed: {what} (order {answer.get('order_id')})",
            "failed": f"Queued alert FAILED, no order: {what}. {entry.get('last_reason', '')}",
            "expired": f"Queued alert EXPIRED, no order: {what} (QUEUE_MAX_AGE_SECONDS)",
            "cancelled": f"Queued alert cancelled, no order: {what}",
        }[end]
        if end == "placed" and answer.get("status") == "pending":
            text = f"Queued alert sent, outcome pending: {what}. Checking the order book."
        level = logging.INFO if end in ("placed", "cancelled") else logging.ERROR
        log_event(log, level, f"queue_{end}", text, **{k: v for k, v in fields.items() if v is not None})
        self._notify(f"queue_{end}", text, fields, deadline)

    def _notify(
        self, kind: str, text: str, fields: dict[str, Any], deadline: Deadline, link: str | None = None
    ) -> None:
        if self._notifications is None or not self._notifications.wanted(kind):
            return
        known = {k: v for k, v in fields.items() if v is not None}
        self._notifications.notify(Notification(kind, text, known, link), deadline)


def _describe(decisions: list[dict[str, Any]] | None, alert: dict[str, Any] | str | None) -> str:
    """The orders decided, else the alert's own words, in one line."""
    if decisions:
        return "; ".join(f"{d['side']} {d['qty']} {d['symbol']} {d['product_type']}" for d in decisions)
    if isinstance(alert, dict):
        names = ("action", "qty", "symbol", "strikeprice", "optionType", "expiry")
        parts = [alert.get(name) for name in names]
        return " ".join(str(p) for p in parts if p is not None)
    return "unreadable alert"


def report_rate_limited(notifications: Notifications | None, count_today: int, retry_after: float) -> None:
    """Fyers refused a request for its rate limit (429): a warning event and a notification with the day's count."""
    text = (
        f"Fyers refused a request for its rate limit (HTTP 429), {count_today} today. Nothing is sent for "
        f"{retry_after:g} s, then at half rate for a minute. More than 3 breaches of the per-minute limit "
        "in a day block the account until tomorrow."
    )
    fields = {"rate_limited_today": count_today, "retry_after": retry_after}
    log_event(log, logging.WARNING, "rate_limited", text, **fields)
    if notifications is not None and notifications.wanted("rate_limited"):
        notifications.notify_soon(Notification("rate_limited", text, fields))
