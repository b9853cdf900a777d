"""Turning an `Answer` into a Flask response."""

import logging
from typing import Callable

from flask import current_app, jsonify

from app.answers import Answer
from app.deadline import Deadline

log = logging.getLogger(__name__)


def respond(answer: Answer):
    """JSON body, status and headers of an answer."""
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response


def respond_then(answer: Answer, then: Callable[[], None]):
    """The answer, written whole, then `then()` run before the request ends.

    Content-Length is set, so the caller has the complete answer as soon as its bytes are
    written (no chunked ending to wait for); the work that follows still runs inside the
    request, so Cloud Run keeps the CPU for it.
    """
    body = jsonify(answer.body).get_data()  # the same bytes `respond` would write

    bridge = current_app.extensions.get("bridge")

    def stream():
        yield body
        try:
            then()
        except Exception:  # the answer is out; what went wrong is in the log
            log.exception("work after the answer failed", extra={"event": "then_failed"})
        notifications = getattr(bridge, "notifications", None)
        if notifications is not None:  # anything `then` raised to tell, still inside the request
            notifications.flush(Deadline(1.0))

    headers = {**answer.headers, "Content-Length": str(len(body))}
    return current_app.response_class(stream(), status=answer.status, headers=headers, mimetype="application/json")


def services():
    """The wired services of this app."""
    return current_app.extensions["bridge"]
