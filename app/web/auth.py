"""The Fyers login endpoints: /auth-url, /auth/start, /auth/callback, /generate-token, /refresh-token, /login-reminder.

A login started from the console or from a link sent to the phone comes back to
/console?logged_in=1; a browser without a console session is asked for the console login
there, and then goes on to that same page. A failed login never ends on a dead end: its page
offers a fresh start and the way back to the console.
"""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, render_template_string, request, session

from app.answers import Answer, error_answer
from app.domain.contracts import IST
from app.domain.errors import BridgeError, InvalidRequest
from app.services.login_state import BROWSER_COOKIE, LOGIN_TTL_SECONDS, browser_key
from app.web import console_security
from app.web.admin import require_admin, require_admin_or_scheduler
from app.web.responses import respond, services

bp = Blueprint("auth", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fyers Alert Bridge: {{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
.ok{color:#0a6b2d}.bad{color:#a61b1b}</style></head>
<body><h1 class="{{ css }}">{{ title }}</h1><p>{{ message }}</p>
<p><a href="/console" id="to-console">Go to the console</a>.</p></body></html>"""
# The login pages carry single-use values in their URLs: never cached, never sent on as a referrer.
_NO_TRACE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", **_NO_TRACE}
_OPEN_IN_BROWSER = (
    "Open login_url in the browser that will log in to Fyers: it marks that browser as the one "
    "logging in (a cookie), then goes on to Fyers. It works once, for 15 minutes."
)


def _login():
    login = services().login
    if login is None:
        raise InvalidRequest("broker", "the paper broker needs no Fyers login (BROKER=paper)")
    return login


def _failed(error: BridgeError):
    """The failure page: why, a fresh start (a new Fyers login, or the console login first) and the console."""
    live = console_security.session_live()
    csrf = session.get("csrf") if live else None
    page = render_template("console/login_failed.html", message=error.message, console_session=live, csrf=csrf)
    # The console's own headers: the page may carry the session's CSRF token, so it is never cached or framed.
    return page, error_answer(error).status, {**_PAGE_HEADERS, **console_security.SECURITY_HEADERS}


@bp.get("/auth-url")
@require_admin
def auth_url():
    """The login link (JSON, to open in a browser), or a redirect to it with ?redirect=1."""
    url = _login().login_url(return_to=None)  # an API caller: the callback says until when, on its own page
    if request.args.get("redirect") in ("1", "true"):
        return redirect(url, code=302)
    body = {"status": "ok", "login_url": url, "expires_in_seconds": LOGIN_TTL_SECONDS, "note": _OPEN_IN_BROWSER}
    return respond(Answer(200, body))


@bp.get("/auth/start")
def auth_start():
    """A login link opened in a browser: bind the login to this browser (a cookie), then on to Fyers."""
    key = browser_key(request.cookies.get(BROWSER_COOKIE))
    try:
        url = _login().start(request.args.get("t"), key)
    except BridgeError as error:
        return _failed(error)
    response = redirect(url, code=302)
    # Lax: the cookie rides on Fyers's top-level redirect back to the callback, on nothing cross-site.
    response.set_cookie(
        BROWSER_COOKIE, key, max_age=LOGIN_TTL_SECONDS, path="/", secure=True, httponly=True, samesite="Lax"
    )
    response.headers.update(_NO_TRACE)
    return response


@bp.get("/auth/callback")
def auth_callback():
    """Where Fyers sends the browser back: check the state and its browser, exchange the code, say until when."""
    try:
        browser = request.cookies.get(BROWSER_COOKIE)
        status, return_to = _login().complete(request.args.get("state"), browser, request.args.get("auth_code"))
    except BridgeError as error:
        return _failed(error)
    if return_to == "console":  # started from the console: straight back to it
        response = redirect("/console?logged_in=1", code=303)
    else:
        until = status.expires_at.astimezone(IST).strftime("%d %b %Y %H:%M IST")
        page = render_template_string(_PAGE, title="Logged in to Fyers", css="ok", message=f"Logged in until {until}.")
        response = make_response(page, 200, _PAGE_HEADERS)
    response.delete_cookie(BROWSER_COOKIE, path="/", secure=True, httponly=True, samesite="Lax")
    return response


@bp.post("/generate-token")
@require_admin
def generate_token():
    """Exchange an auth code from the body (`auth_code`) or FYERS_AUTH_CODE."""
    body = request.get_json(silent=True) or {}
    status = _login().generate(body.get("auth_code") if isinstance(body, dict) else None)
    return respond(Answer(200, {"status": "logged_in", **status.as_dict()}))


@bp.post("/refresh-token")
@require_admin_or_scheduler
def refresh_token():
    """Cloud Scheduler's morning job: refresh if Fyers allows, else say a login is needed."""
    return respond(Answer(200, _login().refresh()))


@bp.post("/login-reminder")
@require_admin_or_scheduler
def login_reminder():
    """Cloud Scheduler's 09:10 IST job: on a trading day with no Fyers login yet, a louder reminder."""
    bridge = services()
    today = bridge.clock.now().astimezone(IST).date()
    return respond(Answer(200, _login().remind(bridge.alerts.market.calendar.is_trading_day(today))))


@bp.get("/token-status")
@require_admin
def token_status():
    """Whether a usable Fyers session exists and until when (never the token)."""
    login = _login()
    return respond(Answer(200, {"status": "ok", **login.tokens.status().as_dict()}))
