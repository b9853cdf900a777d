"""After the order: Fyers's postbacks, the sync sweep, the bridge's positions and the day's summary."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, request

from app.adapters.fyers_orders import ORDER_STATUS
from app.answers import Answer
from app.deadline import Deadline
from app.domain.errors import BridgeError
from app.logs import log_event
from app.services.trades import ORDER_ID, Doorbell
from app.web.admin import require_admin, require_admin_or_scheduler
from app.web.books import reconcile_books
from app.web.responses import respond, services

bp = Blueprint("trades", __name__)
log = logging.getLogger(__name__)

POSTBACK_BUDGET = 2.0  # seconds: Fyers blacklists a URL that answers slowly or not 200, so this stays short
SYNC_BUDGET = 20.0  # seconds; a Scheduler job, not an alert
VIEW_BUDGET = 5.0  # seconds for the positions view


@bp.post("/fyers/postback")
def postback():
    """Fyers's order postback, a doorbell: always 200, fast; the order is read back by id before it is believed."""
    bell = _doorbell(request.get_data(cache=False, as_text=False)[:65536])
    if bell is None:
        return respond(Answer(200, {"status": "ignored", "reason": "no order id in the body"}))
    try:
        body = services().desk.postback(bell, Deadline(POSTBACK_BUDGET))
    except BridgeError as error:  # Fyers unreachable, no login: the sweep settles it; Fyers must still get 200
        body = {"status": "later", "reason": error.message}
    except Exception:  # noqa: BLE001 - a non-200 would get the URL blacklisted for 30 minutes
        log.exception("postback could not be followed; the sweep settles it")
        body = {"status": "later", "reason": "internal error; the sync sweep settles it"}
    log_event(log, logging.INFO, "postback", f"postback for order {bell.order_id}: {body['status']}")
    return respond(Answer(200, body))


@bp.post("/sync")
@require_admin_or_scheduler
def sync():
    """Bring every trade the bridge follows up to date from the order book, tradebook and positions.

    Then the day's lines (MAX_DAILY_LOSS, DAILY_PROFIT_LOCK, the profit trail) are checked on Fyers's
    P&L; with LOCK_ACTION=close a locked day's positions are closed, once. The strategies' books are
    reconciled to Fyers's positions between the two (GET /books).
    """
    bridge = services()
    deadline = Deadline(SYNC_BUDGET)
    body = bridge.desk.sync(deadline)
    body["books"] = reconcile_books(bridge.books, bridge.broker, deadline)  # after the trades: stops hit are in
    body["day"] = bridge.day_lock.sweep(deadline)
    return respond(Answer(200, body))


@bp.post("/admin/unlock")
@require_admin
def unlock():
    """Lift today's loss or profit lock for the rest of the day (logged, journaled, notified)."""
    return respond(Answer(200, services().day_lock.lift("the admin token", Deadline(VIEW_BUDGET))))


@bp.get("/positions")
@require_admin
def positions():
    """Today's positions in the contracts the bridge traded, with Fyers's own P&L figures."""
    return respond(Answer(200, services().report.positions(Deadline(VIEW_BUDGET))))


@bp.post("/day-summary")
@require_admin_or_scheduler
def day_summary():
    """Send the day's summary (Scheduler, 15:45 IST): fills, realized P&L, open positions, 429s, refusals."""
    return respond(Answer(200, services().report.day_summary(Deadline(SYNC_BUDGET))))


def _doorbell(raw: bytes) -> Doorbell | None:
    """What a postback claims (order id, status word, filled quantity); None without a usable id."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not ORDER_ID.match(body["id"]):
        return None
    status = body.get("status")
    filled = body.get("filledQty")
    tag = body.get("orderTag")
    return Doorbell(
        body["id"],
        ORDER_STATUS.get(status) if isinstance(status, int) else None,
        filled if isinstance(filled, int) and not isinstance(filled, bool) else None,
        tag.removeprefix("1:") if isinstance(tag, str) else None,
    )
