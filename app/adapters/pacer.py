"""Client-side pacing under Fyers's limits (10 requests a second, 200 a minute), by priority.

Breaking the per-minute limit more than three times a day blocks the account for the rest of
the day, and Fyers does not say how it counts, so the pacer stays inside the strictest reading:
any sliding second and any sliding minute. Sends are spaced, not booked in groups: requests
booked for one instant leave milliseconds apart and reach Fyers bunched. Each next slot goes to
the highest-priority waiter (FIFO within a priority): an exit never waits behind entries.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import PacedOut
from app.domain.orders import Priority

# 10% of the interval between sends: at 10/s the spacing is 110 ms, so eleven consecutive sends
# span at least 1.1 s and a strict 1 s window at Fyers sees at most 10 of them unless one
# request's network latency exceeds another's by more than 100 ms (the jitter this absorbs).
# 5% (50 ms) was tried: two loaded instances sharing one account then drew 429s from the strict
# fake, and a 20-alert burst still had its 20th order answered 202 (then placed once) either way.
SPACING_MARGIN = 0.10
# Share of the per-minute budget kept for exits and look-ups: 20 of 200. Entries and their
# quotes stop at 180 a minute; an exit or a look-up may still use the rest.
MINUTE_HEADROOM = 0.10
REDUCED_FOR = 60.0  # seconds after a 429 during which the pacer runs at half rate
REDUCED_FACTOR = 2.0  # the spacing is doubled while reduced
_RECHECK = 0.05  # seconds: a waiter behind others re-checks its deadline at least this often


def _ist_today() -> date:
    return datetime.now(IST).date()


@dataclass(eq=False)
class _Waiter:
    priority: Priority
    seq: int


class Pacer:
    """Grants send slots spaced under the limits, the highest-priority waiter first."""

    def __init__(
        self,
        per_second: int = 10,
        per_minute: int = 200,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        instances: int = 1,
        today: Callable[[], date] = _ist_today,
        on_refusal: Callable[[int, float], None] | None = None,
    ):
        # Every instance paces alone: each takes an equal share of the account's budget.
        per_second = max(1, per_second // max(1, instances))
        self.per_minute = max(1, per_minute // max(1, instances))
        self.spacing = (1.0 + SPACING_MARGIN) / per_second
        self.entry_per_minute = max(1, self.per_minute - math.ceil(self.per_minute * MINUTE_HEADROOM))
        self._clock = clock
        self._sleep = sleep
        self._today = today
        self._on_refusal = on_refusal
        self._cond = threading.Condition()
        self._sent: deque[float] = deque()  # send times inside the last minute
        self._last = -1e18
        self._held_until = 0.0
        self._reduced_until = 0.0
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer_busy = False  # one waiter sleeps on the clock; the others wait to be woken
        self._refusals: tuple[date | None, int] = (None, 0)

    def acquire(self, deadline: Deadline, priority: Priority = Priority.ENTRY) -> None:
        """Wait for a slot; PacedOut (nothing sent) when it cannot come before the deadline."""
        with self._cond:
            waiter = _Waiter(priority, next(self._seq))
            self._waiting.append(waiter)
            try:
                self._wait_for_slot(waiter, deadline)
            finally:
                self._waiting.remove(waiter)
                self._cond.notify_all()

    def _wait_for_slot(self, waiter: _Waiter, deadline: Deadline) -> None:
        while True:
            now = self._clock()
            ahead = sum(1 for other in self._waiting if _before(other, waiter))
            at = self._earliest(waiter.priority, now) + ahead * self._gap(now)
            if at - now > deadline.remaining():
                raise PacedOut(
                    "Fyers's request limit leaves no slot before this alert's deadline",
                    retry_after=at - now,
                )
            if ahead == 0 and at <= now:
                self._sent.append(now)
                self._last = now
                return
            if ahead == 0 and not self._timer_busy:
                self._sleep_until(at - now)
            else:
                self._cond.wait(min(max(at - now, 0.001), _RECHECK))

    def _sleep_until(self, seconds: float) -> None:
        """Sleep on the clock with the lock released; a newcomer of higher priority may take the slot."""
        self._timer_busy = True
        self._cond.release()
        try:
            self._sleep(seconds)
        finally:
            self._cond.acquire()
            self._timer_busy = False
            self._cond.notify_all()

    def _gap(self, now: float) -> float:
        """The spacing between sends: doubled for a minute after a 429."""
        return self.spacing * (REDUCED_FACTOR if now < self._reduced_until else 1.0)

    def _earliest(self, priority: Priority, now: float) -> float:
        """The first instant a send of `priority` may leave, as things stand."""
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()
        at = max(now, self._held_until, self._last + self._gap(now))
        limit = self.per_minute if priority <= Priority.LOOKUP else self.entry_per_minute
        if len(self._sent) >= limit:
            # A place frees when the oldest send that still counts leaves the minute.
            at = max(at, self._sent[len(self._sent) - limit] + 60.0)
        return at

    def hold(self, seconds: float) -> None:
        """Fyers refused with 429: send nothing for `seconds`, then half rate for a minute; counted."""
        with self._cond:
            now = self._clock()
            self._held_until = max(self._held_until, now + seconds)
            self._reduced_until = max(self._reduced_until, now + seconds + REDUCED_FOR)
            day, count = self._refusals
            today = self._today()
            self._refusals = (today, count + 1 if day == today else 1)
            count = self._refusals[1]
        if self._on_refusal is not None:
            self._on_refusal(count, seconds)

    def refusals_today(self) -> int:
        """How many 429s Fyers sent this instance today (IST), in memory."""
        with self._cond:
            day, count = self._refusals
        return count if day == self._today() else 0

    def waiting(self) -> int:
        """How many callers wait for a slot now."""
        with self._cond:
            return len(self._waiting)


def _before(other: _Waiter, waiter: _Waiter) -> bool:
    """Whether `other` gets a slot before `waiter`: higher priority, or the same and earlier."""
    return (other.priority, other.seq) < (waiter.priority, waiter.seq)
