"""A trade after its order: fills, the protection that stands at the broker, its exit and its P&L.

Pure: `follow` reads what the broker's book shows of one trade's orders (its entry, every slice,
its protection legs or orders) and says what changed since the last look, as events in the
trader's words, and what the bridge must do next (place, cancel, exit). The same rows give the
same result however they arrive: from a postback's read-back or from a sweep of the whole book.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable

from app.domain.orders import BrokerOrder, Side

_PAISE = Decimal("0.01")
STOP_TYPES = frozenset({3, 4})  # SL-M and SL-L: a protective stop


class Protection(StrEnum):
    """How a trade's stop-loss and target exist at the broker (PROTECTION, or the product)."""

    LEGS = "legs"  # Fyers's TP/SL legs on the entry order (legType 1, points)
    ORDERS = "orders"  # a stop order and a limit target placed after the fill; the bridge cancels the other
    BRACKET = "bracket"  # a CO/BO's own legs
    NONE = "none"  # reported only: nothing at the broker


class Event(StrEnum):
    """What the trader is told about a trade; the value is the journal's outcome and the notification's kind."""

    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED = "rejected_by_exchange"  # rejected after Fyers had accepted the order
    CANCELLED = "order_cancelled"
    EXPIRED = "order_expired"
    PROTECTED = "protected"
    PROTECTION_FAILED = "protection_failed"
    STOP_HIT = "stop_hit"
    TARGET_HIT = "target_hit"
    PROTECTION_CANCELLED = "protection_cancelled"  # a leg or order cancelled: the position was closed elsewhere


# Sent whatever NOTIFY_ON says: the trader must act on them.
ALWAYS_TOLD = frozenset({Event.REJECTED, Event.PROTECTION_FAILED})
_ENTRY_ENDS = {"rejected": Event.REJECTED, "cancelled": Event.CANCELLED, "expired": Event.EXPIRED}


@dataclass(frozen=True)
class Seen:
    """One order of a trade as the book last showed it."""

    order_id: str
    status: str
    filled_qty: int = 0
    traded_price: Decimal | None = None
    parent_id: str | None = None
    order_type: int = 2
    role: str = "entry"  # entry, stop or target
    message: str = ""
    carries_legs: bool = False  # the entry row itself shows a stop-loss leg (stopLoss)

    @classmethod
    def of(cls, row: BrokerOrder, role: str) -> Seen:
        """What the trade keeps of a book row."""
        return cls(
            row.order_id,
            row.status,
            row.filled_qty,
            row.traded_price,
            row.parent_id,
            row.order_type,
            role,
            row.message[:200],
            bool(row.stop_loss_points),
        )


@dataclass(frozen=True)
class Step:
    """What one look at the book changed: the events to tell, and what the bridge must now do."""

    trade: Trade
    events: list[tuple[Event, dict[str, Any]]] = field(default_factory=list)
    place_protection: bool = False  # PROTECTION=orders: the entry filled, its stop (and target) are due
    roles: tuple[str, ...] = ()  # the roles this step claimed, to be sent by the instance that won the swap
    cancel: list[str] = field(default_factory=list)  # order ids to cancel (the other side of an exit)


@dataclass(frozen=True)
class Trade:
    """One entry order the bridge placed, followed until it is closed or never opened."""

    tag: str
    alert_id: str
    symbol: str
    side: Side
    qty: int
    product_type: str
    protection: Protection
    stop_loss: Decimal | None = None  # price levels
    take_profit: Decimal | None = None
    strategy: str | None = None
    entry_id: str | None = None
    orders: dict[str, Seen] = field(default_factory=dict)
    told: tuple[str, ...] = ()  # events already told (an event is told once)
    # PROTECTION=orders: role (stop, target) -> the tag of the bridge's own order; set before it is sent,
    # so an order whose outcome was unknown is found in the book by its tag, never sent twice.
    protection_tags: dict[str, str] = field(default_factory=dict)
    final: bool = False

    @property
    def filled_qty(self) -> int:
        """Contracts filled across the entry's slices."""
        return sum(s.filled_qty for s in self._entries())

    @property
    def entry_price(self) -> Decimal | None:
        """The entry's average fill price, from the broker's traded prices."""
        return _average(self._entries())

    def _entries(self) -> list[Seen]:
        return [s for s in self.orders.values() if s.role == "entry"]

    def role_of(self, row: BrokerOrder) -> str | None:
        """Whether a book row is this trade's: its entry, its stop or its target; None if not."""
        entry_ids = {s.order_id for s in self._entries()} | ({self.entry_id} if self.entry_id else set())
        for role, tag in self.protection_tags.items():
            if row.tag == tag:
                return role
        if row.parent_id and (row.parent_id in entry_ids or row.tag == self.tag):
            return "stop" if row.order_type in STOP_TYPES else "target"
        if row.order_id in entry_ids or (row.tag == self.tag and row.parent_id is None and row.side == self.side):
            return "entry"
        return None


def follow(trade: Trade, rows: Iterable[BrokerOrder], position_open: bool | None = None) -> Step:
    """The trade after these book rows, the events they reveal and the bridge's next moves."""
    seen = dict(trade.orders)
    for row in rows:
        role = trade.role_of(row)
        if role is not None:
            seen[row.order_id] = Seen.of(row, role)
    entry_id = trade.entry_id or next((s.order_id for s in seen.values() if s.role == "entry"), None)
    trade = replace(trade, orders=seen, entry_id=entry_id)
    events: list[tuple[Event, dict[str, Any]]] = []
    step = Step(trade, events)
    _entry_events(trade, events)
    if trade.filled_qty:
        step = _protection_events(trade, events, position_open)
    told = set(trade.told)
    fresh = [(event, facts) for event, facts in events if _key(event, facts) not in told]
    told.update(_key(event, facts) for event, facts in fresh)
    trade = replace(step.trade, told=tuple(sorted(told)), final=step.trade.final or _over(step.trade))
    return replace(step, trade=trade, events=fresh)


def _entry_events(trade: Trade, events: list) -> None:
    entries = trade._entries()
    if not entries:
        return
    filled = trade.filled_qty
    price = trade.entry_price
    if filled and filled >= trade.qty:
        events.append((Event.FILLED, {"qty": filled, "price": price}))
    elif filled:
        events.append((Event.PARTIALLY_FILLED, {"qty": filled, "of": trade.qty, "price": price}))
    for entry in entries:
        end = _ENTRY_ENDS.get(entry.status)
        if end is not None:
            events.append((end, {"order_id": entry.order_id, "message": entry.message, "filled": entry.filled_qty}))


def _protection_events(trade: Trade, events: list, position_open: bool | None) -> Step:
    """Stop and target: standing, hit, missing or cancelled; the exit's P&L from the fill prices."""
    if trade.protection is Protection.NONE:
        return Step(trade)
    legs = {role: [s for s in trade.orders.values() if s.role == role] for role in ("stop", "target")}
    for role, event in (("stop", Event.STOP_HIT), ("target", Event.TARGET_HIT)):
        hit = [s for s in legs[role] if s.filled_qty]
        if hit:
            exit_price = _average(hit)
            qty = sum(s.filled_qty for s in hit)
            events.append((event, {"exit_price": exit_price, "qty": qty, "pnl": pnl(trade, exit_price, qty)}))
            other = "target" if role == "stop" else "stop"
            working = [s.order_id for s in legs[other] if s.status in ("pending", "transit")]
            # Fyers cancels the sibling of its own legs; the bridge's own orders it cancels itself.
            cancel = working if trade.protection is Protection.ORDERS else []
            return Step(trade, cancel=cancel)
    working = [s for role in legs for s in legs[role] if s.status in ("pending", "transit")]
    ended = [s for role in legs for s in legs[role] if s.status in ("cancelled", "expired", "rejected")]
    if working and position_open is False:
        # Closed elsewhere (by hand, an EXIT order): a stop left working would open a naked position.
        ids = [s.order_id for s in working]
        events.append((Event.PROTECTION_CANCELLED, {"order_ids": ids, "why": "the position was closed elsewhere"}))
        return Step(replace(trade, final=True), cancel=ids)
    # A stop is what limits the loss: a target alone protects nothing.
    stop_stands = any(s.status in ("pending", "transit") for s in legs["stop"])
    # The entry row's own stopLoss speaks only while no leg row is known: once legs show, they tell.
    on_entry = not (legs["stop"] or legs["target"]) and any(s.carries_legs for s in trade._entries() if s.filled_qty)
    if stop_stands or on_entry:
        events.append((Event.PROTECTED, _levels(trade)))
        return Step(trade)
    if ended and position_open is False:
        events.append((Event.PROTECTION_CANCELLED, {"order_ids": [s.order_id for s in ended]}))
        return Step(replace(trade, final=True))
    if trade.protection is Protection.ORDERS and "stop" not in trade.protection_tags:
        return Step(trade, place_protection=True)  # never sent, or certainly not sent: (re)claimed and sent
    if ended or trade.protection is not Protection.ORDERS:
        reason = "; ".join(f"{s.role} {s.status}: {s.message}" for s in ended) or "no stop-loss or target in the book"
        events.append((Event.PROTECTION_FAILED, {**_levels(trade), "reason": reason}))
    return Step(trade)


def pnl(trade: Trade, exit_price: Decimal | None, qty: int) -> Decimal | None:
    """The rupees a closed part of the trade made (negative: lost), from the two fill prices."""
    entry = trade.entry_price
    if entry is None or exit_price is None:
        return None
    return ((exit_price - entry) * qty * int(trade.side)).quantize(_PAISE)


def _levels(trade: Trade) -> dict[str, Any]:
    return {"mode": trade.protection.value, "stop_loss": trade.stop_loss, "take_profit": trade.take_profit}


def _over(trade: Trade) -> bool:
    """Nothing more can happen: never opened, or closed by its stop or target."""
    entries = trade._entries()
    never_opened = bool(entries) and not trade.filled_qty and all(s.status in _ENTRY_ENDS for s in entries)
    exited = any(s.filled_qty for s in trade.orders.values() if s.role in ("stop", "target"))
    return never_opened or exited


def _average(parts: Iterable[Seen]) -> Decimal | None:
    filled = [(s.filled_qty, s.traded_price) for s in parts if s.filled_qty and s.traded_price is not None]
    qty = sum(q for q, _ in filled)
    if not qty:
        return None
    return (sum(q * p for q, p in filled) / qty).quantize(_PAISE)


def _key(event: Event, facts: dict[str, Any]) -> str:
    """What makes an event new: a partial fill is new at each quantity, an order's end per order."""
    if event is Event.PARTIALLY_FILLED:
        return f"{event}:{facts['qty']}"
    if "order_id" in facts:
        return f"{event}:{facts['order_id']}"
    return str(event)
