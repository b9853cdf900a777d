"""A simulated broker: deterministic prices, immediate fills, positions and an order book."""

from __future__ import annotations

import hashlib
import itertools
import threading
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from app.deadline import Deadline
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder, Position, PositionExit, Priority, Side
from app.ports import Broker

_TICK = Decimal("0.05")
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


class PaperBroker(Broker):
    """Fills every market order at once at the paper LTP; nothing leaves the process."""

    name = "paper"

    def __init__(self):
        self._lock = threading.Lock()
        self._orders: list[BrokerOrder] = []
        self._net: dict[tuple[str, str], int] = {}
        self._ids = itertools.count(1)

    def quotes(
        self, symbols: Sequence[str], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> dict[str, Decimal]:
        """Deterministic LTPs (no rate budget: the priority is not needed)."""
        return {symbol: paper_ltp(symbol) for symbol in symbols}

    def positions(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Position]:
        """Net positions from today's fills."""
        with self._lock:
            return [
                Position(symbol, qty, product)
                for (symbol, product), qty in self._net.items()
                if qty
            ]

    def place_order(
        self, order: OrderRequest, deadline: Deadline, *, priority: Priority | None = None
    ) -> PlacedOrder:
        """Fill the order at once."""
        with self._lock:
            order_id = f"PAPER{next(self._ids):010d}"
            self._orders.append(
                BrokerOrder(
                    order_id=order_id,
                    symbol=order.symbol,
                    qty=order.qty,
                    side=order.side,
                    product_type=order.product_type,
                    tag=order.tag,
                    status="traded",
                )
            )
            key = (order.symbol, order.product_type)
            self._net[key] = self._net.get(key, 0) + order.qty * int(order.side)
        return PlacedOrder(order_id=order_id, message="filled on the paper broker")

    def exit_position(
        self, position: Position, deadline: Deadline, *, priority: Priority = Priority.EXIT
    ) -> PositionExit:
        """Flatten the position with an untagged counter order filled at once."""
        key = (position.symbol, position.product_type)
        with self._lock:
            held = self._net.get(key, 0)
            if not held:
                return PositionExit(position.position_id, "nothing_to_close", "no open position to exit")
            self._orders.append(
                BrokerOrder(
                    order_id=f"PAPER{next(self._ids):010d}",
                    symbol=position.symbol,
                    qty=abs(held),
                    side=Side.SELL if held > 0 else Side.BUY,
                    product_type=position.product_type,
                    tag=None,
                    status="traded",
                )
            )
            self._net[key] = 0
        return PositionExit(position.position_id, "closed", "closed on the paper broker")

    def find_order(
        self, order: OrderRequest, since: datetime, deadline: Deadline, *, priority: Priority | None = None
    ) -> BrokerOrder | None:
        """The order with this tag, or the same contract, side, qty and product if untagged."""
        with self._lock:
            for placed in self._orders:
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

    def readiness(self) -> tuple[bool, str]:
        """Always ready."""
        return True, "paper broker"

    @property
    def orders(self) -> list[BrokerOrder]:
        """Every order placed so far (for tests and the console)."""
        with self._lock:
            return list(self._orders)

