"""Baseline pacer for `make bench`: app/adapters/pacer.py as it was at 437fbbb (issue 15), verbatim.

It books a whole group of calls for the same instant (no spacing, no margin); the bench plugs
it into an otherwise current app (bench/baseline_app.py) to measure the new pacer against it.

The original docstring: client-side pacing under Fyers's limits: 10 requests a second and 200 a minute.

Breaking the per-minute limit more than three times a day blocks the account for the rest of
the day, so the bridge never relies on the server's 429: it books a slot for every request in
sliding one-second and one-minute windows, and holds all requests after a Retry-After.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from app.deadline import Deadline
from app.domain.errors import RateLimited


class Pacer:
    """Books send times so that no window ever holds more than its limit."""

    def __init__(
        self,
        per_second: int = 10,
        per_minute: int = 200,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._windows = ((1.0, per_second, deque()), (60.0, per_minute, deque()))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._held_until = 0.0

    def acquire(self, deadline: Deadline) -> None:
        """Wait for a slot; RateLimited (nothing sent) when the wait would pass the deadline."""
        with self._lock:
            now = self._clock()
            at = max(now, self._held_until)
            for span, limit, sent in self._windows:
                while sent and sent[0] <= now - span:
                    sent.popleft()
                if len(sent) >= limit:
                    # The slot frees when the oldest request that still counts leaves the window.
                    at = max(at, sent[len(sent) - limit] + span)
            wait = at - now
            if wait > deadline.remaining():
                raise RateLimited(
                    "Fyers's request limit leaves no slot before this alert's deadline",
                    retry_after=wait,
                )
            for _, _, sent in self._windows:
                sent.append(at)
        if wait > 0:
            self._sleep(wait)

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (the broker said Retry-After)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)
