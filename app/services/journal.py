"""The journal: one record per alert, filed under the trader's (IST) date.

A record that completes an idempotency claim also carries the claim's final answer (`answer`):
one write both journals the alert and stores what a resend is answered (app/services/idempotency.py).
"""

from __future__ import annotations

import itertools
import logging
from datetime import date
from typing import Any

from app.domain.contracts import IST
from app.ports import Clock, StateStore
from app.services.record import AlertRecord, read_outcome

log = logging.getLogger(__name__)


class Journal:
    """Writes and reads alert records in the state store."""

    def __init__(self, store: StateStore, clock: Clock):
        self._store = store
        self._clock = clock
        # Orders records of one instant (a coarse or fixed clock) by arrival.
        self._sequence = itertools.count()

    def key_for(self, alert_id: str) -> str:
        """A new record's key, named before the alert runs (its claim names the record that completes it)."""
        now = self._clock.now().astimezone(IST)
        return f"journal/{now:%Y-%m-%d}/{now:%H%M%S%f}-{next(self._sequence):08d}-{alert_id}.json"

    def record(self, record: AlertRecord, key: str | None = None, answer: dict[str, Any] | None = None) -> bool:
        """File one alert's record (with the answer that completes its claim); False, logged, if it failed."""
        now = self._clock.now().astimezone(IST)
        stored = {"recorded_at": now.isoformat(), **record.as_dict()}
        if answer is not None:
            stored["answer"] = answer
        try:
            return self._store.create(key or self.key_for(record.alert_id), stored) is not None
        except Exception:  # the answer must still go out; the log line is the fallback record
            log.exception("journal write failed", extra={"event": "journal_error"})
            return False

    def day(self, day: date, limit: int | None = None) -> list[dict[str, Any]]:
        """The stored records of one IST day, oldest first (the first `limit` of them), outcomes as `Outcome`."""
        records = []
        for key in self._store.list(f"journal/{day:%Y-%m-%d}/")[:limit]:
            found = self._store.get(key)
            if found is not None:
                records.append(read_outcome(found.data))
        return records
