"""Operator views of orders: the day's journal, and settling pending orders."""

from datetime import date

from flask import Blueprint, request

from app.answers import Answer
from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import InvalidRequest
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("orders", __name__)

RECONCILE_BUDGET = 20.0  # seconds; a Scheduler job, not an alert
MAX_RECORDS = 2000  # a day's journal; far above what one trader's strategies send


@bp.post("/reconcile")
@require_admin
def reconcile():
    """Settle pending orders from the broker's order book (never by sending again)."""
    results = services().reconciler.settle_all(Deadline(RECONCILE_BUDGET))
    return respond(Answer(200, {"status": "ok", "settled": results}))


@bp.get("/orders")
@require_admin
def orders_of_day():
    """The journal of one IST day (`?date=YYYY-MM-DD`, today by default): alerts and outcomes."""
    bridge = services()
    text = request.args.get("date")
    try:
        day = date.fromisoformat(text) if text else bridge.clock.now().astimezone(IST).date()
    except ValueError:
        raise InvalidRequest("date", "date must be YYYY-MM-DD") from None
    records = bridge.journal.day(day, limit=MAX_RECORDS)
    return respond(Answer(200, {"status": "ok", "date": day.isoformat(), "count": len(records), "alerts": records}))
