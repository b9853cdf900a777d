"""Liveness and readiness for Cloud Run: fast, no side effects, no personal data."""

from flask import Blueprint

from app.answers import Answer
from app.web.responses import respond, services

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """Alive: the process answers; no I/O."""
    return respond(Answer(200, {"status": "ok"}))


@bp.get("/readyz")
def readyz():
    """Ready: the master is loaded and the broker can take orders."""
    bridge = services()
    contracts = len(bridge.masters.current())
    broker_ready, reason = bridge.broker.readiness()
    ready = contracts > 0 and broker_ready
    body = {
        "status": "ready" if ready else "not_ready",
        "broker": bridge.broker.name,
        "broker_ready": broker_ready,
        "reason": reason,
        "contracts": contracts,
    }
    return respond(Answer(200 if ready else 503, body))


@bp.get("/readyz/startup")
def startup():
    """Cloud Run's startup probe: the process can serve (master loaded, state store reachable).

    Unlike /readyz it does not wait for a Fyers login: a fresh deployment must take traffic
    before the day's login, or the login's own callback could never reach it.
    """
    bridge = services()
    contracts = len(bridge.masters.current())
    try:
        bridge.store.get("control/trading.json")
        state_ok = True
    except Exception:  # the probe reports it; the details are in the store's own errors
        state_ok = False
    ready = contracts > 0 and state_ok
    body = {"status": "started" if ready else "starting", "contracts": contracts, "state_store": state_ok}
    return respond(Answer(200 if ready else 503, body))

