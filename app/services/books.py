"""The strategies' position books in the state store, changed only by compare-and-swap, and their reconcile.

`books/<strategy>.json` holds a `Book` (app/domain/books.py). Orders of a strategy alert are
applied when they stand (or may); an order the exchange rejected, or that never filled, is undone;
the sweep (POST /sync) reconciles every book to Fyers's positions and reports each change.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Callable

from app.deadline import Deadline
from app.domain.books import Book, apply, book_as_dict, book_from_dict, reconcile, refit, undo
from app.domain.errors import StateUnavailable
from app.domain.orders import BrokerOrder, OrderRequest, Position
from app.domain.trades import Event, Trade
from app.logs import log_event
from app.ports import Clock, Notification, StateStore
from app.services.journal import Journal
from app.services.notify import Notifications
from app.services.record import AlertRecord, Outcome

log = logging.getLogger(__name__)

PREFIX = "books/"
# A strategy's name as its document's name where it is safe, else a hash of it. At most 59 characters,
# so that its journal record's alert id, "book-<name>", stays within the journal's 64.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,59}$")
ENTRY_ENDS = frozenset({Event.REJECTED, Event.CANCELLED, Event.EXPIRED})
SETTLED = frozenset({"traded", "rejected", "cancelled", "expired"})  # an entry order that can fill no more
SWAP_ATTEMPTS = 8  # a lost swap re-reads and re-applies (the change is idempotent per tag)


class StrategyBooks:
    """Reads and swaps the strategies' books; reconciles them to Fyers's positions."""

    def __init__(self, store: StateStore, journal: Journal, notifications: Notifications | None, clock: Clock):
        self._store = store
        self._journal = journal
        self._notifications = notifications
        self._clock = clock

    def book(self, strategy: str) -> Book:
        """The strategy's book (an empty one if it holds nothing yet)."""
        found = self._store.get(self._key(strategy))
        return book_from_dict(found.data) if found else Book(strategy)

    def record(self, strategy: str, order: OrderRequest, underlying: str) -> None:
        """Apply an order of the strategy that stands or may stand (untagged orders cannot be told apart: skipped)."""
        if not order.tag:
            return
        signed = order.qty * int(order.side)
        now = self._clock.now()
        self._swap(
            strategy, lambda book: apply(book, order.tag, order.symbol, order.product_type, underlying, signed, now)
        )

    def undo(self, strategy: str, tag: str) -> None:
        """Reverse one order's application: the exchange rejected it, or it ended unfilled."""
        self._swap(strategy, lambda book: undo(book, tag))

    def follow(self, trade: Trade, events: list[tuple[Event, dict[str, Any]]]) -> None:
        """Keep the strategy's book with what became of its entry: never filled, partly filled, stopped out."""
        if not trade.strategy:
            return
        ended = [event for event, _ in events if event in ENTRY_ENDS]
        entries = [seen for seen in trade.orders.values() if seen.role == "entry"]
        if ended and entries and all(seen.status in SETTLED for seen in entries):
            unfilled = trade.qty - trade.filled_qty
            if not trade.filled_qty:
                self.undo(trade.strategy, trade.tag)
            elif unfilled > 0:
                self._applied(trade.strategy, trade, f"{trade.tag}:unfilled", -unfilled * int(trade.side))
        for event, facts in events:
            if event in (Event.STOP_HIT, Event.TARGET_HIT):
                self._applied(trade.strategy, trade, f"{trade.tag}:exit", -int(facts["qty"]) * int(trade.side))

    def _applied(self, strategy: str, trade: Trade, tag: str, signed: int) -> None:
        """Apply a change the broker made to a strategy's trade (the holding's underlying is already known)."""
        self._swap(strategy, lambda book: apply(book, tag, trade.symbol, trade.product_type, "", signed))

    def all(self) -> list[Book]:
        """Every strategy's book."""
        books = []
        for key in self._store.list(PREFIX):
            found = self._store.get(key)
            if found is not None:
                books.append(book_from_dict(found.data))
        return books

    def holding_any(self) -> bool:
        """Whether any book holds a contract (the sweep reads Fyers's positions only then)."""
        return any(book.held() for book in self.all())

    def reconcile(
        self, positions: list[Position], deadline: Deadline, working: list[BrokerOrder] = ()
    ) -> list[dict[str, Any]]:
        """Shrink every book to what Fyers holds (and its `working` orders will); journal and tell each change once."""
        books = [book for book in self.all() if book.held()]
        fitted, changes = reconcile(books, positions, self._clock.now(), working)
        told: list[dict[str, Any]] = []
        for before, after in zip(books, fitted):
            # Whoever swaps the cut in tells it: another instance's sweep finds the book changed and stays quiet.
            if after != before and self._swap(before.strategy, lambda current, b=before, a=after: refit(current, b, a)):
                mine = [change for change in changes if change["strategy"] == before.strategy]
                for change in mine:
                    self._report(change, deadline)
                told += mine
        return told

    def _report(self, change: dict[str, Any], deadline: Deadline) -> None:
        """Journal, log and notify one book change."""
        text = (
            f"BOOK RECONCILED [{change['strategy']}]: {change['symbol']} {change['product_type']} held "
            f"{change['book_qty']} by the book, {change['fyers_qty']} at Fyers; the book now holds {change['now']}"
        )
        told = {**change, "text": text}
        record = AlertRecord(
            f"book-{self.document_name(change['strategy'])}",
            outcome=Outcome.BOOK_RECONCILED,
            strategy=change["strategy"],
            message_read=True,
        )
        record.trade = told
        self._journal.record(record)
        log_event(log, logging.WARNING, "book_reconciled", text, symbol=change["symbol"])
        if self._notifications is not None:
            self._notifications.notify(Notification("book_reconciled", text, told), deadline)

    def _swap(self, strategy: str, change: Callable[[Book], Book]) -> bool:
        """Apply `change` and swap it in; True when the book changed."""
        key = self._key(strategy)
        for _ in range(SWAP_ATTEMPTS):
            found = self._store.get(key)
            book = book_from_dict(found.data) if found else Book(strategy)
            changed = change(book)
            if changed == book:
                return False
            data = book_as_dict(changed)
            if found is None:
                if self._store.create(key, data) is not None:
                    return True
            elif self._store.replace(key, data, found.generation) is not None:
                return True
        raise StateUnavailable(f"the book of {strategy} kept changing under {SWAP_ATTEMPTS} swaps")

    @staticmethod
    def document_name(strategy: str) -> str:
        """The strategy's document name: its own characters where safe, else a hash prefix."""
        if SAFE_NAME.match(strategy):
            return strategy
        return "h" + hashlib.sha256(strategy.encode("utf-8")).hexdigest()[:32]

    def _key(self, strategy: str) -> str:
        return f"{PREFIX}{self.document_name(strategy)}.json"
