"""A strategy's position book: which contracts it holds, how many, from its own tagged orders.

Pure. Every change comes with the order's tag and is applied once (a resend or a second look at
the same order changes nothing); an order that never stood is undone by its tag. Fyers's net
positions are the truth the books are reconciled to: the books shrink to what Fyers still holds
(closed by hand, a stop hit), and never grow (a manual add is the trader's, not a strategy's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from app.domain.orders import BrokerOrder, Position

APPLIED_KEPT = 500  # the last tags kept per book: enough for a day's orders of a busy strategy
# A holding opened this recently is not shrunk by a reconcile: its order may be on its way to the
# book when the positions and the book were read (Fyers shows a position only after the fill).
RECONCILE_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Holding:
    """One contract a strategy holds: signed contracts, + long, - short."""

    symbol: str
    product_type: str
    underlying: str
    qty: int
    opened_at: str = ""  # ISO instant it was last added to: the latest-opened shrinks first

    @property
    def key(self) -> str:
        """The holding's key in its book."""
        return holding_key(self.symbol, self.product_type)


@dataclass(frozen=True)
class Book:
    """What one strategy holds, and the order tags already applied to it."""

    strategy: str
    holdings: dict[str, Holding] = field(default_factory=dict)  # key f"{symbol}|{product_type}"; no zero qty
    # tag -> [holding key, signed qty, whether it opened (grew) the holding]: the last APPLIED_KEPT,
    # for idempotency and undo.
    applied: dict[str, list] = field(default_factory=dict)

    def held(self, underlying: str | None = None) -> list[Holding]:
        """The non-zero holdings (of that underlying), in key order."""
        return [
            h for _, h in sorted(self.holdings.items()) if h.qty and (underlying is None or h.underlying == underlying)
        ]

    def qty_of(self, symbol: str) -> int:
        """The signed net of one contract across its products."""
        return sum(h.qty for h in self.holdings.values() if h.symbol == symbol)


def holding_key(symbol: str, product_type: str) -> str:
    """A holding's key: the contract and its product (Fyers keeps positions per product)."""
    return f"{symbol}|{product_type}"


def apply(
    book: Book, tag: str, symbol: str, product_type: str, underlying: str, signed_qty: int, at: datetime | None = None
) -> Book:
    """The book with one order applied (+ bought, - sold); unchanged when the tag was applied before."""
    if tag in book.applied or not signed_qty:
        return book
    key = holding_key(symbol, product_type)
    before = book.holdings.get(key)
    held = before.qty if before else 0
    opens = abs(held + signed_qty) > abs(held)
    opened_at = at.isoformat() if opens and at else (before.opened_at if before else "")
    holding = Holding(symbol, product_type, (before.underlying if before else "") or underlying, held, opened_at)
    return _with(book, replace(holding, qty=held + signed_qty), {tag: [key, signed_qty, opens]})


def undo(book: Book, tag: str) -> Book:
    """The book with one tag's application reversed (the order never stood); an opening is undone to zero at most."""
    found = book.applied.get(tag)
    if not found or not found[1]:
        return book
    key, signed_qty, opened = found[0], int(found[1]), bool(found[2])
    holding = book.holdings.get(key)
    symbol, product_type = key.split("|", 1)
    holding = holding or Holding(symbol, product_type, "", 0)
    qty = holding.qty - signed_qty
    if opened and qty * signed_qty < 0:  # a reconcile shrank it already: never past zero, into the other side
        qty = 0
    return _with(book, replace(holding, qty=qty), {tag: [key, 0, opened]})


def reconcile(
    books: list[Book], positions: list[Position], now: datetime | None = None, working: list[BrokerOrder] = ()
) -> tuple[list[Book], list[dict[str, Any]]]:
    """The books shrunk to what Fyers holds of each contract they hold, and each change made.

    Where the books together hold more than Fyers's net in their direction, the latest-opened
    holding shrinks first (Fyers cannot say which the trader closed; this keeps the oldest holding
    standing and whole holdings in whole lots, where a proportional cut would not). A
    contract Fyers no longer holds empties every book's holding of it. Opposite holdings that
    net to Fyers's figure are left alone; holdings opened within RECONCILE_GRACE are not touched.
    The books' own orders still `working` in the book (an AMO, a limit, one not yet filled) count
    as held: the books applied them when they stood.
    """
    fyers: dict[str, int] = {}
    for position in positions:
        key = holding_key(position.symbol, position.product_type)
        fyers[key] = fyers.get(key, 0) + position.net_qty
    tags = {tag for book in books for tag, found in book.applied.items() if found[1]}
    for row in working:
        if row.working and row.tag in tags and not row.parent_id:  # not a protection leg of the order
            key = holding_key(row.symbol, row.product_type)
            fyers[key] = fyers.get(key, 0) + (row.qty - row.filled_qty) * int(row.side)
    books = list(books)
    changes: list[dict[str, Any]] = []
    for key in sorted({k for book in books for k, h in book.holdings.items() if h.qty}):
        held = [(i, b.holdings[key]) for i, b in enumerate(books) if b.holdings.get(key) and b.holdings[key].qty]
        excess = sum(h.qty for _, h in held) - fyers.get(key, 0)
        if not excess:
            continue
        # Only holdings on the side Fyers holds less of may shrink: a surplus long shrinks longs.
        side = [(i, h) for i, h in held if h.qty * excess > 0 and not _fresh(h, now)]
        for i, holding in sorted(side, key=lambda item: (item[1].opened_at, books[item[0]].strategy), reverse=True):
            cut = min(abs(excess), abs(holding.qty)) * (1 if excess > 0 else -1)
            if not cut:
                break
            books[i] = _with(books[i], replace(holding, qty=holding.qty - cut), {})
            excess -= cut
            changes.append(_change(books[i].strategy, holding, fyers.get(key, 0), holding.qty - cut))
    return books, changes


def refit(current: Book, before: Book, after: Book) -> Book:
    """`current` with a reconcile's cuts (`before` to `after`) made, if it still holds what `before` did; else as is."""
    keys = {
        k for k in before.holdings.keys() | after.holdings.keys() if before.holdings.get(k) != after.holdings.get(k)
    }
    if any(current.holdings.get(k) != before.holdings.get(k) for k in keys):
        return current  # an order changed it since: the next sweep reconciles it afresh
    holdings = {k: h for k, h in current.holdings.items() if k not in keys}
    holdings.update({k: after.holdings[k] for k in keys if k in after.holdings})
    return Book(current.strategy, holdings, current.applied)


def _fresh(holding: Holding, now: datetime | None) -> bool:
    if now is None or not holding.opened_at:
        return False
    return now - datetime.fromisoformat(holding.opened_at) < RECONCILE_GRACE


def _change(strategy: str, holding: Holding, fyers_qty: int, now_qty: int) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "symbol": holding.symbol,
        "product_type": holding.product_type,
        "book_qty": holding.qty,
        "fyers_qty": fyers_qty,
        "now": now_qty,
    }


def _with(book: Book, holding: Holding, applied: dict[str, list]) -> Book:
    """The book with `holding` put in (dropped at zero) and `applied` recorded, the oldest tags let go."""
    holdings = {k: h for k, h in book.holdings.items() if k != holding.key}
    if holding.qty:
        holdings[holding.key] = holding
    tags = {k: v for k, v in book.applied.items() if k not in applied}
    tags.update(applied)
    return Book(book.strategy, holdings, dict(list(tags.items())[-APPLIED_KEPT:]))


def book_as_dict(book: Book) -> dict[str, Any]:
    """The stored JSON of a book."""
    return {
        "strategy": book.strategy,
        "holdings": {k: asdict(h) for k, h in book.holdings.items()},
        "applied": book.applied,
    }


def book_from_dict(data: dict[str, Any]) -> Book:
    """The book stored by `book_as_dict`."""
    holdings = {k: Holding(**h) for k, h in (data.get("holdings") or {}).items()}
    return Book(data["strategy"], holdings, dict(data.get("applied") or {}))
