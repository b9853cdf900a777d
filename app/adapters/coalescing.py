"""Fewer broker calls under bursts: concurrent quote requests share calls, positions share a window.

A strategy that trades several contracts at one bar close sends its alerts together, and
Fyers allows 10 requests a second. Quotes are batched with no added wait: the first request
goes out at once; requests that arrive while a call is in flight are gathered (up to 50
symbols, Fyers's limit) into the next call. A burst of N alerts then costs about N + 2 broker
calls (N orders, one or two quote calls) instead of 2N. The positions book is shared by
callers within a short window (single flight). A shared call runs at the highest priority of
its members, so an exit's read never waits at an entry's place in the pacer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable
from app.domain.orders import BrokerOrder, Fill, Margin, OrderRequest, PlacedOrder, Position, PositionExit, Priority
from app.ports import Broker

MAX_SYMBOLS = 50  # Fyers's quotes call takes at most 50 symbols
POSITIONS_FRESH_FOR = 0.5  # seconds a positions book may be shared


@dataclass
class _Batch:
    symbols: set[str] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)
    prices: dict[str, Decimal] = field(default_factory=dict)
    error: BaseException | None = None
    deadline: Deadline | None = None  # the leader's
    priority: Priority = Priority.QUOTE  # the highest (lowest value) of its members'


class CoalescingBroker(Broker):
    """Wraps a broker; orders pass straight through, reads are shared."""

    def __init__(self, inner: Broker):
        self._inner = inner
        self.name = inner.name
        self._lock = threading.Lock()
        self._running: _Batch | None = None  # the quote call in flight
        self._waiting: _Batch | None = None  # gathering for the next call
        self._positions_lock = threading.Lock()
        self._positions: tuple[float, list[Position]] | None = None

    @property
    def inner(self) -> Broker:
        """The wrapped broker (the paper price control needs the paper broker itself)."""
        return self._inner

    def quotes(
        self, symbols: Sequence[str], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> dict[str, Decimal]:
        """LTPs, fetched with whatever other alerts need at the same moment."""
        wanted = set(symbols)
        ahead: _Batch | None = None
        with self._lock:
            if self._running is None:
                batch = self._running = _Batch(symbols=wanted, deadline=deadline, priority=priority)
                leader = True
            elif self._waiting is not None and len(self._waiting.symbols | wanted) <= MAX_SYMBOLS:
                batch = self._waiting
                batch.symbols |= wanted
                batch.priority = min(batch.priority, priority)  # read by the leader when it calls
                leader = False
            else:
                # The next call: this caller leads it once the call in flight has finished.
                # Every batch is led by one of its own members, so nobody's answer waits for
                # calls made for others.
                batch = self._waiting = _Batch(symbols=wanted, deadline=deadline, priority=priority)
                ahead, leader = self._running, True
        if leader:
            self._lead(batch, ahead, deadline)
        elif not batch.done.wait(timeout=deadline.remaining()):
            raise BrokerUnavailable("the shared quote request did not finish in time")
        if batch.error is not None:
            raise batch.error
        return {symbol: batch.prices[symbol] for symbol in wanted if symbol in batch.prices}

    def _lead(self, batch: _Batch, ahead: _Batch | None, deadline: Deadline) -> None:
        if ahead is not None:
            ahead.done.wait(timeout=deadline.remaining())
        with self._lock:
            if self._waiting is batch:
                self._waiting = None  # closed: later callers gather for the next call
            self._running = batch
        try:
            batch.prices = self._inner.quotes(sorted(batch.symbols), deadline, priority=batch.priority)
        except BaseException as error:  # handed to every member, re-raised there
            batch.error = error
        finally:
            batch.done.set()
            with self._lock:
                if self._running is batch:
                    self._running = None

    def positions(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Position]:
        """Net positions, shared by callers within half a second."""
        if priority == Priority.EXIT:
            # An exit does not queue behind a shared read that waits in the pacer at an
            # entry's priority: it shares only a fresh book, else reads its own.
            fresh = self._fresh_positions()
            return fresh if fresh is not None else self._fetch_positions(deadline, priority)
        with self._positions_lock:
            fresh = self._fresh_positions()
            return fresh if fresh is not None else self._fetch_positions(deadline, priority)

    def _fresh_positions(self) -> list[Position] | None:
        cached = self._positions
        if cached is not None and time.monotonic() - cached[0] < POSITIONS_FRESH_FOR:
            return list(cached[1])
        return None

    def _fetch_positions(self, deadline: Deadline, priority: Priority) -> list[Position]:
        fetched = self._inner.positions(deadline, priority=priority)
        self._positions = (time.monotonic(), fetched)
        return list(fetched)

    def forget_positions(self) -> None:
        """Drop the shared book (an order just changed it)."""
        with self._positions_lock:
            self._positions = None

    def place_order(
        self, order: OrderRequest, deadline: Deadline, *, priority: Priority | None = None
    ) -> PlacedOrder:
        """Straight through; the positions book is stale afterwards."""
        try:
            return self._inner.place_order(order, deadline, priority=priority)
        finally:
            self.forget_positions()

    def exit_position(
        self, position: Position, deadline: Deadline, *, priority: Priority = Priority.EXIT
    ) -> PositionExit:
        """Straight through; the positions book is stale afterwards."""
        try:
            return self._inner.exit_position(position, deadline, priority=priority)
        finally:
            self.forget_positions()

    def find_order(
        self, order: OrderRequest, since: datetime, deadline: Deadline, *, priority: Priority | None = None
    ) -> BrokerOrder | None:
        """Straight through."""
        return self._inner.find_order(order, since, deadline, priority=priority)

    def order_book(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[BrokerOrder]:
        """Straight through."""
        return self._inner.order_book(deadline, priority=priority)

    def order_by_id(
        self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.LOOKUP
    ) -> BrokerOrder | None:
        """Straight through."""
        return self._inner.order_by_id(order_id, deadline, priority=priority)

    def fills(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Fill]:
        """Straight through."""
        return self._inner.fills(deadline, priority=priority)

    def cancel_order(self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.EXIT) -> None:
        """Straight through; the positions book is stale afterwards."""
        try:
            self._inner.cancel_order(order_id, deadline, priority=priority)
        finally:
            self.forget_positions()

    def readiness(self) -> tuple[bool, str]:
        """Straight through."""
        return self._inner.readiness()

    def market_open(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> bool | None:
        """Straight through (the adapter caches it)."""
        return self._inner.market_open(deadline, priority=priority)

    def margin(
        self, orders: list[OrderRequest], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> Margin | None:
        """Straight through: each alert asks about its own orders."""
        return self._inner.margin(orders, deadline, priority=priority)

    def rate_limited_today(self) -> int:
        """Straight through."""
        return self._inner.rate_limited_today()

    def close(self) -> None:
        """Close the wrapped broker."""
        close = getattr(self._inner, "close", None)
        if close:
            close()
