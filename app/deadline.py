"""A point in monotonic time by which an alert's work must be done."""

from __future__ import annotations

import time


class Deadline:
    """Remaining time budget; every outbound call takes its timeout from here."""

    __slots__ = ("_expires_at", "_clock")

    def __init__(self, seconds: float, clock=time.monotonic):
        self._clock = clock
        self._expires_at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._expires_at - self._clock())

    def timeout(self, cap: float) -> float:
        """A timeout for one call: the smaller of `cap` and what is left."""
        return min(cap, self.remaining())

    def sooner(self, seconds: float) -> Deadline:
        """The same deadline `seconds` earlier (time kept back for the call after a wait)."""
        earlier = Deadline(0.0, self._clock)
        earlier._expires_at = self._expires_at - seconds
        return earlier
