"""/console: the operator's page on a phone: status, one-click Fyers login, the journal, pause.

Server-rendered (Jinja), no build step. The admin token is entered once; the session is a
signed cookie (HttpOnly, Secure, SameSite=Lax) whose key is derived from ADMIN_TOKEN, so every
instance accepts it and changing the token signs everybody out. Every form carries a CSRF
token bound to the session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for

from app.deadline import Deadline
from app.domain.contracts import IST
from app.logs import log_event
from app.security import same_secret
from app.web.responses import services

bp = Blueprint("console", __name__, template_folder="templates")
log = logging.getLogger(__name__)

SESSION_HOURS = 12


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
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.register_blueprint(bp)


def services_of(app: Flask):
    """The wired services of an app being built."""
    return app.extensions["bridge"]


@bp.get("/console/login")
def login_form():
    """The admin-token form."""
    return render_template("console/login.html", error=None, configured=bool(services().settings.admin_token))


@bp.post("/console/login")
def login():
    """Check the admin token once (constant time) and open a session."""
    expected = services().settings.admin_token
    given = request.form.get("admin_token", "")
    if not expected or not same_secret(given, expected):
        log_event(log, logging.WARNING, "console_login_failed", "console login refused")
        page = render_template("console/login.html", error="That is not the admin token.", configured=bool(expected))
        return page, 401
    session.clear()
    session.permanent = True
    session["admin"] = True
    session["csrf"] = secrets.token_urlsafe(24)
    return redirect(url_for("console.index"), code=303)


@bp.post("/console/logout")
def logout():
    """Close the session."""
    _require_session(check_csrf=True)
    session.clear()
    return redirect(url_for("console.login_form"), code=303)


@bp.get("/console")
def index():
    """Status, today's alerts, notifications and the controls."""
    if not session.get("admin"):
        return redirect(url_for("console.login_form"), code=303)
    bridge = services()
    now = bridge.clock.now().astimezone(IST)
    token = bridge.login.tokens.status() if bridge.login else None
    broker_ready, broker_reason = bridge.broker.readiness()
    market = bridge.alerts.market.state(Deadline(1.0))
    alerts = list(reversed(bridge.journal.day(now.date(), limit=500)))
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
        alerts=alerts,
        notifications=bridge.notifications.recent()[:20],
        csrf=session.get("csrf"),
        logged_in=request.args.get("logged_in") == "1",
    )


@bp.post("/console/fyers-login")
def fyers_login():
    """One click: to Fyers's login page; the callback brings the browser back here."""
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
    return redirect(url_for("console.index"), code=303)


@bp.post("/console/resume")
def resume():
    """Allow new entries again."""
    _require_session(check_csrf=True)
    services().controls.resume()
    log_event(log, logging.WARNING, "trading_resumed", "trading resumed from the console")
    return redirect(url_for("console.index"), code=303)


def _require_session(check_csrf: bool) -> None:
    if not session.get("admin"):
        abort(401, "log in to the console first")
    if check_csrf:
        expected = session.get("csrf", "")
        given = request.form.get("csrf_token", "")
        if not expected or not same_secret(given, expected):
            abort(403, "the form expired or did not come from the console: reload the page")
