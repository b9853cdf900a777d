"""Alerts that arrive while the market is closed, kept until it opens (MARKET_CLOSED_POLICY=queue).

Each entry is a document in the state store. A drain takes an entry by compare-and-swap from
`queued` to `processing`, so two instances (or two Scheduler calls) never run it at once; the
entry is then executed through the live path, which checks it all again: contract listed and
unexpired, gates, market open, and its own age.

An entry ends as `placed`, `failed`, `expired` or `cancelled`. Any other outcome (market still
closed, no Fyers login, Fyers down, a crash) puts it back to `queued`, with its attempt count
and the last reason. A drain holds an entry under a lease; one still `processing` after its
lease belongs to a worker that died, and the next drain takes it over. Running it again claims
the ledger key `queue:<id>`, whose own lease and takeover (app/services/idempotency.py) let
the order book decide whether the dead worker's order exists: the queue never decides that.
Ended entries stay listed for KEEP_ENDED, then are dropped. `QueueDrain` is the loop a drain
runs (POST /process-queue at the open): every waiting entry, once, within the call's budget.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from app.deadline import Deadline
from app.ports import Clock, StateStore
from app.services.market import MarketGate
from app.services.record import AlertResult, Outcome

log = logging.getLogger(__name__)

_PREFIX = "queue/"
ENDS = ("placed", "failed", "expired", "cancelled")
KEEP_ENDED = timedelta(days=7)  # long enough to read a Friday's drain after a long weekend
MARKET_CHECK_SECONDS = 1.0  # a drain asks whether the market is open before it runs an entry
WORKER = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"  # this process, as named on the entries it holds


@dataclass(frozen=True)
class TakenEntry:
    """An entry this worker holds in `processing`; `generation` guards every write back."""

    entry: dict[str, Any]
    generation: int

    @property
    def id(self) -> str:
        """The entry's queue id."""
        return self.entry["id"]


class AlertQueue:
    """Durable queue of alerts to run at the next open."""

    def __init__(self, store: StateStore, clock: Clock, max_age_seconds: int, lease_seconds: float):
        self._store = store
        self._clock = clock
        self.max_age = timedelta(seconds=max_age_seconds)
        # Longer than a worker can hold an entry: the market check, then the alert under its
        # ledger claim, whose own lease (CLAIM_LEASE_SECONDS) outlives any order it sends.
        self.lease = timedelta(seconds=lease_seconds)

    def add(self, payload: dict[str, Any], idempotency_key: str, alert_id: str, reason: str) -> dict[str, Any]:
        """Keep an authenticated, validated alert (without its secret) for the next open."""
        now = self._clock.now()
        entry = {
            "id": f"{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}",
            "state": "queued",
            "alert_id": alert_id,
            "idempotency_key": idempotency_key,
            "payload": payload,
            "queued_at": now.isoformat(),
            "expires_at": (now + self.max_age).isoformat(),
            "reason": reason,
            "attempts": 0,
        }
        self._store.create(self._key(entry["id"]), entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        found = (self._store.get(key) for key in self._store.list(_PREFIX))
        return [item.data for item in found if item is not None]

    def waiting(self) -> list[dict[str, Any]]:
        """Entries not yet ended (`queued`, or `processing` by a drain), oldest first."""
        return [entry for entry in self.entries() if entry.get("state") not in ENDS]

    def ended(self) -> list[dict[str, Any]]:
        """Entries that ended within KEEP_ENDED, oldest first."""
        since = self._clock.now() - KEEP_ENDED
        return [
            entry
            for entry in self.entries()
            if entry.get("state") in ENDS and datetime.fromisoformat(entry["ended_at"]) > since
        ]

    def forget_ended(self) -> None:
        """Drop entries that ended more than KEEP_ENDED ago (the journal keeps their story)."""
        since = self._clock.now() - KEEP_ENDED
        for key in self._store.list(_PREFIX):
            found = self._store.get(key)
            if found is None or found.data.get("state") not in ENDS:
                continue
            if datetime.fromisoformat(found.data["ended_at"]) <= since:
                self._store.delete(key, found.generation)

    def take(self, entry_id: str, worker: str) -> TakenEntry | None:
        """Hold a queued entry, or one whose worker died, for this worker; None if not ours to run."""
        found = self._store.get(self._key(entry_id))
        if found is None:
            return None
        current = found.data
        now = self._clock.now()
        taken = {**current, "state": "processing", "worker": worker, "taken_at": now.isoformat()}
        if current.get("state") == "processing":
            # An entry with no lease was left by a version that had none: long dead.
            lease_until = current.get("lease_until")
            if lease_until is not None and datetime.fromisoformat(lease_until) > now:
                return None  # a live worker has it
            taken["taken_over_from"] = current.get("worker")
        elif current.get("state") != "queued":
            return None
        taken["attempts"] = current.get("attempts", 0) + 1
        taken["lease_until"] = (now + self.lease).isoformat()
        generation = self._store.replace(self._key(entry_id), taken, found.generation)
        if generation is None:
            return None  # another worker took it first
        return TakenEntry(taken, generation)

    def put_back(self, taken: TakenEntry, reason: str) -> bool:
        """Return a taken entry to `queued` with the reason it did not run; False if taken over."""
        back = {**taken.entry, "state": "queued", "last_reason": reason, "last_tried_at": self._clock.now().isoformat()}
        for name in ("worker", "taken_at", "lease_until"):
            back.pop(name, None)
        return self._store.replace(self._key(taken.id), back, taken.generation) is not None

    def end(self, taken: TakenEntry, state: str, reason: str, answer: dict[str, Any]) -> dict[str, Any] | None:
        """Settle a taken entry for good; None if another worker took it over meanwhile."""
        ended = self._ended(taken.entry, state, reason, answer)
        if self._store.replace(self._key(taken.id), ended, taken.generation) is None:
            return None
        return ended

    def cancel(self, entry_id: str) -> dict[str, Any] | None:
        """End a `queued` entry as cancelled; None if there is none (or a drain holds it)."""
        try:
            key = self._key(entry_id)
        except ValueError:
            return None
        found = self._store.get(key)
        # An entry being processed may be placing its order right now: it ends by its outcome.
        if found is None or found.data.get("state") != "queued":
            return None
        ended = self._ended(found.data, "cancelled", "cancelled by the operator (DELETE /queue)", None)
        if self._store.replace(key, ended, found.generation) is None:
            return None
        return ended

    def find(self, entry_id: str) -> dict[str, Any] | None:
        """One entry by id, or None."""
        try:
            found = self._store.get(self._key(entry_id))
        except ValueError:
            return None
        return found.data if found is not None else None

    def expired(self, entry: dict[str, Any]) -> bool:
        """Older than its age limit."""
        return datetime.fromisoformat(entry["expires_at"]) <= self._clock.now()

    def _ended(self, entry: dict[str, Any], state: str, reason: str, answer: dict[str, Any] | None) -> dict[str, Any]:
        ended = {**entry, "state": state, "last_reason": reason, "ended_at": self._clock.now().isoformat()}
        if answer is not None:
            ended["answer"] = answer
        for name in ("worker", "taken_at", "lease_until"):
            ended.pop(name, None)
        return ended

    @staticmethod
    def _key(entry_id: str) -> str:
        # ASCII only: str.isalnum() also passes "¹" and other digits the state store refuses.
        if not entry_id or not entry_id.isascii() or not all(ch.isalnum() or ch == "-" for ch in entry_id):
            raise ValueError("bad queue id")
        return f"{_PREFIX}{entry_id}.json"


@dataclass(frozen=True)
class Drained:
    """What one drain did with one entry: its status, and the run's result when it ran (or broke)."""

    taken: TakenEntry
    status: str | None
    message: str | None
    result: AlertResult | None = None


class QueueDrain:
    """Runs every waiting alert once, across all instances; each with a live alert's budget."""

    def __init__(
        self,
        queue: AlertQueue,
        market: MarketGate,
        run_queued: Callable[[TakenEntry, Deadline], AlertResult],
        per_alert_seconds: float,
    ):
        self._queue = queue
        self._market = market
        self._run_queued = run_queued
        self._per_alert = per_alert_seconds

    def run(self, budget: Deadline) -> list[Drained]:
        """Take and run each waiting entry while the budget leaves a whole alert's time."""
        self._queue.forget_ended()
        drained = []
        for entry in self._queue.waiting():
            if budget.remaining() < self._per_alert + MARKET_CHECK_SECONDS:
                break
            taken = self._queue.take(entry["id"], WORKER)
            if taken is None:
                continue  # another instance (or call) is running it
            drained.append(self._run_one(taken))
        return drained

    def _run_one(self, taken: TakenEntry) -> Drained:
        """One taken entry: back to the queue while the market is closed, else run it."""
        try:
            state = self._market.state(Deadline(MARKET_CHECK_SECONDS))
            if not state.open and not self._queue.expired(taken.entry):
                self._queue.put_back(taken, state.reason)
                return Drained(taken, "still_queued", state.reason)
            result = self._run_queued(taken, Deadline(self._per_alert))
        except Exception:
            # Whatever broke, the entry must not stay `processing` until its lease runs out.
            log.exception("queued alert could not be run", extra={"event": "queue_error"})
            self._queue.put_back(taken, "internal_error: the drain failed unexpectedly")
            message = "the drain failed unexpectedly"
            return Drained(taken, "still_queued", message, AlertResult(Outcome.INTERNAL_ERROR, {"message": message}))
        return Drained(taken, result.body.get("status"), result.body.get("message"), result)
