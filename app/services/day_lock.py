"""The day's money: a loss or profit line that, once crossed, locks new entries until the next day.

The day's P&L is Fyers's own: the `pl` of every positions row of the day (realized plus
unrealized, flat rows included), summed. It is checked before every entry (the planner reads the
positions then) and in every sync sweep. The lock lives in the kill switch's document, marked
with its rule and IST day: every instance refuses entries at once, exits stay allowed, and the
next day it no longer applies. It is written by compare-and-swap, so however many alerts and
sweeps see the breach together, one writes it, tells it, and (LOCK_ACTION=close) closes the
bridge's positions, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import RiskRefused
from app.domain.orders import Position
from app.logs import log_event
from app.ports import Broker, Clock, Notification
from app.services.controls import TradingControls
from app.services.journal import Journal
from app.services.notify import Notifications
from app.services.record import AlertRecord, Outcome
from app.services.trade_news import rupees

log = logging.getLogger("app.risk")


@dataclass(frozen=True)
class LockRules:
    """The day's lines, in rupees (None: no such line), and what a crossing does."""

    max_daily_loss: Decimal | None = None
    daily_profit_lock: Decimal | None = None
    profit_trail_from: Decimal | None = None  # once the day's P&L reaches this...
    profit_trail_keep: Decimal | None = None  # ...a fall back to this locks it in
    lock_action: str = "refuse"  # or "close": the bridge's open positions are closed once

    @property
    def active(self) -> bool:
        """Whether any line is drawn."""
        return any(v is not None for v in (self.max_daily_loss, self.daily_profit_lock, self.profit_trail_from))


class Closer(Protocol):
    """Closes positions (app/services/close_all.py)."""

    def run(self, scope: str, deadline: Deadline, reason: str) -> dict[str, Any]: ...


def day_pl(positions: list[Position]) -> Decimal | None:
    """The day's P&L from the broker's own figures; None when no row carries one."""
    known = [p.pl for p in positions if p.pl is not None]
    return sum(known, Decimal(0)) if known else None


class DayLock:
    """Checks the day's P&L against the lines and locks entries when one is crossed."""

    def __init__(
        self,
        rules: LockRules,
        controls: TradingControls,
        broker: Broker,
        journal: Journal,
        notifications: Notifications | None,
        clock: Clock,
        closer: Closer | None = None,
    ):
        self.rules = rules
        self._controls = controls
        self._broker = broker
        self._journal = journal
        self._notifications = notifications
        self._clock = clock
        self.closer = closer

    def check_entry(self, positions: list[Position], deadline: Deadline) -> None:
        """Before an entry: RiskRefused naming the rule when the day's P&L has crossed a line."""
        if not self.rules.active:
            return
        locked = self._check(day_pl(positions), deadline, self._controls.switch_document())
        if locked is not None:
            raise RiskRefused(locked["rule"], f"{locked['reason']}; exits are still allowed")

    def sweep(self, deadline: Deadline) -> dict[str, Any]:
        """In the sync sweep: the same check, and LOCK_ACTION=close closes the bridge's positions once."""
        if not self.rules.active:
            return {"status": "off"}
        pl = day_pl(self._broker.positions(deadline))
        locked = self._check(pl, deadline, self._controls.switch_document(fresh=True))
        summary: dict[str, Any] = {"status": "ok", "pl": float(pl) if pl is not None else None}
        if not locked or not locked.get("day"):
            return summary
        summary["locked"] = {"rule": locked.get("rule"), "reason": locked.get("reason")}
        if self.rules.lock_action == "close" and self.closer is not None and self._claim_close():
            summary["closed"] = self.closer.run("bridge", deadline, f"{locked.get('rule')}: day locked")
        return summary

    def lift(self, by: str, deadline: Deadline) -> dict[str, Any]:
        """An operator lifts today's lock for the rest of the day (logged and journaled)."""
        current = self._controls.paused()
        if not current or not current.get("day"):
            return {"status": "not_locked"}
        self._controls.resume()
        text = f"Day lock LIFTED by {by}: {current.get('rule')} ({current.get('reason')}); entries allowed again today"
        log_event(log, logging.WARNING, "day_lock_lifted", text, rule=current.get("rule"))
        self._tell(Outcome.DAY_LOCK_LIFTED, "day_lock_lifted", text, {"rule": current.get("rule"), "by": by}, deadline)
        return {"status": "lifted", "rule": current.get("rule")}

    def _check(self, pl: Decimal | None, deadline: Deadline, switch: dict[str, Any]) -> dict[str, Any] | None:
        """Lock when a line is crossed (the first to see it writes and tells); the lock, if any, that applies."""
        today = self._today()
        if switch.get("paused") and switch.get("day") == today:
            return switch
        if pl is None:
            return None
        armed = switch.get("trail_armed") == today
        if self._trail_arms(pl) and not armed:
            armed = self._controls.swap_switch(lambda data: _armed(data, today)) is not None or armed
        crossed = self._crossed(pl, armed or self._trail_arms(pl))
        if crossed is None:
            return None
        rule, reason = crossed
        record = {"paused": True, "rule": rule, "reason": reason, "day": today, "pl": str(pl),
                  "at": self._clock.now().isoformat()}
        written = self._controls.swap_switch(lambda data: _locked(data, record, today))
        if written is not None:
            text = f"Day LOCKED: {reason}. New entries are refused until tomorrow; exits stay allowed."
            log_event(log, logging.ERROR, "day_locked", text, rule=rule)
            self._tell(Outcome.DAY_LOCKED, "day_locked", text, {"rule": rule, "pl": float(pl)}, deadline)
            return written
        return self._controls.paused()  # another instance locked first, or the lock was lifted today

    def _crossed(self, pl: Decimal, armed: bool) -> tuple[str, str] | None:
        rules = self.rules
        if rules.max_daily_loss is not None and pl <= -rules.max_daily_loss:
            return "MAX_DAILY_LOSS", f"the day's P&L {rupees(pl)} is past MAX_DAILY_LOSS ₹{rules.max_daily_loss:,}"
        if rules.daily_profit_lock is not None and pl >= rules.daily_profit_lock:
            line = rules.daily_profit_lock
            return "DAILY_PROFIT_LOCK", f"the day's P&L {rupees(pl)} reached DAILY_PROFIT_LOCK ₹{line:,}"
        if rules.profit_trail_keep is not None and armed and pl <= rules.profit_trail_keep:
            return "PROFIT_TRAIL", (
                f"the day's P&L {rupees(pl)} fell back to PROFIT_TRAIL_KEEP ₹{rules.profit_trail_keep:,} "
                f"after reaching PROFIT_TRAIL_FROM ₹{rules.profit_trail_from:,}"
            )
        return None

    def _trail_arms(self, pl: Decimal) -> bool:
        return self.rules.profit_trail_from is not None and pl >= self.rules.profit_trail_from

    def _claim_close(self) -> bool:
        """The one sweep that closes the locked day's positions: a compare-and-swap on the lock."""
        today = self._today()

        def claim(data: dict[str, Any] | None) -> dict[str, Any] | None:
            if not data or data.get("day") != today or data.get("closing"):
                return None
            return {**data, "closing": self._clock.now().isoformat()}

        return self._controls.swap_switch(claim) is not None

    def _tell(self, outcome: Outcome, kind: str, text: str, fields: dict[str, Any], deadline: Deadline) -> None:
        record = AlertRecord(f"lock-{self._today()}", outcome=outcome)
        record.trade = {"text": text, **fields}
        self._journal.record(record)
        if self._notifications is not None:
            self._notifications.notify(Notification(kind, text, fields), deadline)

    def _today(self) -> str:
        return self._clock.now().astimezone(IST).date().isoformat()


def _locked(data: dict[str, Any] | None, record: dict[str, Any], today: str) -> dict[str, Any] | None:
    """The switch with today's lock, unless the day is locked already or its lock was lifted today."""
    data = data or {}
    if (data.get("paused") and data.get("day") == today) or data.get("lifted") == today:
        return None
    return {**{k: v for k, v in data.items() if k == "trail_armed"}, **record}


def _armed(data: dict[str, Any] | None, today: str) -> dict[str, Any] | None:
    """The switch marked: today's P&L reached PROFIT_TRAIL_FROM (kept by a restart, seen by every instance)."""
    data = data or {}
    return None if data.get("trail_armed") == today else {**data, "trail_armed": today}
