"""Order intents and results in the trader's words, free of any broker's wire format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum


class Side(IntEnum):
    """Direction of an order; the values are Fyers's `side` codes."""

    BUY = 1
    SELL = -1


class Priority(IntEnum):
    """What a broker call is for; when the rate budget is short, the lower value goes first."""

    EXIT = 0  # closes or protects a position (and the reads such an order needs)
    LOOKUP = 1  # an order-book look-up of an order that may be pending
    ENTRY = 2  # a new order that opens or adds to a position
    QUOTE = 3  # prices for new entries
    # An order already answered 202 that waits for a spare slot: it has seconds (RATE_WAIT_SECONDS),
    # the alerts still being priced behind it have milliseconds, so they go first.
    WAITING = 4


LIMIT = 1  # Fyers order type 1: limit order
MARKET = 2  # Fyers order type 2: market order
STOP_MARKET = 3  # Fyers order type 3: stop order (SL-M), at market once the stop price trades
TAGLESS_PRODUCTS = frozenset({"CO", "BO"})  # Fyers refuses orderTag on cover and bracket orders
# A cover or bracket position is closed by the broker's exit-position call: a plain opposite
# order is refused (a CO order needs a stop loss) and would leave the position's legs working.
EXIT_BY_BROKER = frozenset({"CO", "BO"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order to place: at market unless `order_type` says limit or stop.

    `stop_loss_points` / `take_profit_points` are distances from the fill, as Fyers wants them:
    a CO/BO's legs, or the TP/SL legs (`legType` 1) of an INTRADAY/MARGIN order.
    """

    symbol: str
    qty: int
    side: Side
    product_type: str
    tag: str | None
    stop_loss_points: Decimal | None = None
    take_profit_points: Decimal | None = None
    order_type: int = MARKET
    slice: bool = False  # above the exchange's freeze quantity: Fyers slices it (isSliceOrder)
    amo: bool = False  # an after-market order (offlineOrder), placed while the market is closed
    closing: bool = False  # closes a position (an EXIT): sent, and looked up, ahead of entries
    waiting: bool = False  # answered 202 already, sent when a slot is spare (Priority.WAITING)
    limit_price: Decimal | None = None  # a limit order's price (a target order)
    stop_price: Decimal | None = None  # a stop order's trigger (a protective SL-M order)

    @property
    def priority(self) -> Priority:
        """The rate-budget priority of sending this order."""
        if self.closing:
            return Priority.EXIT
        return Priority.WAITING if self.waiting else Priority.ENTRY

    @property
    def lookup_priority(self) -> Priority:
        """The rate-budget priority of looking this order up."""
        return Priority.EXIT if self.closing else Priority.LOOKUP


@dataclass(frozen=True, slots=True)
class SliceResult:
    """One slice of an order the broker cut at the freeze quantity, and what became of it."""

    order_id: str | None
    qty: int | None  # None when the broker's answer and book did not say
    status: str  # placed, transit (sent, not yet acknowledged) or rejected
    message: str = ""

    @property
    def stands(self) -> bool:
        """Whether this slice is (or may be) at the exchange."""
        return self.status != "rejected"

    def as_dict(self) -> dict:
        """A JSON-ready copy, for answers and the journal."""
        return {"id": self.order_id, "qty": self.qty, "status": self.status, "message": self.message}


def slices_summary(slices: "list[SliceResult] | tuple[SliceResult, ...]") -> str:
    """In words: how many slices stand, and which were rejected with what reason."""
    refused = [f"slice {number} rejected: {s.message or 'no reason given'}"
               for number, s in enumerate(slices, 1) if not s.stands]
    standing = len(slices) - len(refused)
    if not refused:
        return f"all {len(slices)} slices stand"
    return f"{standing} of {len(slices)} slices stand; " + "; ".join(refused)


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """What the broker said about an order it has accepted (every slice, for a sliced one)."""

    order_id: str
    status: str = "placed"
    message: str = ""
    slices: tuple[SliceResult, ...] = ()

    @property
    def partly_rejected(self) -> bool:
        """Some slices stand and others were rejected."""
        return any(not s.stands for s in self.slices)


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as found in the broker's order book."""

    order_id: str
    symbol: str
    qty: int
    side: Side
    product_type: str
    tag: str | None
    status: str  # traded, pending, transit, rejected, cancelled, expired
    message: str = ""
    slices: tuple[SliceResult, ...] = ()  # every slice in the book, for a sliced order
    filled_qty: int = 0
    traded_price: Decimal | None = None  # the average fill price, once something filled
    parent_id: str | None = None  # a protection leg's entry order (or position id)
    order_type: int = MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_loss_points: Decimal | None = None  # TP/SL legs the order carries (points from the fill)
    take_profit_points: Decimal | None = None

    @property
    def working(self) -> bool:
        """Still at the exchange, able to fill: pending or in transit."""
        return self.status in ("pending", "transit")


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade in the broker's tradebook: part or all of an order, at one price."""

    order_id: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    product_type: str
    tag: str | None = None
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """A net position in one contract."""

    symbol: str
    net_qty: int
    product_type: str
    # The broker's own figures, in rupees (None where the broker gave none).
    realized: Decimal | None = None
    unrealized: Decimal | None = None
    pl: Decimal | None = None
    ltp: Decimal | None = None
    buy_avg: Decimal | None = None
    sell_avg: Decimal | None = None

    @property
    def position_id(self) -> str:
        """The broker's id of this position: one per contract and product, `SYMBOL-PRODUCT`."""
        return f"{self.symbol}-{self.product_type}"


@dataclass(frozen=True, slots=True)
class Margin:
    """What a set of orders needs from the account, and what the account has free, in rupees."""

    required: Decimal
    available: Decimal

    @property
    def shortfall(self) -> Decimal:
        """How much more the account needs to fund the orders (0 when it can)."""
        return max(Decimal(0), self.required - self.available)


@dataclass(frozen=True, slots=True)
class PositionExit:
    """What the broker's exit-position call did to one position."""

    position_id: str
    status: str  # closed, pending (counter order placed, not yet filled), nothing_to_close
    message: str = ""


def order_tag(seed: str, strategy: str | None = None) -> str:
    """A Fyers-safe order tag (alphanumeric, at most 30 characters) fixed by the alert's key.

    The strategy's name (its first letters and digits) leads the tag, so the trader can read
    in the Fyers order book which strategy placed an order.
    """
    prefix = "".join(ch for ch in (strategy or "") if ch.isascii() and ch.isalnum())[:8] or "TV"
    return prefix + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:22]


def order_as_dict(order: OrderRequest) -> dict:
    """A JSON-ready copy of an order request, for the state store."""
    stored = {
        "symbol": order.symbol,
        "qty": order.qty,
        "side": int(order.side),
        "product_type": order.product_type,
        "tag": order.tag,
        "stop_loss_points": str(order.stop_loss_points) if order.stop_loss_points else None,
        "take_profit_points": str(order.take_profit_points) if order.take_profit_points else None,
        "order_type": order.order_type,
        "slice": order.slice,
        "amo": order.amo,
    }
    for name in ("limit_price", "stop_price"):
        if getattr(order, name) is not None:
            stored[name] = str(getattr(order, name))
    if order.closing:
        stored["closing"] = True
    return stored


def order_from_dict(data: dict) -> OrderRequest:
    """The order request stored by `order_as_dict`."""
    return OrderRequest(
        symbol=data["symbol"],
        qty=int(data["qty"]),
        side=Side(int(data["side"])),
        product_type=data["product_type"],
        tag=data.get("tag"),
        stop_loss_points=Decimal(data["stop_loss_points"]) if data.get("stop_loss_points") else None,
        take_profit_points=Decimal(data["take_profit_points"]) if data.get("take_profit_points") else None,
        order_type=int(data.get("order_type", MARKET)),
        slice=bool(data.get("slice", False)),
        amo=bool(data.get("amo", False)),
        closing=bool(data.get("closing", False)),
        limit_price=Decimal(data["limit_price"]) if data.get("limit_price") else None,
        stop_price=Decimal(data["stop_price"]) if data.get("stop_price") else None,
    )
