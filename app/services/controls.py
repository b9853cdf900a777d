"""Trading controls kept in the state store: the kill switch and the day's order count."""

from __future__ import annotations

from typing import Any

from app.domain.contracts import IST
from app.ports import Clock, StateStore

_SWITCH = "control/trading.json"
_ATTEMPTS = 8  # compare-and-swap retries under contention


class TradingControls:
    """Pause/resume shared by every instance, and a per-day order counter with reservations."""

    def __init__(self, store: StateStore, clock: Clock):
        self._store = store
        self._clock = clock

    def paused(self) -> dict[str, Any] | None:
        """The pause record when trading is paused, else None."""
        found = self._store.get(_SWITCH)
        return found.data if found and found.data.get("paused") else None

    def pause(self, reason: str) -> dict[str, Any]:
        """Stop new entries (exits stay allowed) on every instance."""
        return self._set({"paused": True, "reason": reason[:200], "at": self._clock.now().isoformat()})

    def resume(self) -> dict[str, Any]:
        """Allow new entries again."""
        return self._set({"paused": False, "at": self._clock.now().isoformat()})

    def orders_today(self) -> int:
        """Today's (IST) entry orders placed (or pending at the broker); exits are not counted.

        The one count of "orders today" (MAX_ORDERS_PER_DAY, /admin/status, the console). With a
        limit, an entry is reserved before it is sent and given back unless placed; without one,
        placed entries are counted once they have left.
        """
        found = self._store.get(self._day_key())
        return found.data.get("orders", 0) if found else 0

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
        for _ in range(_ATTEMPTS):
            found = self._store.get(key)
            current = found.data.get("orders", 0) if found else 0
            if limit is not None and current + count > limit:
                return False
            data = {"orders": max(0, current + count)}
            if found is None:
                if self._store.create(key, data) is not None:
                    return True
            elif self._store.replace(key, data, found.generation) is not None:
                return True
        return False

    def _set(self, data: dict[str, Any]) -> dict[str, Any]:
        for _ in range(_ATTEMPTS):
            found = self._store.get(_SWITCH)
            if found is None:
                if self._store.create(_SWITCH, data) is not None:
                    return data
            elif self._store.replace(_SWITCH, data, found.generation) is not None:
                return data
        raise RuntimeError("could not update the trading switch under contention")

    def _day_key(self) -> str:
        return f"limits/{self._clock.now().astimezone(IST):%Y-%m-%d}.json"
