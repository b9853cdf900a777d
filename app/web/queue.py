"""The queue of alerts that arrived while the market was closed (MARKET_CLOSED_POLICY=queue)."""

import socket
import uuid

from flask import Blueprint

from app.answers import Answer
from app.deadline import Deadline
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("queue", __name__)

DRAIN_BUDGET = 25.0  # seconds for one /process-queue call (a Scheduler job)
PER_ALERT = 2.5  # seconds each queued alert may take, as a live one
_WORKER = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


@bp.post("/process-queue")
@require_admin
def process_queue():
    """Cloud Scheduler at 09:15 IST: run every queued alert once, across all instances."""
    bridge = services()
    budget = Deadline(DRAIN_BUDGET)
    results = []
    for entry in bridge.queue.entries():
        if budget.remaining() < PER_ALERT:
            break
        if entry.get("state") != "queued":
            continue
        taken = bridge.queue.take(entry["id"], _WORKER)
        if taken is None:
            continue  # another instance (or call) has it
        state = bridge.alerts.market.state(Deadline(1.0))
        if not state.open and not bridge.queue.expired(taken):
            bridge.queue.put_back(taken, state.reason)
            results.append({"queue_id": taken["id"], "status": "still_queued", "message": state.reason})
            continue
        answer = bridge.alerts.run_queued(taken, Deadline(PER_ALERT))
        results.append({"queue_id": taken["id"], "status": answer.body.get("status"), "http_status": answer.status, "answer": answer.body})
    return respond(Answer(200, {"status": "ok", "processed": results}))


@bp.get("/queue")
@require_admin
def list_queue():
    """Every queued alert (without its secret)."""
    return respond(Answer(200, {"status": "ok", "queue": services().queue.entries()}))


@bp.delete("/queue/<entry_id>")
@require_admin
def cancel(entry_id: str):
    """Cancel a queued alert."""
    try:
        removed = services().queue.remove(entry_id)
    except ValueError:
        removed = False
    if not removed:
        return respond(Answer(404, {"status": "not_found", "message": "no such queued alert"}))
    return respond(Answer(200, {"status": "cancelled", "queue_id": entry_id}))
