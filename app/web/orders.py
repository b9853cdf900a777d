"""Operator views of orders: settling pending ones."""

from flask import Blueprint

from app.answers import Answer
from app.deadline import Deadline
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("orders", __name__)

RECONCILE_BUDGET = 20.0  # seconds; a Scheduler job, not an alert


@bp.post("/reconcile")
@require_admin
def reconcile():
    """Settle pending orders from the broker's order book (never by sending again)."""
    results = services().reconciler.settle_all(Deadline(RECONCILE_BUDGET))
    return respond(Answer(200, {"status": "ok", "settled": results}))
