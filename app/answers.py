"""What a caller is told: the one mapping from outcomes and errors to HTTP status, JSON and headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain import errors
from app.services.record import AlertResult, Outcome


@dataclass(frozen=True)
class Answer:
    """An HTTP status, a JSON body and any extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def status_for(error: errors.BridgeError) -> int:
    """The HTTP status a domain error carries (its class says it, stripe-python style)."""
    return error.http_status


def error_answer(error: errors.BridgeError, **extra: Any) -> Answer:
    """A JSON error answer naming the field or rule when there is one."""
    return answer_for(AlertResult.refused(error, **extra))


# An outcome's status when no error or stored answer sets it; any other outcome is 200.
# "partial": a sliced order some of whose slices Fyers rejected. Not 200 (the order is not
# what was asked) and not 5xx (a resend would place the standing slices again): 422 like a
# partly placed multi-leg alert, stored as final.
_STATUS_BY_OUTCOME = {
    Outcome.PENDING: 202,
    Outcome.QUEUED: 202,
    Outcome.PARTIAL: 422,
    Outcome.RECONCILED_PARTIAL: 422,
    Outcome.REJECTED: 422,
    Outcome.NOT_PLACED: 422,
    Outcome.INTERNAL_ERROR: 500,
}


def answer_for(result: AlertResult) -> Answer:
    """The HTTP answer to a service's result: status, body and headers."""
    if result.stored_status is not None:
        status = result.stored_status
    elif result.error is not None:
        status = status_for(result.error)
    else:
        status = _STATUS_BY_OUTCOME.get(result.outcome, 200)
    headers = {}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.retry_after:
        headers["Retry-After"] = str(max(1, round(result.retry_after)))
    return Answer(status, result.body, headers)
