"""The console's actions: each a confirmation page (GET, sends nothing), then a CSRF-checked POST that acts once.

Every action writes an audit entry (app/services/audit.py) and comes back to /console with a
one-line result. Closing one position carries the net the trader confirmed and a single-use
claim: a double tap sends one exit, and a position that changed meanwhile is shown again.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for

from app.answers import Answer
from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import BridgeError
from app.domain.orders import Position
from app.logs import log_event
from app.services.audit import Audit
from app.web import console_security
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("console_actions", __name__, template_folder="templates")
bp.after_request(console_security.protect)
log = logging.getLogger(__name__)

ACTOR = "console"
AUDIT_SHOWN = 50  # entries on the actions page; /admin/audit gives up to AUDIT_MAX
AUDIT_MAX = 500
EXIT_BUDGET = 8.0  # seconds for one exit: its legs' cancels, then the exit, paced
LOOKUP_BUDGET = 5.0
READ_BUDGET = 1.5
CLAIM = re.compile(r"^[A-Za-z0-9_-]{16,64}$")  # a confirmation's single-use token, as secrets.token_urlsafe makes


def init_app(app: Flask, bridge) -> None:
    """The audit log the console writes to, and the actions' routes."""
    app.extensions["audit"] = Audit(bridge.store, bridge.clock)
    app.register_blueprint(bp)


def audit() -> Audit:
    """This app's audit log."""
    return current_app.extensions["audit"]


def record(action: str, details: dict[str, Any]) -> None:
    """One audit entry for an action taken from the console."""
    audit().record(ACTOR, action, details)


def done(action: str, details: dict[str, Any], result: str, ok: bool = True):
    """Audit an action, show its result line on the console, and go back there."""
    record(action, details)
    flash(result, "ok" if ok else "bad")
    return redirect(url_for("console.index"), code=303)


def confirm(status: int = 200, **page: Any):
    """The generic confirmation page (or a refusal, when `error` is given and nothing can be confirmed)."""
    page.setdefault("fields", {})
    page.setdefault("facts", [])
    return render_template("console/confirm.html", csrf=session.get("csrf"), **page), status


@bp.before_request
def _logged_in():
    """Pages need a session (the login form otherwise); POSTs check theirs, with the CSRF token, in the view."""
    if request.method == "GET" and not request.path.startswith("/admin/") and not console_security.session_live():
        return redirect(url_for("console.login_form", next=request.full_path.rstrip("?")), code=303)
    return None


@bp.get("/console/actions")
def actions():
    """What can be acted on now (positions, queued alerts, pending look-ups, the day lock) and today's audit log."""
    bridge = services()
    try:
        positions, unavailable = _open_positions(), None
    except BridgeError as error:
        positions, unavailable = [], error.message
    return render_template(
        "console/actions.html",
        positions=positions,
        unavailable=unavailable,
        queued=[e for e in bridge.queue.waiting() if e.get("state") == "queued"],
        pending=services().reconciler.pending(),
        paused=bridge.controls.paused(),
        entries=[{**entry, "time": _ist(entry.get("at"))} for entry in audit().recent(AUDIT_SHOWN)],
    )


@bp.get("/console/pause")
def pause_form():
    """Confirm pausing."""
    reason = (request.args.get("reason") or "paused from the console")[:200]
    return confirm(
        title="Pause trading?", button="Yes, pause trading", button_id="confirm-pause", action="/console/pause",
        lines=["New entries are refused on every instance until you resume; exits stay allowed."],
        facts=[("Reason", reason)], fields={"reason": reason},
    )


@bp.get("/console/resume")
def resume_form():
    """Confirm resuming (which lifts a day lock, if that is what paused trading)."""
    paused = services().controls.paused()
    if paused and paused.get("day"):
        what = f"This lifts today's {paused.get('rule')} lock for the rest of the day: new entries are allowed again."
    else:
        what = "New entries are allowed again on every instance."
    facts = [("Paused", paused.get("reason") or "")] if paused else [("Paused", "no: trading is running")]
    return confirm(
        title="Resume trading?", button="Yes, resume trading", button_id="confirm-resume", action="/console/resume",
        lines=[what], facts=facts,
    )


@bp.get("/console/positions/close")
def close_position_form():
    """Confirm closing one position: what it holds now, and the exit that would be sent."""
    position_id = request.args.get("id", "")
    try:
        found = _position(position_id)
    except BridgeError as error:
        return confirm(503, title="Close a position", error=f"Positions unavailable: {error.message}")
    if found is None:
        return confirm(404, title="Close a position", error=f"No open position {position_id} the bridge traded today.")
    return _close_page(found)


@bp.post("/console/positions/close")
def close_position():
    """Exit one position at market, once per confirmation, if it still holds the net the trader confirmed."""
    console_security.require_session(check_csrf=True)
    position_id, claim = request.form.get("position_id", ""), request.form.get("claim", "")
    seen = request.form.get("net_qty", "")
    if not CLAIM.match(claim):
        abort(400, "the confirmation is missing: open the position's close page again")
    found = _position(position_id)
    if found is None:
        return confirm(409, title="Close a position", error=f"{position_id} is no longer open: nothing was sent.")
    if str(found["net_qty"]) != seen:
        changed = f"The position changed since you confirmed: net {seen}, now {found['net_qty']}. Nothing was sent."
        return _close_page(found, changed, 409)
    day = services().clock.now().astimezone(IST).date()
    if services().store.create(f"console-actions/{day}/{claim}.json", {"position_id": position_id}) is None:
        flash(f"Close {position_id}: already sent for this confirmation; not sent again.", "bad")
        return redirect(url_for("console.index"), code=303)
    position = Position(found["symbol"], found["net_qty"], found["product_type"])
    details = {"position_id": position_id, "net_qty": found["net_qty"]}
    try:
        exited = services().broker.exit_position(position, Deadline(EXIT_BUDGET))
    except BridgeError as error:  # may have left (outcome unknown): the positions read will tell
        log_event(log, logging.ERROR, "console_exit_failed", f"exit of {position_id} failed: {error.message}")
        failed = {**details, "status": error.code, "message": error.message}
        return done("close_position", failed, f"Close {position_id}: {error.message}", ok=False)
    said = f": {exited.message}" if exited.message else ""
    result = f"Close {position_id} (net {found['net_qty']}): {exited.status}{said}"
    return done("close_position", {**details, "status": exited.status, "message": exited.message}, result)


@bp.get("/console/queue/cancel")
def cancel_queued_form():
    """Confirm cancelling one queued alert."""
    entry = services().queue.find(request.args.get("id", ""))
    if entry is None or entry.get("state") != "queued":
        state = entry.get("state") if entry else "not found"
        error = f"That alert is {state}, not queued: nothing to cancel."
        return confirm(409, title="Cancel a queued alert", error=error)
    payload = entry.get("payload") or {}
    facts = [("Queued at", _ist(entry.get("queued_at"))), ("Alert", entry.get("alert_id", ""))]
    facts += [(name, str(payload[name])) for name in ("strategy", "symbol", "action", "side", "qty") if name in payload]
    return confirm(
        title="Cancel this queued alert?", button="Yes, cancel it", button_id="confirm-cancel-queued",
        action="/console/queue/cancel", fields={"queue_id": entry["id"]}, facts=facts,
        lines=["It will not run at the open; no order is placed, and a resend of the alert hears it was cancelled."],
    )


@bp.post("/console/queue/cancel")
def cancel_queued():
    """Cancel one queued alert (the trader is notified)."""
    console_security.require_session(check_csrf=True)
    queue_id = request.form.get("queue_id", "")
    ended = services().alerts.cancel_queued(queue_id)
    if ended is None:
        found = services().queue.find(queue_id)
        state = found.get("state") if found else "not found"
        return done("cancel_queued", {"queue_id": queue_id, "status": state},
                    f"Queued alert {queue_id} is {state}: not cancelled.", ok=False)
    return done("cancel_queued", {"queue_id": queue_id, "status": "cancelled"}, f"Queued alert {queue_id} cancelled.")


@bp.get("/console/pending/retry")
def retry_pending_form():
    """Confirm looking one pending order up again."""
    pending = next((p for p in services().reconciler.pending() if p["alert_id"] == request.args.get("id")), None)
    if pending is None:
        return confirm(404, title="Look a pending order up", error="No such pending order: it may have settled.")
    order = pending.get("order") or {}
    return confirm(
        title="Look this pending order up now?", button="Yes, look it up", button_id="confirm-retry-pending",
        action="/console/pending/retry", fields={"alert_id": pending["alert_id"]},
        facts=[("Alert", pending["alert_id"]), ("Since", _ist(pending.get("since"))),
               ("Order", f"{order.get('side', '')} {order.get('qty', '')} {order.get('symbol', '')}")],
        lines=["Reads Fyers's order book once for this order. Nothing is sent: an order whose outcome was unknown "
               "is never placed again."],
    )


@bp.post("/console/pending/retry")
def retry_pending():
    """Look one pending order up once."""
    console_security.require_session(check_csrf=True)
    alert_id = request.form.get("alert_id", "")
    if not any(p["alert_id"] == alert_id for p in services().reconciler.pending()):
        return done("retry_pending", {"alert_id": alert_id, "status": "not_pending"},
                    f"Alert {alert_id} has no pending order (settled already?).", ok=False)
    settled = services().reconciler.settle(alert_id, Deadline(LOOKUP_BUDGET))
    status = settled.body.get("status") if settled else "pending"
    result = f"Alert {alert_id}: {status}" + ("" if settled else " (the order book does not settle it yet)")
    return done("retry_pending", {"alert_id": alert_id, "status": status}, result, ok=settled is not None)


@bp.get("/console/day-lock/lift")
def lift_lock_form():
    """Confirm lifting today's loss or profit lock."""
    paused = services().controls.paused()
    if not paused or not paused.get("day"):
        return confirm(409, title="Lift the day lock", error="No day lock is on: nothing to lift.")
    return confirm(
        title="Lift today's lock?", button="Yes, lift the lock", button_id="confirm-lift-lock",
        action="/console/day-lock/lift", facts=[("Rule", paused.get("rule", "")), ("Reason", paused.get("reason", ""))],
        lines=["New entries are allowed again for the rest of today; the same line does not lock again today."],
    )


@bp.post("/console/day-lock/lift")
def lift_lock():
    """Lift today's lock."""
    console_security.require_session(check_csrf=True)
    lifted = services().day_lock.lift("the console", Deadline(2.0))
    ok = lifted["status"] == "lifted"
    result = f"Day lock ({lifted.get('rule')}) lifted." if ok else "No day lock was on: nothing lifted."
    return done("lift_day_lock", lifted, result, ok=ok)


@bp.get("/admin/audit")
@require_admin
def admin_audit():
    """Today's (IST) audit entries, newest first."""
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), AUDIT_MAX)
    except ValueError:
        limit = 100
    return respond(Answer(200, {"status": "ok", "entries": audit().recent(limit)}))


def _open_positions() -> list[dict[str, Any]]:
    """The bridge's positions that hold something, each with its id."""
    rows = services().report.positions(Deadline(READ_BUDGET))["positions"]
    return [{**p, "position_id": f"{p['symbol']}-{p['product_type']}"} for p in rows if p["net_qty"]]


def _position(position_id: str) -> dict[str, Any] | None:
    return next((p for p in _open_positions() if p["position_id"] == position_id), None)


def _close_page(found: dict[str, Any], error: str | None = None, status: int = 200):
    side = "sells" if found["net_qty"] > 0 else "buys back"
    pl = f"{found['pl']:.2f}" if found.get("pl") is not None else ""
    return confirm(
        status, title=f"Close {found['symbol']}?", notice=error, button="Yes, close this position",
        button_id="confirm-close-position", action="/console/positions/close",
        fields={"position_id": found["position_id"], "net_qty": found["net_qty"], "claim": secrets.token_urlsafe(24)},
        facts=[("Position", found["position_id"]), ("Net", str(found["net_qty"])), ("P&L", pl)],
        lines=[f"Fyers's exit call {side} {abs(found['net_qty'])} at market, once; this position's working stop "
               "and target are cancelled first. Other positions are not touched."],
    )


def _ist(moment: str | None) -> str:
    return datetime.fromisoformat(moment).astimezone(IST).strftime("%d %b %H:%M:%S IST") if moment else ""
