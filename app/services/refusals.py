"""Requests refused before authentication: counted per IST day, logged at most once a minute per source.

A flood of wrong secrets must cost neither the journal nor the log: such a request writes nothing
to the state store (not even a counter: that write would be the flood again). The count is kept in
this instance's memory, like Fyers's 429 count, and starts again at midnight IST and on a restart.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

from app.domain.contracts import IST
from app.logs import log_event
from app.ports import Clock

log = logging.getLogger("app.alerts")

LOG_EVERY_SECONDS = 60.0  # one line per source per minute; the line says how many were not logged
MAX_SOURCES = 4096  # sources remembered at once; beyond, new ones share one line a minute
OTHER_SOURCES = "(other sources)"


@dataclass
class _Source:
    """When a source's last line was written, and how many of its refusals went unlogged since."""

    logged_at: datetime
    suppressed: int = 0


class RefusalCounter:
    """This instance's count of unauthenticated requests today, and the once-a-minute log per sender."""

    def __init__(self, clock: Clock, every_seconds: float = LOG_EVERY_SECONDS, max_sources: int = MAX_SOURCES):
        self._clock = clock
        self._every = every_seconds
        self._max_sources = max_sources
        self._lock = threading.Lock()
        self._day: date | None = None
        self._count = 0
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def refused(self, source: str, status: int, reason: str) -> None:
        """Count one refused request from `source` (the sender's address); log it unless its minute is taken."""
        now = self._clock.now()
        with self._lock:
            count = self._count_one(now)
            key = self._slot(source or "unknown", now)
            entry = self._sources.get(key)
            if entry is not None and (now - entry.logged_at).total_seconds() < self._every:
                entry.suppressed += 1
                return
            suppressed = entry.suppressed if entry is not None else 0
            self._sources[key] = _Source(now)
            self._sources.move_to_end(key)
        tail = f"; {suppressed} more from this source were not logged" if suppressed else ""
        log_event(
            log,
            logging.WARNING,
            "alert_unauthenticated",
            f"request refused before authentication ({status}) from {key}: {reason}{tail}",
            source=key,
            status=status,
            suppressed=suppressed,
            refused_today=count,
        )

    def today(self) -> int:
        """Requests this instance refused before authentication today (IST)."""
        with self._lock:
            return self._count if self._day == self._clock.now().astimezone(IST).date() else 0

    def _count_one(self, now: datetime) -> int:
        day = now.astimezone(IST).date()
        if day != self._day:
            self._day, self._count = day, 0
        self._count += 1
        return self._count

    def _slot(self, source: str, now: datetime) -> str:
        """The source's own line, or the shared one when too many sources are live at once."""
        if source in self._sources or len(self._sources) < self._max_sources:
            return source
        # Forget sources whose minute has passed (oldest logged first), then make room if that freed any.
        while self._sources:
            oldest, entry = next(iter(self._sources.items()))
            if (now - entry.logged_at).total_seconds() < self._every:
                break
            del self._sources[oldest]
        return source if len(self._sources) < self._max_sources else OTHER_SOURCES
