"""The journal: one record per alert, filed under the trader's (IST) date."""

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

    def record(self, record: AlertRecord) -> None:
        """File one alert's record; a failure is logged, never raised into the alert's answer."""
        now = self._clock.now().astimezone(IST)
        key = (
            f"journal/{now:%Y-%m-%d}/{now:%H%M%S%f}-{next(self._sequence):08d}"
            f"-{record.alert_id}.json"
        )
        try:
            self._store.create(key, {"recorded_at": now.isoformat(), **record.as_dict()})
        except Exception:  # the answer must still go out; the log line is the fallback record
            log.exception("journal write failed", extra={"event": "journal_error"})

    def day(self, day: date, limit: int | None = None) -> list[dict[str, Any]]:
        """The stored records of one IST day, oldest first (the first `limit` of them), outcomes as `Outcome`."""
        records = []
        for key in self._store.list(f"journal/{day:%Y-%m-%d}/")[:limit]:
            found = self._store.get(key)
            if found is not None:
                records.append(read_outcome(found.data))
        return records
