"""Owning the trade after the order: protection at the broker, fills, stop and target hits, told once.

Two doors, one path. Fyers's postback is a doorbell: its body is never believed, the order is
read back from the book by id. The sweep (POST /sync, a Scheduler job each minute of the
session) reads the whole book, the tradebook and the positions. Both hand rows to
`app.domain.trades.follow`, so either alone brings the journal to the same place.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import BridgeError, BrokerUnavailable, LoginRequired, OrderOutcomeUnknown
from app.domain.orders import (
    TAGLESS_PRODUCTS,
    BrokerOrder,
    OrderRequest,
    Position,
    Priority,
)
from app.domain.pricing import Exits
from app.domain.trade_orders import claimed, protection_orders, unclaimed, with_fills
from app.domain.trades import Event, Protection, Trade, follow
from app.logs import log_event
from app.ports import Broker, Clock
from app.services.books import StrategyBooks
from app.services.trade_news import TradeNews
from app.services.trade_store import TradeStore

log = logging.getLogger(__name__)

ORDER_ID = re.compile(r"^[0-9A-Za-z-]{1,40}$")
POSTBACK_READ_EVERY = 2.0  # seconds: one order is read back at most this often, however often the bell rings
FILING_WAIT = 1.0  # seconds the answer waits, at least, for the trade's filing (a state-store write)
FILING_LOOKS, FILING_LOOK_EVERY = 3, 0.25  # a postback that comes before the filing looks again, briefly
POSTBACK_READS_PER_MINUTE = 30  # forged bells cannot spend more of Fyers's rate budget than this


@dataclass(frozen=True)
class Doorbell:
    """What a postback claims, before anything is believed: an order id, and perhaps its status."""

    order_id: str
    status: str | None = None
    filled_qty: int | None = None
    tag: str | None = None  # the order tag it claims: only a hint where to look


class TradeDesk:
    """Follows every entry the bridge placed until it is closed, and keeps it protected."""

    def __init__(
        self,
        trades: TradeStore,
        broker: Broker,
        news: TradeNews,
        clock: Clock,
        protection: Protection = Protection.LEGS,
        on_failure: str = "notify",
        books: StrategyBooks | None = None,
    ):
        self._trades = trades
        self._books = books
        self._broker = broker
        self._news = news
        self._clock = clock
        self.protection = protection
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._read_at: dict[str, float] = {}
        self._reads: list[float] = []
        self._filing = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trade-filing")

    def protection_of(self, product_type: str, exits: Exits | None) -> Protection:
        """How an entry of this product is protected at the broker (CO/BO by their own legs)."""
        if exits is None:
            return Protection.NONE
        return Protection.BRACKET if product_type in TAGLESS_PRODUCTS else self.protection

    def file(
        self,
        alert_id: str,
        strategy: str | None,
        order: OrderRequest,
        exits: Exits | None,
        underlying: str | None = None,
    ) -> Future | None:
        """Start filing an entry that stands (or may), beside the alert's own writes; wait with `filed`.

        A strategy's order (an exit too) goes into its book; an exit files no trade.
        """
        if order.closing and strategy and order.tag:
            self._book(strategy, order, underlying or "")
        if order.closing or not order.tag:  # an exit, or a CO/BO (tagless: its legs are the broker's)
            return None
        trade = Trade(
            tag=order.tag,
            alert_id=alert_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            product_type=order.product_type,
            protection=self.protection_of(order.product_type, exits),
            stop_loss=exits.stop_loss if exits else None,
            take_profit=exits.take_profit if exits else None,
            strategy=strategy,
        )
        return self._filing.submit(self._file_entry, self._today(), trade, order, underlying or "")

    def _file_entry(self, day: date, trade: Trade, order: OrderRequest, underlying: str) -> bool:
        if trade.strategy:
            self._book(trade.strategy, order, underlying)
        return self._trades.create(day, trade)

    def _book(self, strategy: str, order: OrderRequest, underlying: str) -> None:
        if self._books is None:
            return
        try:
            self._books.record(strategy, order, underlying)
        except Exception:  # the order stands whatever the book says; a book missing it is seen in GET /books
            log_event(log, logging.ERROR, "book_failed", f"{strategy}'s book missed {order.side.name} {order.symbol}")

    def _follow_book(self, trade: Trade, events: list[tuple[Event, dict[str, Any]]]) -> None:
        if self._books is None or not trade.strategy:
            return
        try:
            self._books.follow(trade, events)
        except Exception:  # never in the way of protecting the trade; the sweep's reconcile shrinks the book
            log_event(log, logging.ERROR, "book_failed", f"{trade.strategy}'s book missed what became of {trade.tag}")

    def summary(self, order: OrderRequest, exits: Exits | None) -> dict[str, Any]:
        """What the answer and the journal say protects this entry."""
        return _summary(self.protection_of(order.product_type, exits), exits)

    @staticmethod
    def filed(filings: list[Future], timeout: float) -> None:
        """Wait for the filings before the answer goes (no write may outlive it on Cloud Run)."""
        for filing in filings:
            try:
                filing.result(timeout=max(timeout, FILING_WAIT))
            except Exception:  # the order stands: the sweep still finds it by its tag in the book
                log.exception("could not file the trade to follow")

    def sync(self, deadline: Deadline) -> dict[str, Any]:
        """Read the book, the tradebook and the positions once; bring every open trade up to date."""
        day = self._today()
        trades = [t for t in self._trades.day(day) if not t.final]
        if not trades:
            return {"status": "ok", "followed": 0, "events": []}
        book = self._broker.order_book(deadline)
        fills = self._broker.fills(deadline)
        positions = self._broker.positions(deadline)
        rows = with_fills(book, fills)
        held = {(p.symbol, p.product_type) for p in positions if p.net_qty}
        told: list[dict[str, Any]] = []
        for trade in trades:
            open_now = (trade.symbol, trade.product_type) in held
            told += self._advance(day, trade.tag, rows, open_now, deadline)
        return {"status": "ok", "followed": len(trades), "events": told}

    def postback(self, bell: Doorbell, deadline: Deadline) -> dict[str, Any]:
        """Ring the bell for one order: read it back by id, and only then believe anything."""
        day = self._today()
        trade = self._trade_for(day, bell)
        if trade is None:
            return {"status": "ignored", "reason": "not an order the bridge follows"}
        known = trade.orders.get(bell.order_id)
        if known is not None and (known.status, known.filled_qty) == (bell.status, bell.filled_qty):
            return {"status": "unchanged"}
        if not self._may_read(bell.order_id):
            return {"status": "later", "reason": "read back recently; the sweep settles it"}
        row = self._broker.order_by_id(bell.order_id, deadline, priority=Priority.LOOKUP)
        if row is None:
            return {"status": "ignored", "reason": "the order book has no such order"}
        events = self._advance(day, trade.tag, [row], None, deadline)
        return {"status": "ok", "events": events}

    def _advance(
        self, day: date, tag: str, rows: list[BrokerOrder], open_now: bool | None, deadline: Deadline
    ) -> list[dict[str, Any]]:
        """Swap in what the rows say; the instance that wins the swap tells and acts on it."""
        step = self._trades.update(day, tag, lambda trade: claimed(follow(trade, rows, open_now)))
        if step is None:
            return []
        told = [self._news.tell(step.trade, event, facts, deadline) for event, facts in step.events]
        self._follow_book(step.trade, step.events)
        for order_id in step.cancel:
            self._cancel(order_id, deadline)
        if step.roles:
            told += self._protect(day, step.trade, step.roles, deadline)
        if any(event is Event.PROTECTION_FAILED for event, _ in step.events):
            told += self._failed_protection(step.trade, deadline)
        return told

    def _protect(self, day: date, trade: Trade, roles: tuple[str, ...], deadline: Deadline) -> list[dict[str, Any]]:
        """PROTECTION=orders: a stop order and a limit target for the filled quantity, each sent once."""
        told = []
        for role, request in protection_orders(trade, roles).items():
            try:
                self._broker.place_order(request, deadline, priority=Priority.EXIT)
            except OrderOutcomeUnknown:
                continue  # it may stand: the next sweep finds it by its tag, it is never sent again
            except (BrokerUnavailable, LoginRequired) as error:
                # Certainly not sent: give the claim back so the next sweep sends it.
                self._trades.update(day, trade.tag, lambda t, role=role: unclaimed(t, role))
                log_event(log, logging.WARNING, "protection_later", f"{role} order not sent yet: {error.message}")
            except BridgeError as error:
                facts = {"mode": trade.protection.value, "reason": f"{role} order refused: {error.message}"}
                told.append(self._news.tell(trade, Event.PROTECTION_FAILED, facts, deadline))
                told += self._failed_protection(trade, deadline)
        return told

    def _failed_protection(self, trade: Trade, deadline: Deadline) -> list[dict[str, Any]]:
        """PROTECTION_FAILURE=exit: close the unprotected position rather than leave it open."""
        if self._on_failure != "exit" or not trade.filled_qty:
            return []
        net = trade.filled_qty * int(trade.side)
        try:
            done = self._broker.exit_position(Position(trade.symbol, net, trade.product_type), deadline)
        except BridgeError as error:
            log_event(log, logging.ERROR, "protection_exit_failed", f"could not close {trade.symbol}: {error.message}")
            return []
        return [self._news.exited(trade, done.status, done.message, deadline)]

    def _cancel(self, order_id: str, deadline: Deadline) -> None:
        try:
            self._broker.cancel_order(order_id, deadline)
        except BridgeError as error:  # filled meanwhile, or unknown: the next sweep reads what happened
            log_event(log, logging.WARNING, "cancel_failed", f"could not cancel {order_id}: {error.message}")

    def _trade_for(self, day: date, bell: Doorbell) -> Trade | None:
        """The trade the bell names: by its tag (waiting briefly: Fyers may ring before the alert has filed it)."""
        for attempt in range(FILING_LOOKS if bell.tag else 1):
            trade = (self._trades.get(day, bell.tag) if bell.tag else None) or self._trade_of(day, bell.order_id)
            if trade is not None or attempt == FILING_LOOKS - 1:
                return trade
            time.sleep(FILING_LOOK_EVERY)
        return None

    def _trade_of(self, day: date, order_id: str) -> Trade | None:
        """The open trade an order id belongs to: its entry, an order seen before, or a leg of its entry."""
        for trade in self._trades.day(day):
            if trade.final:
                continue
            ids = set(trade.orders) | ({trade.entry_id} if trade.entry_id else set())
            if order_id in ids or any(order_id.startswith(f"{oid}-") for oid in ids):
                return trade
        return None

    def _may_read(self, order_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._reads = [at for at in self._reads if now - at < 60]
            if now - self._read_at.get(order_id, -1e9) < POSTBACK_READ_EVERY:
                return False
            if len(self._reads) >= POSTBACK_READS_PER_MINUTE:
                return False
            self._read_at[order_id] = now
            self._reads.append(now)
            return True

    def _today(self) -> date:
        return self._clock.now().astimezone(IST).date()


def _summary(protection: Protection, exits: Exits | None) -> dict[str, Any]:
    """What the answer and the journal say protects the position."""
    if protection is Protection.NONE:
        why = "no stop-loss or target" if exits is None else "PROTECTION=none"
        return {"mode": "none", "message": f"nothing at the broker protects this position ({why})"}
    where = {
        Protection.LEGS: "TP/SL legs on the order at the broker",
        Protection.ORDERS: "a stop order and a target order placed at the broker after the fill",
        Protection.BRACKET: "the CO/BO order's own legs at the broker",
    }[protection]
    assert exits is not None
    return {
        "mode": protection.value,
        "stop_loss": float(exits.stop_loss),
        "take_profit": float(exits.take_profit),
        "message": f"protected by {where}; checked in the order book by the next sync or postback",
    }
