"""Every error becomes a JSON answer; nothing a caller sends produces an HTML page."""

from flask import Flask
from werkzeug.exceptions import HTTPException

from app.answers import Answer, error_answer
from app.domain.errors import BridgeError
from app.web.responses import respond


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""

    @app.errorhandler(BridgeError)
    def bridge_error(error: BridgeError):
        return respond(error_answer(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 413:
            message = "the body is larger than 64 KB"
            return respond(Answer(413, {"status": "too_large", "message": message}))
        if error.code == 400:  # werkzeug could not read the request (e.g. a body cut short)
            body = {"status": "invalid", "field": "body", "message": error.description}
            return respond(Answer(400, body))
        status = (error.name or "error").lower().replace(" ", "_")
        return respond(Answer(error.code or 500, {"status": status, "message": error.description}))
