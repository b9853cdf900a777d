"""The trades the bridge follows, one state-store document each, changed only by compare-and-swap.

`trades/<IST day>/<tag>.json` holds a `Trade` (app/domain/trades.py). Whoever wins the swap that
records an event is the one instance that tells it: several instances, a postback and a sweep
may look at the same order together, and the trader still hears of each fill or hit once.
"""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from app.domain.orders import Side
from app.domain.trades import Protection, Seen, Step, Trade
from app.ports import StateStore

TAG = re.compile(r"^[0-9A-Za-z]{1,30}$")  # Fyers's order tags, and so our document names
SWAP_ATTEMPTS = 4  # a lost swap re-reads and re-applies; more losers than this means the others did it


class TradeStore:
    """Reads and swaps the day's trade documents."""

    def __init__(self, store: StateStore):
        self._store = store

    def create(self, day: date, trade: Trade) -> bool:
        """File a new trade; False when its tag is already followed."""
        return self._store.create(self._key(day, trade.tag), trade_as_dict(trade)) is not None

    def delete(self, day: date, tag: str) -> None:
        """Stop following a trade whose order never stood."""
        self._store.delete(self._key(day, tag))

    def day(self, day: date) -> list[Trade]:
        """Every trade of the day, oldest tag first."""
        trades = []
        for key in self._store.list(f"trades/{day.isoformat()}/"):
            found = self._store.get(key)
            if found is not None:
                trades.append(trade_from_dict(found.data))
        return trades

    def get(self, day: date, tag: str) -> Trade | None:
        """One trade by its entry's tag (None for a tag that is not a trade's, or not a tag at all)."""
        if not TAG.match(tag):
            return None
        found = self._store.get(self._key(day, tag))
        return trade_from_dict(found.data) if found else None

    def update(self, day: date, tag: str, change: Callable[[Trade], Step | None]) -> Step | None:
        """Apply `change` to the stored trade and swap it in; the winning step, or None if nothing changed."""
        key = self._key(day, tag)
        for _ in range(SWAP_ATTEMPTS):
            found = self._store.get(key)
            if found is None:
                return None
            trade = trade_from_dict(found.data)
            step = change(trade)
            if step is None or step.trade == trade:
                return None
            if self._store.replace(key, trade_as_dict(step.trade), found.generation) is not None:
                return step
        return None

    @staticmethod
    def _key(day: date, tag: str) -> str:
        return f"trades/{day.isoformat()}/{tag}.json"


def trade_as_dict(trade: Trade) -> dict[str, Any]:
    """The stored JSON of a trade (Decimals as strings)."""
    data = asdict(trade)
    data["side"] = int(trade.side)
    data["protection"] = trade.protection.value
    data["told"] = list(trade.told)
    return _strings(data)


def trade_from_dict(data: dict[str, Any]) -> Trade:
    """The trade stored by `trade_as_dict`."""
    orders = {
        oid: Seen(**{**seen, "traded_price": _decimal(seen.get("traded_price"))})
        for oid, seen in (data.get("orders") or {}).items()
    }
    trade = Trade(
        tag=data["tag"],
        alert_id=data["alert_id"],
        symbol=data["symbol"],
        side=Side(int(data["side"])),
        qty=int(data["qty"]),
        product_type=data["product_type"],
        protection=Protection(data["protection"]),
        stop_loss=_decimal(data.get("stop_loss")),
        take_profit=_decimal(data.get("take_profit")),
        strategy=data.get("strategy"),
        entry_id=data.get("entry_id"),
    )
    return replace(
        trade,
        orders=orders,
        told=tuple(data.get("told") or ()),
        protection_tags=dict(data.get("protection_tags") or {}),
        final=bool(data.get("final")),
    )


def _decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None


def _strings(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strings(v) for v in value]
    return value
