"""The audit log: who did what from the console or the admin API, filed under the trader's (IST) date."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from app.domain.contracts import IST
from app.logs import log_event
from app.ports import Clock, StateStore

log = logging.getLogger(__name__)

ATTEMPTS = 5  # another instance may have taken the same instant's name; the next sequence number is free


class Audit:
    """Writes and reads audit entries: audit/<IST day>/<HHMMSSffffff>-<n>.json, create-only."""

    def __init__(self, store: StateStore, clock: Clock):
        self._store = store
        self._clock = clock
        # Orders entries of one instant (a coarse or fixed clock) by arrival.
        self._sequence = itertools.count()

    def record(self, actor: str, action: str, details: dict[str, Any]) -> None:
        """File one entry; a failed write is logged, never raised (the action itself already happened)."""
        now = self._clock.now().astimezone(IST)
        entry = {"at": now.isoformat(), "actor": actor, "action": action, "details": details}
        try:
            for _ in range(ATTEMPTS):
                key = f"audit/{now:%Y-%m-%d}/{now:%H%M%S%f}-{next(self._sequence):08d}.json"
                if self._store.create(key, entry) is not None:
                    log_event(log, logging.INFO, "audit", f"audit: {action} by {actor}", actor=actor, action=action)
                    return
                # Taken by another writer of the same instant: carry on past every name the day holds.
                self._sequence = itertools.count(len(self._store.list(f"audit/{now:%Y-%m-%d}/")))
            log_event(log, logging.ERROR, "audit_error", f"audit entry not filed: {action}", action=action)
        except Exception:  # the log line is the fallback record
            log.exception("audit write failed", extra={"event": "audit_error", "fields": {"action": action}})

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """Today's (IST) newest `limit` entries, newest first."""
        today = self._clock.now().astimezone(IST)
        keys = self._store.list(f"audit/{today:%Y-%m-%d}/")
        entries = []
        for key in reversed(keys[-limit:] if limit > 0 else []):
            found = self._store.get(key)
            if found is not None:
                entries.append(found.data)
        return entries
