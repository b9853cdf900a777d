"""Turning an `Answer` into a Flask response."""

from flask import current_app, jsonify

from app.answers import Answer


def respond(answer: Answer):
    """JSON body, status and headers of an answer."""
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response


def services():
    """The wired services of this app."""
    return current_app.extensions["bridge"]
