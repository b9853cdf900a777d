"""Operator views of orders: the day's journal, page by page, and settling pending orders."""

from datetime import date

from flask import Blueprint, request

from app.answers import Answer
from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import InvalidRequest
from app.services.journal import CURSOR
from app.web.admin import require_admin, require_admin_or_scheduler
from app.web.responses import respond, services

bp = Blueprint("orders", __name__)

RECONCILE_BUDGET = 20.0  # seconds; a Scheduler job, not an alert
PAGE_SIZE = 100  # records per page unless `limit` says otherwise
MAX_PAGE_SIZE = 500  # each record on a page is one state-store read


@bp.post("/reconcile")
@require_admin_or_scheduler
def reconcile():
    """Settle pending orders from the broker's order book (never by sending again)."""
    results = services().reconciler.settle_all(Deadline(RECONCILE_BUDGET))
    return respond(Answer(200, {"status": "ok", "settled": results}))


@bp.get("/orders")
@require_admin
def orders_of_day():
    """One IST day's journal (`?date=YYYY-MM-DD`, today by default), newest first, `limit` records a page.

    `next`, when not null, is the `before` that asks for the older page: the page was cut.
    """
    bridge = services()
    text = request.args.get("date")
    try:
        day = date.fromisoformat(text) if text else bridge.clock.now().astimezone(IST).date()
    except ValueError:
        raise InvalidRequest("date", "date must be YYYY-MM-DD") from None
    limit, before = page_arguments(request.args, PAGE_SIZE)
    page = bridge.journal.page(day, limit, before)
    body = {
        "status": "ok",
        "date": day.isoformat(),
        "count": len(page.records),
        "total": page.total,
        "next": page.next,
        "alerts": page.records,
    }
    return respond(Answer(200, body))


def page_arguments(args, default_limit: int) -> tuple[int, str | None]:
    """`limit` (1 to MAX_PAGE_SIZE) and the `before` cursor of a page request; 400 naming the bad one."""
    text = args.get("limit")
    try:
        limit = int(text) if text is not None else default_limit
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest("limit", f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    before = args.get("before") or None
    if before is not None and not CURSOR.match(before):
        raise InvalidRequest("before", "before must be the `next` cursor of an earlier page")
    return limit, before
