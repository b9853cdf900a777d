"""The queue of alerts that arrived while the market was closed (MARKET_CLOSED_POLICY=queue)."""

import logging
import socket
import uuid

from flask import Blueprint

from app.answers import Answer
from app.deadline import Deadline
from app.services.queue import MARKET_CHECK_SECONDS, TakenEntry
from app.web.admin import require_admin
from app.web.responses import respond, services

log = logging.getLogger(__name__)

bp = Blueprint("queue", __name__)

DRAIN_BUDGET = 25.0  # seconds for one /process-queue call (a Scheduler job)
_WORKER = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


@bp.post("/process-queue")
@require_admin
def process_queue():
    """Cloud Scheduler at 09:15 IST: run every waiting alert once, across all instances."""
    bridge = services()
    budget = Deadline(DRAIN_BUDGET)
    # Each queued alert gets the budget of a live one (ALERT_DEADLINE_SECONDS).
    per_alert = bridge.settings.alert_deadline_seconds
    bridge.queue.forget_ended()
    results = []
    for entry in bridge.queue.waiting():
        if budget.remaining() < per_alert + MARKET_CHECK_SECONDS:
            break
        taken = bridge.queue.take(entry["id"], _WORKER)
        if taken is None:
            continue  # another instance (or call) is running it
        results.append(_run(bridge, taken, per_alert))
    return respond(Answer(200, {"status": "ok", "processed": results}))


def _run(bridge, taken: TakenEntry, per_alert: float) -> dict:
    """One taken entry: back to the queue while the market is closed, else run it."""
    try:
        state = bridge.alerts.market.state(Deadline(MARKET_CHECK_SECONDS))
        if not state.open and not bridge.queue.expired(taken.entry):
            bridge.queue.put_back(taken, state.reason)
            return _result(taken, "still_queued", None, {"message": state.reason})
        answer = bridge.alerts.run_queued(taken, Deadline(per_alert))
    except Exception:
        # Whatever broke, the entry must not stay `processing` until its lease runs out.
        log.exception("queued alert could not be run", extra={"event": "queue_error"})
        bridge.queue.put_back(taken, "internal_error: the drain failed unexpectedly")
        return _result(taken, "still_queued", 500, {"message": "the drain failed unexpectedly"})
    return _result(taken, answer.body.get("status"), answer.status, answer.body)


def _result(taken: TakenEntry, status: str | None, http_status: int | None, body: dict) -> dict:
    result = {"queue_id": taken.id, "status": status, "attempts": taken.entry["attempts"], "message": body.get("message")}
    if http_status is not None:
        result.update(http_status=http_status, answer=body)
    if "taken_over_from" in taken.entry:
        result["taken_over_from"] = taken.entry["taken_over_from"]
    return result


@bp.get("/queue")
@require_admin
def list_queue():
    """Waiting alerts (without their secret), and those that ended in the last 7 days."""
    queue = services().queue
    return respond(Answer(200, {"status": "ok", "queue": queue.waiting(), "ended": queue.ended()}))


@bp.delete("/queue/<entry_id>")
@require_admin
def cancel(entry_id: str):
    """Cancel a queued alert; the trader is notified."""
    ended = services().alerts.cancel_queued(entry_id)
    if ended is not None:
        return respond(Answer(200, {"status": "cancelled", "queue_id": entry_id}))
    found = services().queue.find(entry_id)
    if found is None:
        return respond(Answer(404, {"status": "not_found", "message": "no such queued alert", "queue_id": entry_id}))
    return respond(
        Answer(
            409,
            {
                "status": found["state"],
                "message": f"the alert is {found['state']}, not queued: it cannot be cancelled",
                "queue_id": entry_id,
            },
        )
    )
