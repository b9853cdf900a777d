"""The kill switch: POST /admin/pause and /admin/resume (admin), shared by every instance."""

import logging

from flask import Blueprint, request

from app.answers import Answer
from app.logs import log_event
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("controls", __name__)
log = logging.getLogger(__name__)


@bp.post("/admin/pause")
@require_admin
def pause():
    """Refuse new entries until resumed; exits stay allowed."""
    body = request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str):
        reason = "paused by the operator"
    state = services().controls.pause(reason)
    log_event(log, logging.WARNING, "trading_paused", f"trading paused: {state['reason']}")
    return respond(Answer(200, {"status": "paused", **state}))


@bp.post("/admin/resume")
@require_admin
def resume():
    """Allow new entries again."""
    state = services().controls.resume()
    log_event(log, logging.WARNING, "trading_resumed", "trading resumed")
    return respond(Answer(200, {"status": "resumed", **state}))


@bp.get("/admin/status")
@require_admin
def status():
    """Paused or not, today's order count, and this instance's 429s from Fyers and refused junk today."""
    bridge = services()
    controls = bridge.controls
    paused = controls.paused()
    body = {"status": "ok", "paused": bool(paused), "pause": paused, "orders_today": controls.orders_today()}
    body["rate_limited_today"] = bridge.broker.rate_limited_today()  # this instance's, in memory
    # Requests refused before authentication (401/403, unreadable bodies): this instance's, in memory.
    body["refused_unauthenticated_today"] = bridge.alerts.reporter.refusals.today()
    return respond(Answer(200, body))
