"""What a trade's events tell: a journal record, a log line and a notification, in the trader's words."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from app.deadline import Deadline
from app.domain.trades import Event, Trade
from app.logs import log_event
from app.ports import Notification
from app.services.journal import Journal
from app.services.notify import Notifications
from app.services.record import AlertRecord, Outcome

log = logging.getLogger("app.trades")

_HEADLINES = {
    Event.FILLED: "FILLED",
    Event.PARTIALLY_FILLED: "PARTLY FILLED",
    Event.REJECTED: "REJECTED by the exchange after Fyers accepted it",
    Event.CANCELLED: "CANCELLED",
    Event.EXPIRED: "EXPIRED",
    Event.PROTECTED: "PROTECTED at the broker",
    Event.PROTECTION_FAILED: "UNPROTECTED",
    Event.STOP_HIT: "STOP HIT",
    Event.TARGET_HIT: "TARGET HIT",
    Event.PROTECTION_CANCELLED: "PROTECTION CANCELLED",
}
_TROUBLE = frozenset({Event.REJECTED, Event.PROTECTION_FAILED})


class TradeNews:
    """Journals, logs and notifies each trade event (the caller tells each event once)."""

    def __init__(self, journal: Journal, notifications: Notifications | None):
        self._journal = journal
        self._notifications = notifications

    def tell(self, trade: Trade, event: Event, facts: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        """Record and send one event; what was told, for the caller's answer."""
        text = f"{_HEADLINES[event]}: {describe(trade)}{_details(event, facts)}"
        told = {"event": event.value, "tag": trade.tag, "alert_id": trade.alert_id, "text": text, **_plain(facts)}
        self._record(trade, Outcome(event.value), told)
        level = logging.ERROR if event in _TROUBLE else logging.INFO
        log_event(log, level, event.value, text, symbol=trade.symbol, alert_id=trade.alert_id)
        self._send(event.value, text, told, deadline)
        return told

    def exited(self, trade: Trade, status: str, message: str, deadline: Deadline) -> dict[str, Any]:
        """PROTECTION_FAILURE=exit closed (or tried to close) an unprotected position."""
        text = f"CLOSED because it could not be protected: {describe(trade)} ({status}: {message})"
        told = {"event": "protection_exit", "tag": trade.tag, "alert_id": trade.alert_id, "text": text}
        self._record(trade, Outcome.CLOSED, told)
        log_event(log, logging.WARNING, "protection_exit", text, symbol=trade.symbol)
        self._send("protection_failed", text, told, deadline)
        return told

    def _record(self, trade: Trade, outcome: Outcome, told: dict[str, Any]) -> None:
        record = AlertRecord(trade.alert_id, outcome=outcome, strategy=trade.strategy, message_read=True)
        record.trade = {
            "tag": trade.tag,
            "symbol": trade.symbol,
            "side": trade.side.name,
            "qty": trade.qty,
            "entry_id": trade.entry_id,
            "entry_price": _number(trade.entry_price),
            "protection": trade.protection.value,
            **{k: v for k, v in told.items() if k not in ("tag", "alert_id")},
        }
        self._journal.record(record)

    def _send(self, kind: str, text: str, fields: dict[str, Any], deadline: Deadline) -> None:
        if self._notifications is not None:
            self._notifications.notify(Notification(kind, text, fields), deadline)


def describe(trade: Trade) -> str:
    """A trade in a few words: side, quantity, contract, and the strategy when there is one."""
    who = f" [{trade.strategy}]" if trade.strategy else ""
    return f"{trade.side.name} {trade.qty} {trade.symbol}{who}"


def rupees(amount: Decimal | None) -> str:
    """An amount of money as a trader reads it: sign, rupee sign, two decimals."""
    if amount is None:
        return "unknown"
    return f"{'-' if amount < 0 else '+'}₹{abs(amount):,.2f}"


def _details(event: Event, facts: dict[str, Any]) -> str:
    if event in (Event.FILLED, Event.PARTIALLY_FILLED):
        of = f" of {facts['of']}" if "of" in facts else ""
        return f"; {facts['qty']}{of} at {facts['price']}"
    if event in (Event.STOP_HIT, Event.TARGET_HIT):
        return f"; closed {facts['qty']} at {facts['exit_price']}, P&L {rupees(facts.get('pnl'))}"
    if event is Event.PROTECTED:
        return f"; stop {facts.get('stop_loss')}, target {facts.get('take_profit')} ({facts.get('mode')})"
    if event is Event.PROTECTION_FAILED:
        return f"; no stop-loss stands at Fyers ({facts.get('reason')}). Protect or close it now."
    if event is Event.PROTECTION_CANCELLED:
        return f"; {facts.get('why', 'the position was closed elsewhere')}"
    message = facts.get("message")
    return f"; {message}" if message else ""


def _plain(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: _number(v) if isinstance(v, Decimal) else v for k, v in facts.items()}


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
