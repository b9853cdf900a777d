"""GET /openapi.json: the HTTP contract, for operators, client generators and schemathesis."""

from __future__ import annotations

from flask import Blueprint

from app.answers import Answer
from app.web.responses import respond

bp = Blueprint("openapi", __name__)

_ERROR = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "field": {"type": "string"},
        "suggestion": {"type": "string", "description": "the known field an unknown one most likely means"},
        "line": {"type": "integer", "description": "a JSON syntax error's line"},
        "column": {"type": "integer", "description": "a JSON syntax error's column"},
        "alert_id": {"type": "string"},
    },
}
_ADJUSTMENT = {
    "type": "object",
    "required": ["field", "sent", "used", "reason"],
    "properties": {
        "field": {"type": "string"},
        "sent": {"type": "number"},
        "used": {"type": "number"},
        "reason": {"type": "string"},
    },
}
_ORDER = {
    "type": "object",
    "required": ["status", "alert_id"],
    "properties": {
        "status": {"type": "string"},
        "alert_id": {"type": "string"},
        "order_id": {"type": ["string", "null"]},
        "symbol": {"type": "string"},
        "expiry": {"type": "string", "format": "date"},
        "strike": {"type": "number"},
        "option_type": {"type": "string"},
        "qty": {"type": "integer"},
        "lots": {"type": "integer"},
        "side": {"type": "string", "enum": ["BUY", "SELL"]},
        "product_type": {"type": "string"},
        "ltp": {"type": "number"},
        "sl": {"type": "number"},
        "tp": {"type": "number"},
        "adjustments": {
            "type": "array",
            "items": _ADJUSTMENT,
            "description": "the alert's sl/tp levels not used as sent (INVALID_LEVELS=replace)",
        },
        "message": {"type": "string"},
    },
}
_NUMBER = {"oneOf": [{"type": "number"}, {"type": "string"}]}
_INFORMATIONAL = {"description": "journaled as sent, never read to trade"}
_ALERT = {
    "type": "object",
    "required": ["symbol", "action"],
    # An unknown field is a 400 naming it: an order never goes out on defaults.
    "additionalProperties": False,
    "properties": {
        "token": {"type": "string", "description": "WEBHOOK_SECRET_TOKEN"},
        "secret": {"type": "string", "description": "alias of token"},
        "symbol": {"type": "string", "example": "NIFTY", "description": "the underlying, or its TradingView ticker (NSE:NIFTY, NIFTY1!)"},
        "strikeprice": {"oneOf": [{"type": "number"}, {"type": "string", "description": "a number, ATM, ITM1-10 or OTM1-10"}]},
        "optionType": {"type": "string", "enum": ["CE", "PE"]},
        "expiry": {
            "type": "string",
            "description": "WEEKLY, NEXT_WEEKLY, MONTHLY, NEXT_MONTHLY or YYYY-MM-DD",
        },
        "action": {"type": "string", "description": "BUY, SELL or EXIT, any case"},
        "qty": _NUMBER,
        "lots": _NUMBER,
        "strategy": {"type": "string"},
        "dry_run": {"type": "boolean"},
        "scope": {"type": "string", "enum": ["contract", "underlying"]},
        "legs": {"type": "array", "items": {"type": "object"}, "maxItems": 6},
        "productType": {"type": "string", "enum": ["INTRADAY", "MARGIN", "CO", "BO"]},
        "sl": _NUMBER,
        "tp": _NUMBER,
        "idempotency_key": {"type": "string"},
        "strike": {"description": "alias of strikeprice"},
        "option_type": {"description": "alias of optionType"},
        "quantity": {"description": "alias of qty"},
        "product_type": {"description": "alias of productType"},
        "stop_loss": {"description": "alias of sl"},
        "target": {"description": "alias of tp"},
        "meta": {"type": "object", "description": "free-form; journaled"},
        **{
            name: _INFORMATIONAL
            for name in ("comment", "price", "close", "open", "high", "low", "volume", "interval", "ticker",
                         "exchange", "time", "timenow", "position_size", "market_position")
        },
    },
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    meaning = {
        400: "invalid input; `field` names it",
        401: "missing or wrong secret or admin token",
        403: "sender outside ALLOWED_SOURCE_IPS",
        404: "not found",
        405: "method not allowed",
        409: "the same idempotency key is in flight",
        413: "body over 64 KB",
        422: "valid, but cannot be executed",
        503: "broker or state unavailable; nothing placed",
    }
    return {str(code): _json(_ERROR, meaning[code]) for code in codes}


_ADMIN = [{"admin": []}]
_COMMON = (401, 404, 405)


def document() -> dict:
    """The OpenAPI 3.1 document of the bridge."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fyers Alert Bridge", "version": "1.0.0"},
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Alert": _ALERT, "Order": _ORDER, "Error": _ERROR},
        },
        "paths": {
            "/webhook": {
                "post": {
                    "summary": "Execute a TradingView alert",
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Alert"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Order"}, "order placed (or replayed)"),
                        "202": _json({"$ref": "#/components/schemas/Order"}, "outcome unknown; being reconciled"),
                        **_errors(400, 401, 403, 405, 409, 413, 422, 503),
                    },
                }
            },
            "/webhook/test": {
                "post": {
                    "summary": "Dry run: the orders an alert would place; nothing is sent",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Alert"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {"200": _json({"type": "object"}, "the orders"), **_errors(400, 401, 403, 405, 413, 422, 503)},
                }
            },
            "/admin/pause": {
                "post": {
                    "summary": "Kill switch: refuse new entries (exits stay allowed)",
                    "security": _ADMIN,
                    "responses": {"200": _json({"type": "object"}, "paused"), **_errors(*_COMMON, 503)},
                }
            },
            "/admin/resume": {
                "post": {
                    "summary": "Allow new entries again",
                    "security": _ADMIN,
                    "responses": {"200": _json({"type": "object"}, "resumed"), **_errors(*_COMMON, 503)},
                }
            },
            "/admin/status": {
                "get": {
                    "summary": "Paused or not, and today's order count",
                    "security": _ADMIN,
                    "responses": {"200": _json({"type": "object"}, "status"), **_errors(*_COMMON, 503)},
                }
            },
            "/process-queue": {
                "post": {
                    "summary": "Run waiting queued alerts once (Cloud Scheduler, 09:15 IST)",
                    "description": "Each entry taken (or taken over after its lease) is run with ALERT_DEADLINE_SECONDS; "
                    "it ends placed, failed, expired or cancelled, or goes back to `queued` with `attempts` and `last_reason`.",
                    "security": _ADMIN,
                    "responses": {
                        "200": _json({"type": "object"}, "processed: per entry `queue_id`, `status`, `attempts`, `http_status`, `answer`"),
                        **_errors(*_COMMON, 503),
                    },
                }
            },
            "/queue": {
                "get": {
                    "summary": "Queued alerts: `queue` (waiting) and `ended` (the last 7 days)",
                    "security": _ADMIN,
                    "responses": {
                        "200": _json({"type": "object"}, "each entry with `state`, `attempts` and `last_reason`"),
                        **_errors(*_COMMON, 503),
                    },
                }
            },
            "/queue/{entry_id}": {
                "delete": {
                    "summary": "Cancel a queued alert",
                    "security": _ADMIN,
                    "parameters": [{"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": _json({"type": "object"}, "cancelled (the trader is notified)"),
                        **_errors(*_COMMON, 503),
                        "409": _json({"type": "object"}, "the entry is processing or has ended; `status` names its state"),
                    },
                }
            },
            "/health": {"get": {"summary": "Liveness", "responses": {"200": _json({"type": "object"}, "alive")}}},
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {
                        "200": _json({"type": "object"}, "ready"),
                        "503": _json({"type": "object"}, "not ready"),
                    },
                }
            },
            "/readyz/startup": {
                "get": {
                    "summary": "Startup probe: master loaded, state store reachable",
                    "responses": {
                        "200": _json({"type": "object"}, "started"),
                        "503": _json({"type": "object"}, "starting"),
                    },
                }
            },
            "/auth-url": {
                "get": {
                    "summary": "The Fyers login link",
                    "security": _ADMIN,
                    "parameters": [{"name": "redirect", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {
                        "200": _json({"type": "object"}, "login_url"),
                        "302": {"description": "redirect to Fyers"},
                        **_errors(400, *_COMMON),
                    },
                }
            },
            "/auth/callback": {
                "get": {
                    "summary": "Fyers's redirect after login",
                    "parameters": [
                        {"name": "auth_code", "in": "query", "required": False, "schema": {"type": "string"}},
                        {"name": "state", "in": "query", "required": False, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "logged in", "content": {"text/html": {"schema": {"type": "string"}}}},
                        **{
                            str(code): {"description": "login failed", "content": {"text/html": {"schema": {"type": "string"}}}}
                            for code in (400, 422, 503)
                        },
                    },
                }
            },
            "/generate-token": {
                "post": {
                    "summary": "Exchange an auth code",
                    "security": _ADMIN,
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": {"type": "object", "properties": {"auth_code": {"type": "string"}}}}},
                    },
                    "responses": {"200": _json({"type": "object"}, "logged in"), **_errors(400, 422, 503, *_COMMON)},
                }
            },
            "/refresh-token": {
                "post": {
                    "summary": "Refresh the Fyers session, or say a login is needed",
                    "security": _ADMIN,
                    "responses": {"200": _json({"type": "object"}, "refreshed or login_required"), **_errors(400, *_COMMON)},
                }
            },
            "/token-status": {
                "get": {
                    "summary": "Whether a Fyers session is usable",
                    "security": _ADMIN,
                    "responses": {"200": _json({"type": "object"}, "status"), **_errors(400, *_COMMON)},
                }
            },
            "/reconcile": {
                "post": {
                    "summary": "Settle pending orders from the order book",
                    "security": _ADMIN,
                    "responses": {"200": _json({"type": "object"}, "settled"), **_errors(*_COMMON, 503)},
                }
            },
            "/orders": {
                "get": {
                    "summary": "A day's journal",
                    "security": _ADMIN,
                    "parameters": [{"name": "date", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}],
                    "responses": {"200": _json({"type": "object"}, "the day's alerts"), **_errors(400, *_COMMON, 503)},
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document."""
    return respond(Answer(200, document()))
