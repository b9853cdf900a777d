"""Close everything: POST /admin/close-all (the operator, confirmed) and POST /square-off (Cloud Scheduler)."""

from __future__ import annotations

import logging

from flask import Blueprint, request

from app.answers import Answer
from app.deadline import Deadline
from app.domain.errors import InvalidRequest
from app.logs import log_event
from app.services.close_all import SCOPES
from app.web.admin import require_admin, require_admin_or_scheduler
from app.web.responses import respond, services

bp = Blueprint("close_all", __name__)
log = logging.getLogger(__name__)

CLOSE_BUDGET = 25.0  # seconds: a cancel and an exit per contract, paced at Fyers's 10 a second


@bp.post("/admin/close-all")
@require_admin
def close_all():
    """Cancel the working orders and exit the open positions in scope, each once; needs "confirm": true."""
    body = request.get_json(force=True, silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise InvalidRequest("body", 'the body must be a JSON object, e.g. {"scope": "bridge", "confirm": true}')
    scope = body.get("scope", "bridge")
    if scope not in SCOPES:
        shown = scope if isinstance(scope, (int, float, bool)) else str(scope)[:40]
        raise InvalidRequest("scope", f"scope must be bridge or all, got {shown!r}", scope=shown)
    if body.get("confirm") is not True:
        # A stray or replayed curl must not flatten the book.
        raise InvalidRequest("confirm", 'close-all closes positions: send "confirm": true to mean it')
    reason = body.get("reason") if isinstance(body.get("reason"), str) else "operator"
    log_event(log, logging.WARNING, "close_all_asked", f"close-all asked by the operator (scope {scope})")
    return respond(Answer(200, services().closer.run(scope, Deadline(CLOSE_BUDGET), reason[:100])))


@bp.post("/square-off")
@require_admin_or_scheduler
def square_off():
    """Close the bridge's positions once SQUARE_OFF_AT has passed on a trading day (a Scheduler job)."""
    body = services().closer.square_off(Deadline(CLOSE_BUDGET))
    return respond(Answer(409 if body["status"] == "not_configured" else 200, body))
