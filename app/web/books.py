"""The strategies' position books: what each holds, and their reconcile in the sync sweep."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint

from app.answers import Answer
from app.deadline import Deadline
from app.ports import Broker
from app.services.books import StrategyBooks
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("books", __name__)


@bp.get("/books")
@require_admin
def books():
    """Every strategy's holdings, as its book has them (signed contracts: + long, - short)."""
    held = {book.strategy: [asdict(h) for h in book.held()] for book in services().books.all()}
    books_held = {name: holdings for name, holdings in sorted(held.items()) if holdings}
    return respond(Answer(200, {"status": "ok", "books": books_held}))


def reconcile_books(books: StrategyBooks, broker: Broker, deadline: Deadline) -> list[dict[str, Any]]:
    """The sweep's reconcile of the books to Fyers's positions; no broker call while no book holds anything."""
    if not books.holding_any():
        return []
    # The coalescing broker shares the positions the sweep has just read (within its window); the order
    # book shows the strategies' orders that stand but have not filled (AMO, limit, in flight).
    return books.reconcile(broker.positions(deadline), deadline, broker.order_book(deadline))
