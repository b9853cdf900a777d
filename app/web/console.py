"""/console: the operator's page on a phone: status, one-click Fyers login, the journal, pause.

Server-rendered (Jinja), no build step. The admin token is entered once (five failures per
source in five minutes pause that source); the session is a signed cookie (HttpOnly, Secure,
SameSite=Lax) whose key is derived from ADMIN_TOKEN, so changing the token signs everybody out.
The cookie names a server-side session (console_security.py): logout revokes it on every
instance, and it ends 12 hours after the login however active (CONSOLE_REMEMBER_DAYS on a
remembered device, listed and revocable under Trusted devices). Every form carries a CSRF token
bound to the session; every answer is uncacheable and unframeable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for

from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import BridgeError
from app.logs import log_event
from app.security import same_secret
from app.settings import PAPER_BROKERS
from app.web import console_actions, console_devices, console_security, console_views
from app.web.close_all import CLOSE_BUDGET
from app.web.orders import page_arguments
from app.web.responses import services
from app.web.trades import SYNC_BUDGET

bp = Blueprint("console", __name__, template_folder="templates")
bp.after_request(console_security.protect)  # every console answer: uncacheable, unframeable
log = logging.getLogger(__name__)

CONSOLE_PAGE_SIZE = 100  # alerts on one page of the console; older ones are a link away


def init_app(app: Flask) -> None:
    """Session cookie settings and the signing key (derived, never the token itself)."""
    admin = services_of(app).settings.admin_token
    # No admin token, no console: an unguessable key that nobody can log in with.
    material = admin or secrets.token_hex(32)
    app.secret_key = hmac.new(material.encode(), b"fyers-alert-bridge console session", hashlib.sha256).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME="bridge_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # PERMANENT_SESSION_LIFETIME: set by console_security (12 hours, or CONSOLE_REMEMBER_DAYS when remembered).
        # The cookie is written at login only: activity does not push its end further out.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    console_security.init_app(app, services_of(app))
    app.register_blueprint(bp)
    app.register_blueprint(console_devices.bp)  # Trusted devices: remembered phones, revocable
    console_views.init_app(app)
    console_actions.init_app(app, services_of(app))  # the actions' confirmations, and the audit log
    # base.html's PAPER banner, on every page: a paper console must never pass for the live one.
    app.jinja_env.globals["paper"] = services_of(app).settings.broker in PAPER_BROKERS


def services_of(app: Flask):
    """The wired services of an app being built."""
    return app.extensions["bridge"]


@bp.get("/console/login")
def login_form():
    """The admin-token form (with where to go on after it)."""
    return _login_page(None)


@bp.post("/console/login")
def login():
    """Check the admin token once (constant time) and open a session; a source that keeps failing waits."""
    expected = services().settings.admin_token
    wait = console_security.login_retry_after()
    if wait is not None:  # checked first: even the right token waits, so guessing gains nothing
        error = f"Too many failed logins from this address: try again in {wait} seconds."
        return _login_page(error), 429, {"Retry-After": str(wait)}
    given = request.form.get("admin_token", "")
    if not expected or not same_secret(given, expected):
        log_event(log, logging.WARNING, "console_login_failed", "console login refused")
        console_security.login_failed()
        return _login_page("That is not the admin token."), 401
    console_security.login_succeeded()
    console_security.begin(remember=request.values.get("remember") == "1")
    return redirect(console_security.next_page(request.values.get("next")), code=303)


def _login_page(error: str | None) -> str:
    return render_template(
        "console/login.html",
        error=error,
        configured=bool(services().settings.admin_token),
        next=console_security.next_page(request.values.get("next")),
        remember_days=services().settings.console_remember_days,
    )


@bp.post("/console/logout")
def logout():
    """Close the session here and on every instance: the cookie, replayed, is refused."""
    _require_session(check_csrf=True)
    console_security.close_session()
    session.clear()
    return redirect(url_for("console.login_form"), code=303)


@bp.get("/console")
def index():
    """Status, today's alerts, notifications and the controls."""
    if not console_security.session_live():  # after the login, on to this same page (?logged_in=1 kept)
        return redirect(console_security.login_then(request.full_path), code=303)
    bridge = services()
    now = bridge.clock.now().astimezone(IST)
    token = bridge.login.tokens.status() if bridge.login else None
    broker_ready, broker_reason = bridge.broker.readiness()
    market = bridge.alerts.market.state(Deadline(1.0))
    limit, before = page_arguments(request.args, CONSOLE_PAGE_SIZE)
    page = bridge.journal.page(now.date(), limit, before)
    try:  # one positions read (the broker's rate budget): the page still shows when it fails
        positions = bridge.report.positions(Deadline(1.5))
    except BridgeError as error:
        positions = {"positions": [], "unavailable": error.message}
    return render_template(
        "console/index.html",
        now=now,
        token=token,
        token_until=token.expires_at.astimezone(IST) if token and token.expires_at else None,
        broker=bridge.broker.name,
        broker_ready=broker_ready,
        broker_reason=broker_reason,
        market=market,
        paused=bridge.controls.paused(),
        orders_today=bridge.controls.orders_today(),
        refused_today=bridge.alerts.reporter.refusals.today(),
        **console_views.home(bridge, now, page.records, request.args),  # filtered alerts, countdown, queue
        alerts_total=page.total,
        older=page.next,
        paged=before is not None,
        notifications=bridge.notifications.recent()[:20],
        positions=positions,
        csrf=session.get("csrf"),
        logged_in=request.args.get("logged_in") == "1",
    )


@bp.post("/console/fyers-login")
def fyers_login():
    """One click: through the bridge link (it marks this browser) to Fyers; the callback comes back here."""
    _require_session(check_csrf=True)
    bridge = services()
    if bridge.login is None:
        abort(400, "the paper broker needs no Fyers login")
    return redirect(bridge.login.login_url(return_to="console"), code=303)


@bp.post("/console/pause")
def pause():
    """The kill switch, from the page."""
    _require_session(check_csrf=True)
    reason = (request.form.get("reason") or "paused from the console")[:200]
    services().controls.pause(reason)
    log_event(log, logging.WARNING, "trading_paused", f"trading paused from the console: {reason}")
    return console_actions.done("pause", {"reason": reason}, f"Trading paused: {reason}.")


@bp.post("/console/sync")
def sync_now():
    """Bring fills, stops and targets up to date now, as the Scheduler's sweep does each minute."""
    _require_session(check_csrf=True)
    try:
        services().desk.sync(Deadline(SYNC_BUDGET))
    except BridgeError as error:
        log_event(log, logging.WARNING, "sync_failed", f"sync from the console failed: {error.message}")
    return redirect(url_for("console.index"), code=303)


@bp.get("/console/close-all")
def close_all_form():
    """The confirmation step: what closing everything would cancel and exit, read from the book now."""
    if not console_security.session_live():
        return redirect(url_for("console.login_form"), code=303)
    try:
        found, unavailable = services().closer.preview("bridge", Deadline(3.0)), None
    except BridgeError as error:
        found, unavailable = {"positions": [], "orders": []}, error.message
    return render_template("console/close_all.html", found=found, unavailable=unavailable, csrf=session.get("csrf"))


@bp.post("/console/close-all")
def close_all():
    """Close everything the bridge opened today, once: cancel its working orders, exit its positions."""
    _require_session(check_csrf=True)
    log_event(log, logging.WARNING, "close_all_asked", "close-all asked from the console")
    try:
        summary = services().closer.run("bridge", Deadline(CLOSE_BUDGET), "console")
    except BridgeError as error:  # nothing claimed (no login, no book, no state): said on the page, not hidden
        log_event(log, logging.ERROR, "close_all_failed", f"close-all from the console failed: {error.message}")
        console_actions.record("close_all", {"status": "failed", "message": error.message})
        found = {"positions": [], "orders": []}
        failed = f"Close-all failed: {error.message}"
        return render_template("console/close_all.html", found=found, unavailable=failed, csrf=session.get("csrf")), 503
    told = f"Close-all: {len(summary['exits'])} exit(s), {len(summary['cancelled'])} cancel(s) sent"
    told += f", {len(summary['errors'])} error(s)."
    return console_actions.done("close_all", summary, told, ok=not summary["errors"])


@bp.post("/console/resume")
def resume():
    """Allow new entries again."""
    _require_session(check_csrf=True)
    bridge = services()
    current = bridge.controls.paused()
    lifted = bool(current and current.get("day"))
    if lifted:  # a day's loss or profit lock: lifted for the rest of the day, and told
        bridge.day_lock.lift("the console", Deadline(2.0))
    else:
        bridge.controls.resume()
    log_event(log, logging.WARNING, "trading_resumed", "trading resumed from the console")
    return console_actions.done("resume", {"lifted_day_lock": lifted}, "Trading resumed.")


def _require_session(check_csrf: bool) -> None:
    console_security.require_session(check_csrf)
