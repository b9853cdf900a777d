"""The paper broker's positions: one row per contract and product, with Fyers's money figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from app.domain.orders import Position, Side

_PAISA = Decimal("0.01")


def rupees(amount: Decimal) -> Decimal:
    """An amount in rupees, rounded to the paisa."""
    return amount.quantize(_PAISA, rounding=ROUND_HALF_UP)


@dataclass
class Ledger:
    """One contract-and-product row of the day: what was bought and sold, in quantity and rupees."""

    buy_qty: int = 0
    buy_value: Decimal = Decimal(0)
    sell_qty: int = 0
    sell_value: Decimal = Decimal(0)

    @property
    def net(self) -> int:
        """The quantity held: long above zero, short below."""
        return self.buy_qty - self.sell_qty

    def add(self, side: Side, qty: int, price: Decimal) -> None:
        """Count one fill."""
        if side == Side.BUY:
            self.buy_qty, self.buy_value = self.buy_qty + qty, self.buy_value + qty * price
        else:
            self.sell_qty, self.sell_value = self.sell_qty + qty, self.sell_value + qty * price

    def position(self, symbol: str, product_type: str, ltp: Decimal) -> Position:
        """The row as a position at price `ltp`."""
        # Fyers's day-average figures: realized on the closed quantity, unrealized on the net at its side's average.
        buy_avg = self.buy_value / self.buy_qty if self.buy_qty else Decimal(0)
        sell_avg = self.sell_value / self.sell_qty if self.sell_qty else Decimal(0)
        realized = rupees(min(self.buy_qty, self.sell_qty) * (sell_avg - buy_avg))
        held_at = buy_avg if self.net > 0 else sell_avg
        unrealized = rupees(self.net * (ltp - held_at)) if self.net else Decimal("0.00")
        return Position(
            symbol,
            self.net,
            product_type,
            realized=realized,
            unrealized=unrealized,
            pl=realized + unrealized,
            ltp=ltp,
            buy_avg=rupees(buy_avg),
            sell_avg=rupees(sell_avg),
        )
