"""Exactly-once alerts: an atomic claim per idempotency key, then the final answer kept for a TTL.

The states of one key (a document in the state store):

             claim: create-only,               complete: a final answer
             naming its journal record         (the named record created)
  (no key) ---------------------> IN FLIGHT ------------------------> DONE, replayed to every resend:
     ^  ^                          |    ^ |                            PLACED  200 (partly placed: 422)
     |  |  settle: release         |    | | lease over (the claimer    PENDING 202; `amend` writes what
     |  +--------------------------+    | | died): TAKEN OVER by the            the order book settles
     |     400/401/409/503: a resend    +-+ next claim, which asks              into the claim document
     |     could do better                  the order book first       FAILED  422, for good
     |                                                                    |
     +------------------------- TTL over: claimed afresh -----------------+

One write completes a claim and journals the alert: the claim document names the journal record
(`record`) that will complete it, and that record, created when the alert ends, carries the
answer (`answer`: status, body, expiry). A claim reads as DONE once its record exists, so a
replay reads the claim, then its record. A claim with no record (a leg of a multi-order alert),
or whose record could not be written, is completed in the claim document itself (`complete`,
the DONE document of before, which still replays); so is an amended answer.

A claim carries a lease, a little longer than an alert's whole budget: the claimer cannot send
an order after its own deadline, so a claim still in flight when its lease ends belongs to a
process that died. The next request with that key takes it over, and is told to ask the
broker's order book before it places anything. An unexpected failure (500) after an order may
have been sent neither stores nor releases: its journal record goes under another name, and the
key stays in flight until its lease ends, so only a takeover, which asks the book, can run the
alert again. `settle` is that decision.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from app.answers import answer_for
from app.domain.errors import AlertInFlight
from app.ports import Clock, StateStore
from app.services.record import AlertResult

log = logging.getLogger(__name__)

_MAX_CLAIM_ATTEMPTS = 3  # create, then at most two races with a concurrent delete or expiry
FINAL = (200, 202, 422)  # answers kept for replays; a resend could change any other (400, 401, 409, 503)


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key until it completes or releases it."""

    key: str
    document: str
    generation: int
    ttl: int
    claimed_at: float  # when the key was first claimed (epoch seconds); fixes the order tag
    taken_over: bool = False  # a dead claimer's key: the broker's book decides what to do
    record: str | None = None  # the journal record that completes the claim by carrying its answer


@dataclass(frozen=True, slots=True)
class Replay:
    """The key was answered before: the stored answer, to be sent again unchanged."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IdempotencyLedger:
    """Claims keys with create-only writes and stores final answers with compare-and-swap."""

    store: StateStore
    clock: Clock
    ttl_seconds: int
    lease_seconds: float

    def claim(self, key: str, alert_id: str, ttl: int | None = None, record: str | None = None) -> Claim | Replay:
        """Own the key, or get its stored answer; AlertInFlight while a live request owns it.

        `record` names the journal record that will complete the claim by carrying its answer.
        """
        document = self._document(key)
        ttl = ttl or self.ttl_seconds
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            now = self.clock.now().timestamp()
            lease_until = now + self.lease_seconds
            claim = {"state": "in_flight", "alert_id": alert_id, "claimed_at": now, "lease_until": lease_until}
            if record is not None:
                claim["record"] = record
            generation = self.store.create(document, claim)
            if generation is not None:
                return Claim(key, document, generation, ttl, now, record=record)
            existing = self.store.get(document)
            if existing is None:
                continue  # released between our create and our read: try again
            data = self._answered(existing.data)
            if data["state"] == "in_flight":
                if data.get("lease_until", float("inf")) > now:
                    raise AlertInFlight(
                        "an alert with this idempotency key is still being processed",
                        alert_id=data.get("alert_id"),
                    )
                # Its claimer died mid-alert: take over, remembering since when to look.
                since = data.get("first_claimed_at", data["claimed_at"])
                claim.update(first_claimed_at=since, taken_over_from=data.get("alert_id"))
                generation = self.store.replace(document, claim, existing.generation)
                if generation is not None:
                    return Claim(key, document, generation, ttl, since, taken_over=True, record=record)
                continue
            if data["expires_at"] > now:
                return Replay(data["status"], data["body"])
            generation = self.store.replace(document, claim, existing.generation)
            if generation is not None:
                return Claim(key, document, generation, ttl, now, record=record)
        raise AlertInFlight("an alert with this idempotency key is being processed concurrently")

    def record_answer(self, claim: Claim, result: AlertResult) -> dict[str, Any] | None:
        """The answer the claim's journal record carries to complete it: a final one, when it names a record."""
        answer = answer_for(result)
        if claim.record is None or answer.status not in FINAL:
            return None
        now = self.clock.now().timestamp()
        return {"status": answer.status, "body": answer.body, "completed_at": now, "expires_at": now + claim.ttl}

    def complete(self, claim: Claim, status: int, body: dict[str, Any]) -> None:
        """Store the final answer in the claim document for the TTL (a leg's key; a record that failed)."""
        now = self.clock.now().timestamp()
        self.store.replace(
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

    def keep(self, claim: Claim, result: AlertResult) -> None:
        """Store a final result's answer under the key for the TTL."""
        answer = answer_for(result)
        self.complete(claim, answer.status, answer.body)

    def settle(self, claim: Claim, result: AlertResult, order_attempted: bool = False, recorded: bool = False) -> None:
        """Keep a final answer under the key (`recorded`: its journal record already did); release it
        when a resend could do better. Never raises."""
        status = answer_for(result).status
        # After an unexpected failure past the order call the order may exist:
        # keep the key claimed so that a resend cannot place a second one.
        may_exist = order_attempted and status == 500
        try:
            if status in FINAL:
                if not recorded:
                    self.keep(claim, result)
            elif not may_exist:
                self.release(claim)
        except Exception:
            log.exception("idempotency ledger update failed", extra={"event": "ledger_error"})

    def amend(self, key: str, result: AlertResult) -> bool:
        """Replace a final answer (a pending order settled later); False if it changed meanwhile."""
        document = self._document(key)
        current = self.store.get(document)
        if current is None:
            return False
        data = self._answered(current.data)
        if data.get("state") != "done":
            return False
        answer = answer_for(result)
        amended = {**data, "status": answer.status, "body": answer.body}
        return self.store.replace(document, amended, current.generation) is not None

    def _answered(self, data: dict[str, Any]) -> dict[str, Any]:
        """A claim as a done document when the journal record it names carries its answer, else as stored."""
        if data.get("state") != "in_flight" or not data.get("record"):
            return data
        found = self.store.get(data["record"])
        answer = found.data.get("answer") if found is not None else None
        if not answer:
            return data
        return {"state": "done", "alert_id": answer["body"].get("alert_id"), **answer}

    def release(self, claim: Claim) -> None:
        """Give the key up so that a resend is processed afresh."""
        self.store.delete(claim.document, claim.generation)

    @staticmethod
    def _document(key: str) -> str:
        return "idempotency/" + hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json"
