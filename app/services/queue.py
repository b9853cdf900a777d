"""Alerts that arrive while the market is closed, kept until it opens (MARKET_CLOSED_POLICY=queue).

Each entry is a document in the state store. Draining takes an entry by compare-and-swap from
`queued` to `processing`, so two instances (or two Scheduler calls) never run it twice; the
entry is then executed through the live path, which checks it all again: contract listed and
unexpired, gates, market open, and its own age.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from app.ports import Clock, StateStore

_PREFIX = "queue/"


class AlertQueue:
    """Durable queue of alerts to run at the next open."""

    def __init__(self, store: StateStore, clock: Clock, max_age_seconds: int):
        self._store = store
        self._clock = clock
        self.max_age = timedelta(seconds=max_age_seconds)

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
        }
        self._store.create(self._key(entry["id"]), entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        found = (self._store.get(key) for key in self._store.list(_PREFIX))
        return [item.data for item in found if item is not None]

    def take(self, entry_id: str, worker: str) -> dict[str, Any] | None:
        """Move a queued entry to `processing` for this worker; None if another took it."""
        found = self._store.get(self._key(entry_id))
        if found is None or found.data.get("state") != "queued":
            return None
        taken = {**found.data, "state": "processing", "worker": worker, "taken_at": self._clock.now().isoformat()}
        if self._store.replace(self._key(entry_id), taken, found.generation) is None:
            return None
        return taken

    def put_back(self, entry: dict[str, Any], why: str) -> None:
        """Return a taken entry to the queue (the market is still closed)."""
        found = self._store.get(self._key(entry["id"]))
        if found is not None:
            self._store.replace(self._key(entry["id"]), {**found.data, "state": "queued", "last_try": why}, found.generation)

    def remove(self, entry_id: str) -> bool:
        """Drop an entry (done, expired or cancelled)."""
        return self._store.delete(self._key(entry_id))

    def expired(self, entry: dict[str, Any]) -> bool:
        """Older than its age limit."""
        return datetime.fromisoformat(entry["expires_at"]) <= self._clock.now()

    @staticmethod
    def _key(entry_id: str) -> str:
        if not all(ch.isalnum() or ch == "-" for ch in entry_id) or not entry_id:
            raise ValueError("bad queue id")
        return f"{_PREFIX}{entry_id}.json"
