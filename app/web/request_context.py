"""Every log line written while handling a request carries its request id."""

from __future__ import annotations

import re
import uuid

from flask import Flask, current_app, g, request

from app.deadline import Deadline
from app.logs import reset_log_context, start_log_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HELD_NOTIFICATIONS_SECONDS = 0.3  # rare (a 429): what it may add to the request that met it


def init_app(app: Flask) -> None:
    """Open a log context per request and close it after."""

    @app.before_request
    def open_context():
        given = request.headers.get("X-Request-Id", "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        g.log_context_token = start_log_context(request_id=request_id)
        g.request_id = request_id

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        send_held_notifications()
        return response

    @app.teardown_request
    def close_context(_error=None):
        token = g.pop("log_context_token", None)
        if token is not None:
            reset_log_context(token)


def send_held_notifications() -> None:
    """Send notifications held during the request (a 429 inside a broker call) before it ends."""
    notifications = getattr(current_app.extensions.get("bridge"), "notifications", None)
    if notifications is not None:
        notifications.flush(Deadline(HELD_NOTIFICATIONS_SECONDS))
