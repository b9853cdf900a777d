"""What an alert's outcome tells the operator: one named log event, and a notification when it matters."""

from __future__ import annotations

import logging
from typing import Any, Callable

from app.answers import Answer
from app.deadline import Deadline
from app.logs import log_event
from app.ports import Notification
from app.services.notify import Notifications

log = logging.getLogger("app.alerts")

_BROKER_FAILURES = {"rejected", "broker_unavailable", "rate_limited", "state_unavailable", "internal_error"}


class AlertReporter:
    """Maps an alert's journal entry and answer to an event and, if wanted, a notification."""

    def __init__(self, notifications: Notifications | None, login_link: Callable[[], str] | None = None):
        self._notifications = notifications
        self._login_link = login_link

    def received(self, body_bytes: int) -> None:
        """The alert arrived (before anything is known about it)."""
        log_event(log, logging.INFO, "alert_received", "alert received", body_bytes=body_bytes)

    def report(self, entry: dict[str, Any], answer: Answer, deadline: Deadline) -> None:
        """Log the outcome's event; notify the trader of failures (or of everything)."""
        outcome = entry.get("outcome", "")
        decision = (entry.get("decisions") or [{}])[0]
        fields = {
            "status": answer.status,
            "outcome": outcome,
            "symbol": decision.get("symbol"),
            "latency_ms": entry.get("latency_ms"),
        }
        message = str(answer.body.get("message", ""))
        what = _describe(entry)
        if outcome in ("dry_run", "nothing_to_close"):
            log_event(log, logging.INFO, outcome, f"{outcome.replace('_', ' ')}: {what}", **fields)
            return
        if outcome == "legs_partial":
            log_event(log, logging.ERROR, "legs_partial", f"only some legs stand: {message}", **fields)
            self._notify("legs_partial", f"Multi-leg alert PARTIAL: {message}", fields, deadline)
            return
        if outcome in ("replayed", "replayed_settled", "in_flight"):
            log_event(log, logging.INFO, "duplicate_suppressed", f"duplicate of an earlier alert ({outcome})", **fields)
            return
        if answer.status == 401:
            log_event(log, logging.WARNING, "alert_rejected", "alert refused: bad or missing secret", **fields)
            return
        if outcome == "closed":  # a CO/BO position closed by the broker's exit call
            log_event(log, logging.INFO, "position_closed", f"position closed: {what}", **fields)
            self._notify("order_placed", f"Position closed: {what}", fields, deadline)
            return
        if outcome == "placed":
            log_event(log, logging.INFO, "order_placed", f"order placed: {what}", order_id=answer.body.get("order_id"), **fields)
            self._notify("order_placed", f"Order placed: {what} (order {answer.body.get('order_id')})", fields, deadline)
        elif outcome == "pending":
            log_event(log, logging.WARNING, "order_pending", f"order outcome unknown, reconciling: {what}", **fields)
            self._notify("order_pending", f"Order pending: {what}. Fyers did not confirm in time; checking the order book. {message}", fields, deadline)
        elif outcome == "login_required":
            log_event(log, logging.ERROR, "login_required", f"alert refused, Fyers login required: {what}", **fields)
            link = self._login_link() if self._login_link else None
            self._notify("login_required", f"Fyers login required: alert not placed ({what}). Log in:", fields, deadline, link)
        elif outcome in _BROKER_FAILURES or answer.status >= 500:
            log_event(log, logging.ERROR, "order_failed", f"order failed: {what}: {message}", **fields)
            self._notify("order_failed", f"Order FAILED: {what}. {message}", fields, deadline)
        else:
            log_event(log, logging.WARNING, "alert_rejected", f"alert refused ({outcome}): {message}", **fields)
            if entry.get("alert") is not None:  # authenticated: the trader's own alert did nothing
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
        what = _describe({"alert": entry.get("payload")})
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

    def _notify(self, kind: str, text: str, fields: dict[str, Any], deadline: Deadline, link: str | None = None) -> None:
        if self._notifications is None or not self._notifications.wanted(kind):
            return
        self._notifications.notify(Notification(kind, text, {k: v for k, v in fields.items() if v is not None}, link), deadline)


def _describe(entry: dict[str, Any]) -> str:
    decisions = entry.get("decisions")
    if decisions:
        return "; ".join(f"{d['side']} {d['qty']} {d['symbol']} {d['product_type']}" for d in decisions)
    alert = entry.get("alert")
    if isinstance(alert, dict):
        parts = [alert.get("action"), alert.get("qty"), alert.get("symbol"), alert.get("strikeprice"), alert.get("optionType"), alert.get("expiry")]
        return " ".join(str(p) for p in parts if p is not None)
    return "unreadable alert"
