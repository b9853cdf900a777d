"""What guards the console's pages: server-side sessions, the login's rate limit, and the response headers."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import Flask, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from app.logs import log_event
from app.security import same_secret
from app.services.audit import Audit
from app.services.console_sessions import SESSION_LIFETIME, ConsoleSessions
from app.services.login_throttle import LoginThrottle
from app.web.responses import services
from app.web.source_ip import client_ip

log = logging.getLogger(__name__)

# The console has no frame, no image of its own, and its one style sheet is inline. Its one script,
# the home's auto-refresh, is served from the console (never inline, never another site) and
# fetches only the console's own pages.
# frame-ancestors / X-Frame-Options: no other site can frame it to steer a tap (clickjacking).
# No form-action: the Fyers-login form is answered by a redirect to Fyers, which it would block.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; script-src 'self'; connect-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",  # the journal and the CSRF token stay out of every cache
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# Where a login may go on to: a console page on this origin, never another site (an open redirect).
_NEXT = re.compile(r"/console(/[a-z0-9/_-]*)?(\?[A-Za-z0-9_=&-]*)?")
_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Macintosh", "Mac"), ("Linux", "Linux"))


class _ConsoleCookie(SecureCookieSessionInterface):
    """The signed session cookie, kept by the browser as long as its server-side session lasts."""

    def get_expiration_time(self, app: Flask, session_cookie) -> datetime | None:
        """A remembered device's cookie lasts CONSOLE_REMEMBER_DAYS; any other, 12 hours."""
        if not session_cookie.permanent:
            return None
        remembered = session_cookie.get("remember")
        return datetime.now(timezone.utc) + (app.permanent_session_lifetime if remembered else SESSION_LIFETIME)


def init_app(app: Flask, bridge) -> None:
    """This instance's login throttle, the sessions shared through the state store, and the cookie's lifetime."""
    remembered = timedelta(days=bridge.settings.console_remember_days)
    # The signature's age limit is the longest a session may last; the server-side record ends the shorter ones.
    app.config["PERMANENT_SESSION_LIFETIME"] = remembered
    app.session_interface = _ConsoleCookie()
    app.extensions["console_sessions"] = ConsoleSessions(bridge.store, bridge.clock, SESSION_LIFETIME, remembered)
    app.extensions["console_throttle"] = LoginThrottle(bridge.clock)
    app.extensions.setdefault("audit", Audit(bridge.store, bridge.clock))  # one per app: its sequence orders entries


def audit(action: str, details: dict) -> None:
    """File an audit entry for a console action, naming the device it came from."""
    actor = f"console ({device_name(request.headers.get('User-Agent', ''))})"
    current_app.extensions["audit"].record(actor, action, details)


def protect(response):
    """Every console answer, pages and refusals alike: never cached, never framed."""
    response.headers.update(SECURITY_HEADERS)
    return response


def session_live() -> bool:
    """Whether the request carries a console session that is still open (not logged out, not past 12 h)."""
    return bool(session.get("admin")) and current_app.extensions["console_sessions"].live(session.get("sid"))


def open_session(remember: bool = False) -> str:
    """Open a server-side session (remembered: long-lived, listed as a trusted device); its id goes into the cookie."""
    device = device_name(request.headers.get("User-Agent", ""))
    return current_app.extensions["console_sessions"].open(remember, device)


def begin(remember: bool) -> None:
    """A fresh signed cookie for a new server-side session, with its CSRF token."""
    session.clear()
    session.permanent = True
    session["admin"] = True
    session["remember"] = remember
    session["sid"] = open_session(remember)
    session["csrf"] = secrets.token_urlsafe(24)


def require_session(check_csrf: bool) -> None:
    """Refuse (401) without a live session and (403) a form without the session's CSRF token."""
    if not session_live():
        abort(401, "log in to the console first")
    if check_csrf:
        expected = session.get("csrf", "")
        given = request.form.get("csrf_token", "")
        if not expected or not same_secret(given, expected):
            abort(403, "the form expired or did not come from the console: reload the page")


def login_then(page: str) -> str:
    """The console login's address, going on to `page` after it (plain /console needs no mention)."""
    page = page.rstrip("?")
    return "/console/login" if page == "/console" else "/console/login?" + urlencode({"next": page})


def next_page(value: object) -> str:
    """Where to go after the console login: the console page asked for, else the console."""
    return value if isinstance(value, str) and _NEXT.fullmatch(value) else "/console"


def device_name(user_agent: str) -> str:
    """A device as a person names it ("Chrome on Android"), from its User-Agent."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "a browser")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    return f"{browser} on {system}" if system else browser


def close_session() -> None:
    """Revoke the request's session on every instance."""
    current_app.extensions["console_sessions"].close(session.get("sid"))


def login_retry_after() -> int | None:
    """Seconds this source must wait before another login attempt, or None."""
    return current_app.extensions["console_throttle"].retry_after(_source())


def login_failed() -> None:
    """Count a failed login from this source (logged once, when it reaches the limit)."""
    if current_app.extensions["console_throttle"].failed(_source()):
        log_event(log, logging.WARNING, "console_login_throttled", "console login paused for a source after failures")


def login_succeeded() -> None:
    """Clear this source's failures."""
    current_app.extensions["console_throttle"].succeeded(_source())


def _source() -> str:
    return client_ip(request, services().settings.trusted_proxy_hops)
