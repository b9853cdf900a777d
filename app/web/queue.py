"""The queue of alerts that arrived while the market was closed (MARKET_CLOSED_POLICY=queue)."""

from flask import Blueprint

from app.answers import Answer, answer_for
from app.deadline import Deadline
from app.services.queue import Drained
from app.web.admin import require_admin, require_admin_or_scheduler
from app.web.responses import respond, services

bp = Blueprint("queue", __name__)

DRAIN_BUDGET = 25.0  # seconds for one /process-queue call (a Scheduler job)


@bp.post("/process-queue")
@require_admin_or_scheduler
def process_queue():
    """Cloud Scheduler at 09:15 IST: run every waiting alert once, across all instances."""
    drained = services().drain.run(Deadline(DRAIN_BUDGET))
    return respond(Answer(200, {"status": "ok", "processed": [_processed(item) for item in drained]}))


def _processed(item: Drained) -> dict:
    """One entry's line in the drain's answer: the run's HTTP answer when it ran."""
    taken = item.taken
    line = {"queue_id": taken.id, "status": item.status, "attempts": taken.entry["attempts"], "message": item.message}
    if item.result is not None:
        answer = answer_for(item.result)
        line.update(http_status=answer.status, answer=answer.body)
    if "taken_over_from" in taken.entry:
        line["taken_over_from"] = taken.entry["taken_over_from"]
    return line


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
