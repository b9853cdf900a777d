"""Every log line written while handling a request carries its request id."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

from app.logs import reset_log_context, start_log_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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
        return response

    @app.teardown_request
    def close_context(_error=None):
        token = g.pop("log_context_token", None)
        if token is not None:
            reset_log_context(token)
