"""Close everything, once: cancel the working orders in scope, then exit every open position in scope.

`closeall/<IST day>.json` records each exit and each cancel the day's runs sent. A run claims
what it will send by compare-and-swap on that document before it sends anything, so a repeat
call, two concurrent calls or two instances send each exit and each cancel once. The claim
reads the document first and the broker's book second: a record settled before the read is
judged against a book that is newer than it.

When a position is exited again (docs/operations.md, "Close everything"):
- never recorded, or recorded as certainly not sent (`not_sent`), refused (`rejected`) or
  `nothing_to_close`: exited now;
- recorded `closed` (Fyers said so): an open position now was reopened by new trades, so exited;
- recorded `sending`, `pending` or `unknown` (the exit may still be working or in flight): exited
  again only when its net differs from the net that exit was sent for (new trades, or part of a
  pending exit filled); Fyers's exit call cancels the position's working orders first, an earlier
  pending counter order among them. With the same net it is skipped and reported.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from app.deadline import Deadline
from app.domain.calendar import TradingCalendar
from app.domain.contracts import IST
from app.domain.errors import BridgeError, InvalidRequest, OrderRejected, StateUnavailable
from app.domain.orders import BrokerOrder, Position, Priority
from app.domain.trades import Trade
from app.logs import log_event
from app.ports import Broker, Clock, Notification, StateStore
from app.services.journal import Journal
from app.services.notify import Notifications
from app.services.record import AlertRecord, Outcome
from app.services.trade_store import TradeStore

log = logging.getLogger(__name__)

SCOPES = ("bridge", "all")
SWAP_ATTEMPTS = 8  # a lost swap re-reads; runs and their settlements may contend briefly
EXIT_IN_FLIGHT = frozenset({"sending", "pending", "unknown"})  # may still close the position: not sent again
CANCEL_SENT = frozenset({"sending", "cancelled", "unknown"})
# An NSE or BSE option or future (Fyers writes equities with a -EQ/-BE series suffix): scope=all
# closes derivatives only, never the trader's stocks.
FNO = re.compile(r"^(NSE|BSE):[A-Z0-9&]+(CE|PE|FUT)$")


@dataclass(frozen=True)
class InScope:
    """The open positions and the working orders a run would close now."""

    positions: list[Position]
    orders: list[BrokerOrder]


@dataclass
class Claim:
    """What this run won the right to send, and what it leaves to an earlier run."""

    exits: list[Position] = field(default_factory=list)
    cancels: list[BrokerOrder] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


class CloseAll:
    """Cancels working orders and exits open positions, each once per day, and tells the trader."""

    def __init__(
        self,
        trades: TradeStore,
        broker: Broker,
        store: StateStore,
        journal: Journal,
        notifications: Notifications | None,
        clock: Clock,
        calendar: TradingCalendar | None = None,
        square_off_at: time | None = None,
    ):
        self._trades = trades
        self._broker = broker
        self._store = store
        self._journal = journal
        self._notifications = notifications
        self._clock = clock
        self._calendar = calendar
        self.square_off_at = square_off_at

    def preview(self, scope: str, deadline: Deadline) -> dict[str, Any]:
        """What a run would close now (nothing is sent): the open positions and working orders in scope."""
        found = self._in_scope(_checked(scope), self._trades.day(self._today()), deadline)
        return {
            "status": "ok",
            "scope": scope,
            "positions": [
                {"position_id": p.position_id, "net_qty": p.net_qty, "pl": _float(p.pl)} for p in found.positions
            ],
            "orders": [
                {"order_id": o.order_id, "symbol": o.symbol, "side": o.side.name, "qty": o.qty, "status": o.status}
                for o in found.orders
            ],
        }

    def run(self, scope: str, deadline: Deadline, reason: str) -> dict[str, Any]:
        """Cancel the working orders, then exit the open positions in scope ("bridge" or "all"), each once."""
        day = self._today()
        claim = self._claim(day, _checked(scope), reason, deadline)
        summary: dict[str, Any] = {"status": "ok", "scope": scope, "reason": reason, "cancelled": [], "exits": []}
        summary.update(skipped=claim.skipped, errors=[])
        for order in claim.cancels:
            self._cancel(day, order, deadline, summary)
        for position in claim.exits:
            self._exit(day, position, deadline, summary)
        self._tell(summary, deadline)
        return summary

    def square_off(self, deadline: Deadline) -> dict[str, Any]:
        """The timed square-off: close the bridge's positions once SQUARE_OFF_AT has passed on a trading day."""
        if self.square_off_at is None:
            return {"status": "not_configured", "message": "SQUARE_OFF_AT is not set: the square-off job does nothing"}
        now = self._clock.now().astimezone(IST)
        if self._calendar is not None and not self._calendar.is_trading_day(now.date()):
            return {"status": "not_a_trading_day", "date": now.date().isoformat()}
        if now.time() < self.square_off_at:
            return {"status": "not_yet", "square_off_at": f"{self.square_off_at:%H:%M}", "now": f"{now:%H:%M}"}
        return self.run("bridge", deadline, "square-off")

    def _in_scope(self, scope: str, trades: list[Trade], deadline: Deadline) -> InScope:
        rows = self._broker.order_book(deadline, priority=Priority.EXIT)
        positions = [p for p in self._broker.positions(deadline, priority=Priority.EXIT) if p.net_qty]
        if scope == "all":
            return InScope(
                [p for p in positions if FNO.match(p.symbol)], [r for r in rows if r.working and FNO.match(r.symbol)]
            )
        followed = {(t.symbol, t.product_type) for t in trades}
        ours = [r for r in rows if r.working and any(t.role_of(r) is not None for t in trades)]
        return InScope([p for p in positions if (p.symbol, p.product_type) in followed], ours)

    def _claim(self, day: date, scope: str, reason: str, deadline: Deadline) -> Claim:
        """Claim this run's exits and cancels in the day's record; a lost swap reads the record and the book again."""
        key = _key(day)
        trades = self._trades.day(day) if scope == "bridge" else []
        for _ in range(SWAP_ATTEMPTS):
            found = self._store.get(key)  # before the book: see the module docstring
            ledger = found.data if found else {"day": day.isoformat(), "exits": {}, "cancels": {}}
            claim = decide(ledger, self._in_scope(scope, trades, deadline))
            if not claim.exits and not claim.cancels:
                return claim
            claimed = _with_claims(ledger, claim, self._clock.now().isoformat(), f"{scope}: {reason}")
            if found is None:
                written = self._store.create(key, claimed)
            else:
                written = self._store.replace(key, claimed, found.generation)
            if written is not None:
                return claim
        raise StateUnavailable("close-all could not record its claim: other runs kept changing it; try again")

    def _cancel(self, day: date, order: BrokerOrder, deadline: Deadline, summary: dict[str, Any]) -> None:
        try:
            self._broker.cancel_order(order.order_id, deadline, priority=Priority.EXIT)
        except BridgeError as error:  # filled or ended meanwhile, or unreachable: recorded, the run goes on
            status = "refused" if isinstance(error, OrderRejected) else _unsent_or_unknown(error)
            self._settle(day, "cancels", order.order_id, status, error.message)
            summary["errors"].append({"order_id": order.order_id, "status": status, "message": error.message})
            return
        self._settle(day, "cancels", order.order_id, "cancelled", "")
        summary["cancelled"].append(order.order_id)

    def _exit(self, day: date, position: Position, deadline: Deadline, summary: dict[str, Any]) -> None:
        try:
            done = self._broker.exit_position(position, deadline, priority=Priority.EXIT)
            status, message = done.status, done.message
        except BridgeError as error:
            status = "rejected" if isinstance(error, OrderRejected) else _unsent_or_unknown(error)
            message = error.message
            summary["errors"].append({"position_id": position.position_id, "status": status, "message": message})
        self._settle(day, "exits", position.position_id, status, message)
        exit_told = {"position_id": position.position_id, "status": status, "message": message}
        summary["exits"].append({**exit_told, "net_qty": position.net_qty})

    def _settle(self, day: date, section: str, item: str, status: str, message: str) -> None:
        """Record what became of one claimed exit or cancel."""
        key = _key(day)
        for _ in range(SWAP_ATTEMPTS):
            found = self._store.get(key)
            if found is None:
                break
            ledger = dict(found.data)
            ledger[section] = {
                **ledger[section],
                item: {**ledger[section][item], "status": status, "message": message[:200]},
            }
            if self._store.replace(key, ledger, found.generation) is not None:
                return
        # The claim stays `sending`: a later run treats it as unknown and never sends it blindly.
        log_event(log, logging.ERROR, "close_all_unrecorded", f"could not record {section[:-1]} {item}: {status}")

    def _tell(self, summary: dict[str, Any], deadline: Deadline) -> None:
        """Journal, log and notify a run that found anything to do."""
        if not (summary["cancelled"] or summary["exits"] or summary["skipped"] or summary["errors"]):
            log_event(log, logging.INFO, "close_all", f"close-all ({summary['reason']}): nothing open in scope")
            return
        text = describe(summary)
        record = AlertRecord("close-all", outcome=Outcome.CLOSE_ALL, message_read=True)
        record.trade = {"event": "close_all", "text": text, **summary}
        self._journal.record(record)
        level = logging.ERROR if summary["errors"] else logging.WARNING
        log_event(log, level, "close_all", text, scope=summary["scope"])
        if self._notifications is not None:
            self._notifications.notify(Notification("close_all", text, summary), deadline)

    def _today(self) -> date:
        return self._clock.now().astimezone(IST).date()


def decide(ledger: dict[str, Any], found: InScope) -> Claim:
    """Which exits and cancels this run sends, given the day's record (see the module docstring)."""
    claim = Claim()
    held = {(p.symbol, p.product_type): p.net_qty for p in found.positions}
    for order in found.orders:
        before = ledger["cancels"].get(order.order_id)
        if before and before["status"] in CANCEL_SENT:
            claim.skipped.append(
                {"order_id": order.order_id, "status": before["status"], "message": "cancel sent before"}
            )
        elif not _protects(order, held):
            claim.cancels.append(order)
    for position in found.positions:
        before = ledger["exits"].get(position.position_id)
        if before and before["status"] in EXIT_IN_FLIGHT and before["net_qty"] == position.net_qty:
            message = f"an exit of net {position.net_qty} was sent at {before['at'][11:19]} and may still be working"
            claim.skipped.append({"position_id": position.position_id, "status": before["status"], "message": message})
        else:
            claim.exits.append(position)
    return claim


def describe(summary: dict[str, Any]) -> str:
    """A run in a few words for a phone screen."""
    exits = ", ".join(f"{e['position_id']} {e['status']}" for e in summary["exits"]) or "none"
    parts = [f"CLOSE ALL ({summary['reason']}, scope {summary['scope']}): exits {exits}"]
    parts.append(f"cancelled {len(summary['cancelled'])} order(s)")
    if summary["skipped"]:
        parts.append(f"{len(summary['skipped'])} sent before, not sent again")
    if summary["errors"]:
        failures = "; ".join(f"{e.get('position_id') or e.get('order_id')}: {e['message']}" for e in summary["errors"])
        parts.append(f"{len(summary['errors'])} FAILED ({failures}). Check Fyers now")
    return "; ".join(parts)


def _protects(order: BrokerOrder, held: dict[tuple[str, str], int]) -> bool:
    """A working order against an open position (its stop, its target): left to the exit call.

    Fyers's exit (pending_orders_cancel) cancels it with the exit; cancelled first, a refused exit
    would leave the position with no stop. An order on the position's own side adds to it: cancelled first.
    """
    net = held.get((order.symbol, order.product_type), 0)
    return net != 0 and int(order.side) == (-1 if net > 0 else 1)


def _with_claims(ledger: dict[str, Any], claim: Claim, at: str, why: str) -> dict[str, Any]:
    exits = dict(ledger["exits"])
    for p in claim.exits:
        exits[p.position_id] = {"status": "sending", "net_qty": p.net_qty, "at": at, "why": why}
    cancels = dict(ledger["cancels"])
    for o in claim.cancels:
        cancels[o.order_id] = {"status": "sending", "at": at, "why": why}
    return {**ledger, "exits": exits, "cancels": cancels}


def _unsent_or_unknown(error: BridgeError) -> str:
    """Certainly not sent (a later run sends it), or perhaps sent (never sent blindly again)."""
    return "not_sent" if error.order_never_left else "unknown"


def _checked(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidRequest("scope", f"scope must be bridge or all, got {str(scope)[:40]!r}", scope=str(scope)[:40])
    return scope


def _key(day: date) -> str:
    return f"closeall/{day.isoformat()}.json"


def _float(value: Any) -> float | None:
    return float(value) + 0.0 if value is not None else None  # + 0.0: never "-0.0"
