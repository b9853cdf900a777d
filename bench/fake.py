"""The fake Fyers for the bench: the test fake, run in the bench process, timing what it serves.

In-process (`FakeFyers(latency=...).start()`, not `python -m tests.fakes.fake_fyers`) so that
the bench reads the fake's own record of every request: path, HTTP status, arrival time, and
(added here) how long the fake took to answer it. By default the fake does not enforce Fyers's
rate limits (`peak_in_window` tells whether Fyers would have had reason to answer 429); with
`strict_rate_limit=True` it answers 429 past 10 requests in any sliding second.
"""

from __future__ import annotations

import threading
import time

from tests.fakes.fake_fyers import Call, FakeFyers

APP_ID = "BENCHAPP-100"
SECRET_ID = "BENCHSECRET-0123"
PIN = "864209"


class TimedFake(FakeFyers):
    """FakeFyers that also records how long it took to answer each request (seconds)."""

    def __init__(self, latency: float = 0.0, **options):
        super().__init__(app_id=APP_ID, secret_id=SECRET_ID, pin=PIN, latency=latency, **options)
        self._timings: list[tuple[float, float]] = []
        self._timings_lock = threading.Lock()

    def _dispatch(self, h) -> None:  # the fake's handler calls this once per request
        started = time.perf_counter()
        try:
            super()._dispatch(h)
        finally:
            with self._timings_lock:
                self._timings.append((started, time.perf_counter() - started))

    def timings(self) -> list[tuple[float, float]]:
        """(arrival, seconds to answer) of every request, perf_counter clock."""
        with self._timings_lock:
            return list(self._timings)

    def mark(self) -> int:
        """A position in `calls`; `calls_since(mark)` gives the requests received after it."""
        return len(self.calls)

    def calls_since(self, mark: int) -> list[Call]:
        return self.calls[mark:]


def peak_in_window(calls: list[Call], window: float) -> int:
    """The most requests that arrived within any `window` seconds (a sliding window)."""
    arrivals = sorted(call.at for call in calls)
    peak = start = 0
    for end, at in enumerate(arrivals):
        while at - arrivals[start] >= window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def over_limit(calls: list[Call], limit: int, window: float) -> int:
    """Requests that arrived when `limit` others had already arrived within the last `window` s.

    What a strict sliding-window limiter at Fyers would have answered 429 (rejected requests
    counted too: a conservative reading).
    """
    arrivals = sorted(call.at for call in calls)
    over = start = 0
    for end, at in enumerate(arrivals):
        while at - arrivals[start] >= window:
            start += 1
        if end - start >= limit:
            over += 1
    return over
