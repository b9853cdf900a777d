"""What guards the console's pages: server-side sessions, the login's rate limit, and the response headers."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request, session

from app.logs import log_event
from app.services.console_sessions import ConsoleSessions
from app.services.login_throttle import LoginThrottle
from app.web.responses import services
from app.web.source_ip import client_ip

log = logging.getLogger(__name__)

# The console has no script, no frame, no image of its own, and its one style sheet is inline.
# frame-ancestors / X-Frame-Options: no other site can frame it to steer a tap (clickjacking).
# No form-action: the Fyers-login form is answered by a redirect to Fyers, which it would block.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",  # the journal and the CSRF token stay out of every cache
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def init_app(app: Flask, bridge) -> None:
    """This instance's login throttle, and the sessions shared through the state store."""
    app.extensions["console_sessions"] = ConsoleSessions(bridge.store, bridge.clock)
    app.extensions["console_throttle"] = LoginThrottle(bridge.clock)


def protect(response):
    """Every console answer, pages and refusals alike: never cached, never framed."""
    response.headers.update(SECURITY_HEADERS)
    return response


def session_live() -> bool:
    """Whether the request carries a console session that is still open (not logged out, not past 12 h)."""
    return bool(session.get("admin")) and current_app.extensions["console_sessions"].live(session.get("sid"))


def open_session() -> str:
    """Open a server-side session; its id goes into the signed cookie."""
    return current_app.extensions["console_sessions"].open()


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
