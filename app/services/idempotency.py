"""Exactly-once alerts: an atomic claim per idempotency key, then the final answer kept for a TTL.

A claim carries a lease, a little longer than an alert's whole budget: the claimer cannot send
an order after its own deadline, so a claim still in flight when its lease ends belongs to a
process that died. The next request with that key takes it over, and is told to ask the
broker's order book before it places anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from app.domain.errors import AlertInFlight
from app.ports import Clock, StateStore

_MAX_CLAIM_ATTEMPTS = 3  # create, then at most two races with a concurrent delete or expiry


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key until it completes or releases it."""

    key: str
    document: str
    generation: int
    ttl: int
    claimed_at: float  # when the key was first claimed (epoch seconds); fixes the order tag
    taken_over: bool = False  # a dead claimer's key: the broker's book decides what to do


@dataclass(frozen=True, slots=True)
class Replay:
    """The key was answered before: the stored answer, to be sent again unchanged."""

    status: int
    body: dict[str, Any]


class IdempotencyLedger:
    """Claims keys with create-only writes and stores final answers with compare-and-swap."""

    def __init__(self, store: StateStore, clock: Clock, ttl_seconds: int, lease_seconds: float):
        self._store = store
        self._clock = clock
        self._ttl = ttl_seconds
        self._lease = lease_seconds

    def claim(self, key: str, alert_id: str, ttl: int | None = None) -> Claim | Replay:
        """Own the key, or get its stored answer; AlertInFlight while a live request owns it."""
        document = self._document(key)
        ttl = ttl or self._ttl
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            now = self._clock.now().timestamp()
            record = {
                "state": "in_flight",
                "alert_id": alert_id,
                "claimed_at": now,
                "lease_until": now + self._lease,
            }
            generation = self._store.create(document, record)
            if generation is not None:
                return Claim(key, document, generation, ttl, now)
            existing = self._store.get(document)
            if existing is None:
                continue  # released between our create and our read: try again
            data = existing.data
            if data["state"] == "in_flight":
                if data.get("lease_until", float("inf")) > now:
                    raise AlertInFlight(
                        "an alert with this idempotency key is still being processed",
                        alert_id=data.get("alert_id"),
                    )
                # Its claimer died mid-alert: take over, remembering since when to look.
                since = data.get("first_claimed_at", data["claimed_at"])
                record.update(first_claimed_at=since, taken_over_from=data.get("alert_id"))
                generation = self._store.replace(document, record, existing.generation)
                if generation is not None:
                    return Claim(key, document, generation, ttl, since, taken_over=True)
                continue
            if data["expires_at"] > now:
                return Replay(data["status"], data["body"])
            generation = self._store.replace(document, record, existing.generation)
            if generation is not None:
                return Claim(key, document, generation, ttl, now)
        raise AlertInFlight("an alert with this idempotency key is being processed concurrently")

    def complete(self, claim: Claim, status: int, body: dict[str, Any]) -> None:
        """Store the final answer under the key for the TTL."""
        now = self._clock.now().timestamp()
        self._store.replace(
            claim.document,
            {
                "state": "done",
                "alert_id": body.get("alert_id"),
                "status": status,
                "body": body,
                "completed_at": now,
                "expires_at": now + claim.ttl,
            },
            claim.generation,
        )

    def amend(self, key: str, status: int, body: dict[str, Any]) -> bool:
        """Replace a final answer (a pending order settled later); False if it changed meanwhile."""
        document = self._document(key)
        current = self._store.get(document)
        if current is None or current.data.get("state") != "done":
            return False
        amended = {**current.data, "status": status, "body": body}
        return self._store.replace(document, amended, current.generation) is not None

    def release(self, claim: Claim) -> None:
        """Give the key up so that a resend is processed afresh."""
        self._store.delete(claim.document, claim.generation)

    @staticmethod
    def _document(key: str) -> str:
        return "idempotency/" + hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json"
