"""GET /openapi.json: the HTTP contract, for operators, client generators and schemathesis.

The document is the static file openapi.json next to this module, read once at the first
request (never at import). Edit it there; tests/reliability/test_openapi_fuzz.py checks it
lists exactly the routes the app serves and that every answer conforms to it.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

from flask import Blueprint

from app.answers import Answer
from app.web.responses import respond

bp = Blueprint("openapi", __name__)

_DOCUMENT = Path(__file__).with_name("openapi.json")


@functools.cache
def _loaded() -> dict:
    return json.loads(_DOCUMENT.read_text(encoding="utf-8"))


def document() -> dict:
    """The OpenAPI 3.1 document of the bridge (a copy: callers may change it freely)."""
    return copy.deepcopy(_loaded())


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document."""
    return respond(Answer(200, document()))
