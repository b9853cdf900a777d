"""A simulated broker: deterministic prices an operator can move, fills, protection legs and P&L.

Nothing leaves the process. The book follows Fyers's where the bridge reads it: a filled order
with stop-loss / take-profit points gets child legs (`<id>-BO-2` stop, `<id>-BO-3` target, with
`parent_id`), one leg's fill cancels the other, and positions carry Fyers's money figures with
the day's flat rows kept. Prices stay put until `set_price` moves one.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from app.adapters.paper_ledger import Ledger
from app.adapters.paper_margin import PAPER_FUNDS, order_needs, position_holds
from app.deadline import Deadline
from app.domain.errors import OrderRejected
from app.domain.orders import (
    LIMIT,
    MARKET,
    STOP_MARKET,
    BrokerOrder,
    Fill,
    Margin,
    OrderRequest,
    PlacedOrder,
    Position,
    PositionExit,
    Priority,
    Side,
)
from app.ports import Broker

_TICK = Decimal("0.05")
_LEG_PRODUCTS = frozenset({"INTRADAY", "MARGIN", "CO", "BO"})  # the products whose orders carry TP/SL legs
_INDEX_LTP = {
    "NSE:NIFTY50-INDEX": Decimal("26000.00"),
    "NSE:NIFTYBANK-INDEX": Decimal("59000.00"),
    "NSE:FINNIFTY-INDEX": Decimal("27500.00"),
    "NSE:MIDCPNIFTY-INDEX": Decimal("13500.00"),
    "NSE:NIFTYNXT50-INDEX": Decimal("70000.00"),
    "BSE:SENSEX-INDEX": Decimal("85000.00"),
    "BSE:BANKEX-INDEX": Decimal("65000.00"),
}


def paper_ltp(symbol: str) -> Decimal:
    """A stable price for a symbol: the same every run, between 50 and 500, on the tick."""
    if symbol in _INDEX_LTP:
        return _INDEX_LTP[symbol]
    digest = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:4], "big")
    return Decimal(50) + (digest % 9000) * _TICK


def on_tick(price: Decimal) -> Decimal:
    """The nearest price on the 0.05 tick."""
    return (price / _TICK).quantize(Decimal(1), rounding=ROUND_HALF_UP) * _TICK


def _execution_price(order: BrokerOrder, price: Decimal) -> Decimal | None:
    """Where a working order fills at `price`: a stop at `price` once touched, a limit at its own price."""
    direction = int(order.side)
    if order.order_type == STOP_MARKET and (price - order.stop_price) * direction >= 0:
        return price
    if order.order_type == LIMIT and (price - order.limit_price) * direction <= 0:
        return order.limit_price
    return None


class PaperBroker(Broker):
    """Fills market orders at once at the paper price, holds stop and limit orders until the price reaches them."""

    name = "paper"

    def __init__(self, funds: Decimal = PAPER_FUNDS):
        self._funds = funds  # PAPER_FUNDS: the paper account's money, for the margin check
        self._lock = threading.Lock()
        self._book: list[BrokerOrder] = []
        self._where: dict[str, int] = {}  # order id -> its place in the book
        self._fills: list[Fill] = []
        self._ledgers: dict[tuple[str, str], Ledger] = {}
        self._prices: dict[str, Decimal] = {}  # prices moved by `set_price`
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)

    def quotes(
        self, symbols: Sequence[str], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> dict[str, Decimal]:
        """Paper LTPs, as moved (no rate budget: the priority is not needed)."""
        with self._lock:
            return {symbol: self._price(symbol) for symbol in symbols}

    def set_price(self, symbol: str, price: Decimal) -> list[BrokerOrder]:
        """Move a price (on the tick) and fill, in book order, every working order on it that the price reaches."""
        filled = []
        with self._lock:
            self._prices[symbol] = price
            place = 0
            while place < len(self._book):  # legs opened by a fill here are reached too: the price is already there
                order = self._book[place]
                place += 1
                if order.symbol == symbol and order.working:
                    fill_at = _execution_price(order, price)
                    if fill_at is not None:
                        filled.append(self._fill(order.order_id, fill_at))
        return filled

    def positions(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Position]:
        """Every row of the day, flat ones too (as Fyers lists them), with realized and unrealized P&L."""
        with self._lock:
            return [
                ledger.position(symbol, product, self._price(symbol))
                for (symbol, product), ledger in self._ledgers.items()
            ]

    def place_order(self, order: OrderRequest, deadline: Deadline, *, priority: Priority | None = None) -> PlacedOrder:
        """A market order fills at once; a limit order too when marketable; a stop order waits for its price."""
        if order.order_type == LIMIT and order.limit_price is None:
            raise OrderRejected("a limit order needs a limit price")
        if order.order_type == STOP_MARKET and order.stop_price is None:
            raise OrderRejected("a stop order needs a stop price")
        with self._lock:
            order_id = f"PAPER{next(self._ids):010d}"
            placed = self._add(
                BrokerOrder(
                    order_id=order_id,
                    symbol=order.symbol,
                    qty=order.qty,
                    side=order.side,
                    product_type=order.product_type,
                    tag=order.tag,
                    status="pending",
                    order_type=order.order_type,
                    limit_price=order.limit_price,
                    stop_price=order.stop_price,
                    stop_loss_points=order.stop_loss_points,
                    take_profit_points=order.take_profit_points,
                )
            )
            price = self._price(order.symbol)
            # A marketable limit order takes the price on offer, as at the exchange.
            if order.order_type == MARKET or order.order_type == LIMIT and _execution_price(placed, price) is not None:
                placed = self._fill(order_id, price)
        if placed.status == "traded":
            return PlacedOrder(order_id=order_id, message="filled on the paper broker")
        return PlacedOrder(order_id=order_id, message="pending on the paper broker")

    def exit_position(
        self, position: Position, deadline: Deadline, *, priority: Priority = Priority.EXIT
    ) -> PositionExit:
        """Cancel the position's working orders (its legs), then flatten it with an untagged counter order."""
        key = (position.symbol, position.product_type)
        with self._lock:
            ledger = self._ledgers.get(key)
            held = ledger.net if ledger else 0
            if not held:
                return PositionExit(position.position_id, "nothing_to_close", "no open position to exit")
            # As Fyers's exit with pending_orders_cancel: a stop left working would open the other way.
            for order in list(self._book):
                if order.working and (order.symbol, order.product_type) == key:
                    self._put(replace(order, status="cancelled", message="cancelled: the position was exited"))
            counter_id = f"PAPER{next(self._ids):010d}"
            side = Side.SELL if held > 0 else Side.BUY
            self._add(BrokerOrder(counter_id, position.symbol, abs(held), side, position.product_type, None, "pending"))
            self._fill(counter_id, self._price(position.symbol))
        return PositionExit(position.position_id, "closed", "closed on the paper broker")

    def find_order(
        self, order: OrderRequest, since: datetime, deadline: Deadline, *, priority: Priority | None = None
    ) -> BrokerOrder | None:
        """The order with this tag, or the same contract, side, qty and product if untagged (never a leg)."""
        for placed in self.orders:
            if order.tag and placed.tag == order.tag:
                return placed
            if not order.tag and (placed.symbol, placed.qty, placed.side, placed.product_type) == (
                order.symbol,
                order.qty,
                order.side,
                order.product_type,
            ):
                return placed
        return None

    def order_book(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[BrokerOrder]:
        """Every order of the day, legs included, oldest first."""
        with self._lock:
            return list(self._book)

    def order_by_id(
        self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.LOOKUP
    ) -> BrokerOrder | None:
        """The order as it stands now, or None for an id the book does not have."""
        with self._lock:
            place = self._where.get(order_id)
            return None if place is None else self._book[place]

    def fills(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Fill]:
        """One trade per fill, oldest first."""
        with self._lock:
            return list(self._fills)

    def cancel_order(self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.EXIT) -> None:
        """Cancel a working order; OrderRejected for one that filled or ended already, or an unknown id."""
        with self._lock:
            place = self._where.get(order_id)
            if place is None:
                raise OrderRejected(f"no order {order_id} in the paper book")
            order = self._book[place]
            if not order.working:
                raise OrderRejected(f"order {order_id} is {order.status}: only a pending order can be cancelled")
            self._put(replace(order, status="cancelled", message="cancelled on request"))

    def margin(self, orders: list[OrderRequest], deadline: Deadline, *, priority: Priority = Priority.QUOTE) -> Margin:
        """Buys need their premium at the paper price, sells a fixed margin; free: PAPER_FUNDS less positions' hold."""
        with self._lock:
            required = sum((order_needs(order, self._price(order.symbol)) for order in orders), Decimal(0))
            held = sum((position_holds(ledger) for ledger in self._ledgers.values()), Decimal(0))
        return Margin(required=required, available=self._funds - held)

    def readiness(self) -> tuple[bool, str]:
        """Always ready."""
        return True, "paper broker"

    @property
    def orders(self) -> list[BrokerOrder]:
        """Every order placed so far, as it stands now, without the legs the book opened (for tests and the console)."""
        with self._lock:
            return [order for order in self._book if order.parent_id is None]

    # The helpers below run with the lock held.

    def _price(self, symbol: str) -> Decimal:
        return self._prices.get(symbol) or paper_ltp(symbol)

    def _add(self, order: BrokerOrder) -> BrokerOrder:
        self._where[order.order_id] = len(self._book)
        self._book.append(order)
        return order

    def _put(self, order: BrokerOrder) -> None:
        self._book[self._where[order.order_id]] = order

    def _fill(self, order_id: str, price: Decimal) -> BrokerOrder:
        """Fill the whole order at `price`: a trade, the position, then its legs (an entry) or its sibling (a leg)."""
        order = self._book[self._where[order_id]]
        filled = replace(order, status="traded", filled_qty=order.qty, traded_price=price, message="filled")
        self._put(filled)
        trade_id = f"PAPERT{next(self._trade_ids):09d}"
        self._fills.append(
            Fill(order_id, order.symbol, order.side, order.qty, price, order.product_type, order.tag, trade_id)
        )
        self._ledgers.setdefault((order.symbol, order.product_type), Ledger()).add(order.side, order.qty, price)
        if filled.parent_id is not None:
            self._cancel_other_legs(filled)
        elif order.product_type in _LEG_PRODUCTS and (order.stop_loss_points or order.take_profit_points):
            self._open_legs(filled)
        return filled

    def _open_legs(self, entry: BrokerOrder) -> None:
        """Pending legs on the other side, points away from the fill: `-BO-2` a stop, `-BO-3` a target limit."""
        direction = int(entry.side)
        legs = []
        if entry.stop_loss_points:
            stop = max(_TICK, on_tick(entry.traded_price - direction * entry.stop_loss_points))
            legs.append(("2", STOP_MARKET, None, stop))
        if entry.take_profit_points:
            target = max(_TICK, on_tick(entry.traded_price + direction * entry.take_profit_points))
            legs.append(("3", LIMIT, target, None))
        for number, order_type, limit_price, stop_price in legs:
            leg = BrokerOrder(
                order_id=f"{entry.order_id}-BO-{number}",
                symbol=entry.symbol,
                qty=entry.qty,
                side=Side(-direction),
                product_type=entry.product_type,
                tag=entry.tag,
                status="pending",
                parent_id=entry.order_id,
                order_type=order_type,
                limit_price=limit_price,
                stop_price=stop_price,
            )
            self._add(leg)

    def _cancel_other_legs(self, leg: BrokerOrder) -> None:
        for order in list(self._book):
            if order.parent_id == leg.parent_id and order.order_id != leg.order_id and order.working:
                message = f"cancelled: the other leg {leg.order_id} executed"
                self._put(replace(order, status="cancelled", message=message))
