"""The Fyers login endpoints: /auth-url, /auth/callback, /generate-token, /refresh-token."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template_string, request

from app.answers import Answer, error_answer
from app.domain.contracts import IST
from app.domain.errors import BridgeError, InvalidRequest
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("auth", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fyers Alert Bridge: {{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
.ok{color:#0a6b2d}.bad{color:#a61b1b}</style></head>
<body><h1 class="{{ css }}">{{ title }}</h1><p>{{ message }}</p></body></html>"""


def _login():
    login = services().login
    if login is None:
        raise InvalidRequest("broker", "the paper broker needs no Fyers login (BROKER=paper)")
    return login


@bp.get("/auth-url")
@require_admin
def auth_url():
    """The Fyers login link (JSON), or a redirect to it with ?redirect=1."""
    url = _login().login_url()
    if request.args.get("redirect") in ("1", "true"):
        return redirect(url, code=302)
    return respond(Answer(200, {"status": "ok", "login_url": url}))


@bp.get("/auth/callback")
def auth_callback():
    """Where Fyers sends the browser back: check the state, exchange the code, say until when."""
    try:
        status, return_to = _login().complete(request.args.get("state"), request.args.get("auth_code"))
    except BridgeError as error:
        answer = error_answer(error)
        page = render_template_string(
            _PAGE, title="Login failed", css="bad", message=error.message
        )
        return page, answer.status, {"Content-Type": "text/html; charset=utf-8"}
    if return_to == "console":  # started from the console: straight back to it
        return redirect("/console?logged_in=1", code=303)
    until = status.expires_at.astimezone(IST).strftime("%d %b %Y %H:%M IST")
    page = render_template_string(
        _PAGE, title="Logged in to Fyers", css="ok", message=f"Logged in until {until}."
    )
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.post("/generate-token")
@require_admin
def generate_token():
    """Exchange an auth code from the body (`auth_code`) or FYERS_AUTH_CODE."""
    body = request.get_json(silent=True) or {}
    status = _login().generate(body.get("auth_code") if isinstance(body, dict) else None)
    return respond(Answer(200, {"status": "logged_in", **status.as_dict()}))


@bp.post("/refresh-token")
@require_admin
def refresh_token():
    """Cloud Scheduler's morning job: refresh if Fyers allows, else say a login is needed."""
    return respond(Answer(200, _login().refresh()))


@bp.get("/token-status")
@require_admin
def token_status():
    """Whether a usable Fyers session exists and until when (never the token)."""
    login = _login()
    return respond(Answer(200, {"status": "ok", **login.tokens.status().as_dict()}))
