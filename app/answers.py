"""What a caller is told: the one mapping from outcomes and errors to HTTP status and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain import errors

_STATUS_BY_ERROR: list[tuple[type[errors.BridgeError], int]] = [
    (errors.Forbidden, 403),
    (errors.InvalidAlert, 400),
    (errors.Unauthorized, 401),
    (errors.AlertInFlight, 409),
    (errors.PayloadTooLarge, 413),
    (errors.Unexecutable, 422),
    (errors.BrokerUnavailable, 503),
    (errors.StateUnavailable, 503),
]


@dataclass(frozen=True)
class Answer:
    """An HTTP status, a JSON body and any extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def status_for(error: errors.BridgeError) -> int:
    """The HTTP status for a domain error (most specific class first)."""
    for cls, status in _STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


def error_answer(error: errors.BridgeError, **extra: Any) -> Answer:
    """A JSON error answer naming the field or rule when there is one."""
    body: dict[str, Any] = {"status": error.code, "message": error.message}
    body.update({k: v for k, v in error.details.items() if v is not None})
    body.update(extra)
    headers = {}
    retry_after = error.details.get("retry_after")
    if retry_after:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return Answer(status_for(error), body, headers)
