"""Trading controls kept in the state store: the kill switch and the day's order count.

Neither may cost a sequential state-store round trip before an order leaves. The switch is cached
per instance for `switch_ttl` seconds: a stale cache is read again alongside the alert's claim
(`refresh_switch`), and after an order once it is half stale; pausing here updates this instance's
cache at once, another instance sees it within `switch_ttl`. The day's count is written by
compare-and-swap on the generation this instance last saw: one write and no read while no other
instance wrote it meanwhile; a conflict re-reads and tries again, so the count stays exact
across instances. With MAX_ORDERS_PER_DAY the reservation is that same write, issued alongside
the claim (`reserve`).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

from app.domain.contracts import IST
from app.ports import Clock, StateStore

_SWITCH = "control/trading.json"
_ATTEMPTS = 8  # compare-and-swap retries under contention
SWITCH_TTL_SECONDS = 5.0  # how stale a kill switch set on another instance may be seen here


@dataclass(frozen=True, slots=True)
class _Seen:
    """A document as this instance last read or wrote it."""

    key: str
    data: dict[str, Any] | None
    generation: int | None  # None: absent
    at: float  # monotonic seconds


class TradingControls:
    """Pause/resume shared by every instance, and a per-day order counter with reservations."""

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        switch_ttl: float = SWITCH_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._clock = clock
        self.switch_ttl = switch_ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._switch: _Seen | None = None
        self._switch_read: tuple[float, Future] | None = None  # a read under way, and when it began
        self._day: _Seen | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="controls")

    # -- the kill switch ---------------------------------------------------------------

    def paused(self) -> dict[str, Any] | None:
        """The pause record when trading is paused, else None: read from the store now."""
        return self._pause(self._read_switch().data)

    def entries_paused(self) -> dict[str, Any] | None:
        """The pause record for the entry gate: this instance's cache while fresh, else read."""
        seen = self._switch
        if seen is not None and self._monotonic() - seen.at < self.switch_ttl:
            return self._pause(seen.data)
        return self._pause(self._refreshing().result().data)

    def switch_document(self, fresh: bool = False) -> dict[str, Any]:
        """The switch document, paused or not: this instance's cache while fresh (`fresh`: read now)."""
        seen = self._switch
        if fresh or seen is None or self._monotonic() - seen.at >= self.switch_ttl:
            seen = self._read_switch() if fresh else self._refreshing().result()
        return dict(seen.data or {})

    def refresh_switch(self, ahead: bool = False) -> None:
        """Start reading the switch when stale (`ahead`: half stale); `finish_reads` waits for it."""
        seen = self._switch
        age = self._monotonic() - seen.at if seen is not None else float("inf")
        if age >= (self.switch_ttl / 2 if ahead else self.switch_ttl):
            self._refreshing()

    def finish_reads(self, timeout: float) -> None:
        """Wait (bounded) for a switch read under way, so none outlives the request that began it."""
        with self._lock:
            under_way = self._switch_read[1] if self._switch_read is not None else None
        if under_way is not None:
            wait([under_way], timeout=max(0.0, timeout))

    def pause(self, reason: str) -> dict[str, Any]:
        """Stop new entries (exits stay allowed) on every instance."""
        return self._set({"paused": True, "reason": reason[:200], "at": self._clock.now().isoformat()})

    def resume(self) -> dict[str, Any]:
        """Allow new entries again; resuming a day's lock lifts it for the rest of that day."""
        resumed: dict[str, Any] = {"paused": False, "at": self._clock.now().isoformat()}
        current = self.paused()
        if current and current.get("day"):
            resumed.update(lifted=current["day"], lifted_rule=current.get("rule"))
        return self._set(resumed)

    def swap_switch(self, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]) -> dict[str, Any] | None:
        """Compare-and-swap the switch document: `change` gives the new one (None: leave it); what was written."""
        for _ in range(_ATTEMPTS):
            found = self._store.get(_SWITCH)
            data = change(found.data if found else None)
            if data is None:
                return None
            if found is None:
                generation = self._store.create(_SWITCH, data)
            else:
                generation = self._store.replace(_SWITCH, data, found.generation)
            if generation is not None:
                self._remember_switch(_Seen(_SWITCH, data, generation, self._monotonic()))
                return data
        return None

    def _pause(self, data: dict[str, Any] | None) -> dict[str, Any] | None:
        """The record when it pauses trading now: a day's lock pauses only its own IST day."""
        if not data or not data.get("paused"):
            return None
        day = data.get("day")
        return data if day is None or day == self._clock.now().astimezone(IST).date().isoformat() else None

    def _refreshing(self) -> Future:
        """The switch read under way (begun within the TTL), or a new one."""
        with self._lock:
            now = self._monotonic()
            if self._switch_read is not None and now - self._switch_read[0] < max(self.switch_ttl, 1.0):
                return self._switch_read[1]
            future = self._pool.submit(self._read_switch)
            self._switch_read = (now, future)
            future.add_done_callback(lambda _: self._read_done(future))
            return future

    def _read_done(self, future: Future) -> None:
        with self._lock:
            if self._switch_read is not None and self._switch_read[1] is future:
                self._switch_read = None

    def _read_switch(self) -> _Seen:
        started = self._monotonic()
        found = self._store.get(_SWITCH)
        seen = _Seen(_SWITCH, found.data if found else None, found.generation if found else None, started)
        self._remember_switch(seen)
        return seen

    def _remember_switch(self, seen: _Seen) -> None:
        with self._lock:
            if self._switch is None or self._switch.at <= seen.at:
                self._switch = seen

    def _set(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.swap_switch(lambda _: data) is None:
            raise RuntimeError("could not update the trading switch under contention")
        return data

    # -- the day's order count -----------------------------------------------------------

    def orders_today(self) -> int:
        """Today's (IST) entry orders placed (or pending at the broker); exits are not counted.

        The one count of "orders today" (MAX_ORDERS_PER_DAY, /admin/status, the console). With a
        limit, an entry is reserved before it is sent and given back unless placed; without one,
        placed entries are counted once they have left.
        """
        return _count(self._read_day(self._day_key()))

    def within_limit(self, count: int, limit: int) -> bool:
        """Whether `count` more orders fit today as this instance last saw the count (a dry run's gate)."""
        key = self._day_key()
        seen = self._day if self._day is not None and self._day.key == key else self._read_day(key)
        return _count(seen) + count <= limit

    def reserve(self, count: int, limit: int) -> Reservation:
        """Start reserving `count` orders within `limit`, alongside the claim; the answer comes from `granted`."""
        return Reservation(self, count, self._pool.submit(self._add, count, limit))

    def reserve_orders(self, count: int, limit: int) -> bool:
        """Count `count` more orders today if that stays within `limit`; False if it would not."""
        return self._add(count, limit)

    def count_orders(self, count: int) -> None:
        """Count orders placed while no daily limit is set."""
        self._add(count, None)

    def release_orders(self, count: int) -> None:
        """Give back reserved orders that were not placed."""
        self._add(-count, None)

    def _add(self, count: int, limit: int | None) -> bool:
        key = self._day_key()
        seen = self._day if self._day is not None and self._day.key == key else None
        fresh = False  # `seen` was read in this call: a refusal needs no second look
        for _ in range(_ATTEMPTS):
            if seen is None:
                # Not seen today: a first write of the day creates it without a read.
                if count > 0 and (limit is None or count <= limit) and self._write_day(key, count, None):
                    return True
                seen, fresh = self._read_day(key), True
            current = _count(seen)
            if limit is not None and current + count > limit:
                if fresh:
                    return False
                seen, fresh = self._read_day(key), True  # refuse only on the stored count
                continue
            if self._write_day(key, max(0, current + count), seen.generation):
                return True
            seen, fresh = (None, False) if seen.generation is None else (self._read_day(key), True)
        return False

    def _write_day(self, key: str, orders: int, generation: int | None) -> bool:
        """Create (generation None) or compare-and-swap the day's count; False on conflict."""
        data = {"orders": orders}
        if generation is None:
            written = self._store.create(key, data)
        else:
            written = self._store.replace(key, data, generation)
        if written is None:
            return False
        self._remember_day(_Seen(key, data, written, self._monotonic()))
        return True

    def _read_day(self, key: str) -> _Seen:
        found = self._store.get(key)
        seen = _Seen(key, found.data if found else None, found.generation if found else None, self._monotonic())
        self._remember_day(seen)
        return seen

    def _remember_day(self, seen: _Seen) -> None:
        with self._lock:
            self._day = seen

    def _day_key(self) -> str:
        return f"limits/{self._clock.now().astimezone(IST):%Y-%m-%d}.json"


class Reservation:
    """Entries counted against MAX_ORDERS_PER_DAY before they are sent; those not placed are given back."""

    def __init__(self, controls: TradingControls, count: int, pending: Future):
        self._controls = controls
        self.count = count
        self._pending = pending
        self._kept = 0
        self._accounted = False
        self._closed = False

    def granted(self) -> bool:
        """Whether the orders fit today's limit (waits for the write); a store failure is raised."""
        return self._pending.result()

    def keep(self, placed: int) -> None:
        """`placed` of the reserved orders were placed (or are pending at the broker): they stay counted."""
        self._kept = min(placed, self.count)
        self._accounted = True

    def close(self, order_attempted: bool) -> None:
        """Give back what was reserved and not kept; once. An order attempted but never accounted
        for (an unexpected failure) may stand: its reservation is kept."""
        if self._closed:
            return
        self._closed = True
        try:
            granted = self._pending.result()
        except Exception:
            return  # nothing was counted
        kept = self._kept if self._accounted or not order_attempted else self.count
        if granted and kept < self.count:
            self._controls.release_orders(self.count - kept)


def _count(seen: _Seen) -> int:
    return seen.data.get("orders", 0) if seen.data else 0
