"""The journal: one record per alert, filed under the trader's (IST) date.

A record that completes an idempotency claim also carries the claim's final answer (`answer`):
one write both journals the alert and stores what a resend is answered (app/services/idempotency.py).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.domain.contracts import IST
from app.ports import Clock, StateStore
from app.services.record import AlertRecord, read_outcome

log = logging.getLogger(__name__)

READ_WORKERS = 8  # a page's records are read in parallel: 100 GCS reads one after another take seconds
# A page cursor: a record's name in its day, <HHMMSSffffff>-<sequence>-<alert id>.
CURSOR = re.compile(r"^[0-9]{12}-[0-9]{1,20}-[0-9A-Za-z_-]{1,64}$")


@dataclass(frozen=True)
class JournalPage:
    """One page of a day's records, newest first; `next` is the cursor of the older page, None at the end."""

    records: list[dict[str, Any]]
    next: str | None
    total: int  # the day's records, every page together


class Journal:
    """Writes and reads alert records in the state store."""

    def __init__(self, store: StateStore, clock: Clock, paper: bool = False):
        self._store = store
        self._clock = clock
        # One place marks every record of a paper broker (alerts, trade events, locks, close-all).
        self._paper = paper
        # Orders records of one instant (a coarse or fixed clock) by arrival.
        self._sequence = itertools.count()

    def key_for(self, alert_id: str) -> str:
        """A new record's key, named before the alert runs (its claim names the record that completes it)."""
        now = self._clock.now().astimezone(IST)
        return f"journal/{now:%Y-%m-%d}/{now:%H%M%S%f}-{next(self._sequence):08d}-{alert_id}.json"

    def record(self, record: AlertRecord, key: str | None = None, answer: dict[str, Any] | None = None) -> bool:
        """File one alert's record (with the answer that completes its claim); False, logged, if it failed."""
        now = self._clock.now().astimezone(IST)
        record.paper = record.paper or self._paper
        stored = {"recorded_at": now.isoformat(), **record.as_dict()}
        if answer is not None:
            stored["answer"] = answer
        try:
            return self._store.create(key or self.key_for(record.alert_id), stored) is not None
        except Exception:  # the answer must still go out; the log line is the fallback record
            log.exception("journal write failed", extra={"event": "journal_error"})
            return False

    def page(self, day: date, limit: int, before: str | None = None) -> JournalPage:
        """The newest `limit` records of one IST day older than the cursor `before`, newest first.

        Only the page's records are read: the keys sort by time, so listing them says which.
        """
        prefix = f"journal/{day:%Y-%m-%d}/"
        keys = self._store.list(prefix)
        older = keys if before is None else keys[: bisect.bisect_left(keys, f"{prefix}{before}")]
        newest = older[-limit:] if limit > 0 else []
        with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(newest) or 1)) as pool:
            found = list(pool.map(self._store.get, reversed(newest)))
        records = [read_outcome(item.data) for item in found if item is not None]
        more = len(older) > len(newest)
        cursor = newest[0][len(prefix) :].removesuffix(".json") if more else None
        return JournalPage(records, cursor, total=len(keys))

    def day(self, day: date, limit: int | None = None) -> list[dict[str, Any]]:
        """The stored records of one IST day, oldest first (the first `limit` of them), outcomes as `Outcome`."""
        records = []
        for key in self._store.list(f"journal/{day:%Y-%m-%d}/")[:limit]:
            found = self._store.get(key)
            if found is not None:
                records.append(read_outcome(found.data))
        return records
