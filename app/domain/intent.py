"""Position intent: from what a strategy holds and the position it wants, the steps that get it there.

TradingView strategies think long, short or flat; the bridge trades options. Long maps to a
bought CE (or, opted in, a sold PE) and short to a bought PE (or a sold CE). The steps close
exactly the contracts the strategy's book holds (by their own tickers, never today's ATM),
resize a held contract by adding or removing lots of it, and open a new contract only when
nothing held is on the wanted side. Pure: the planner turns the steps into orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.books import Holding
from app.domain.orders import Side

# How long and short become options: (option type, side of the opening order).
MAPPINGS = {
    "buy_ce": ("CE", Side.BUY),
    "sell_pe": ("PE", Side.SELL),
    "buy_pe": ("PE", Side.BUY),
    "sell_ce": ("CE", Side.SELL),
}


@dataclass(frozen=True)
class Steps:
    """What moves a strategy from its book to the position it wants."""

    closes: list[tuple[Holding, int]] = field(default_factory=list)  # held contracts and how many to close
    adds: list[tuple[Holding, int]] = field(default_factory=list)  # held contracts and how many to add
    opens: tuple[str, Side] | None = None  # a new contract to open: its option type and side

    @property
    def nothing(self) -> bool:
        """Already where it wants to be."""
        return not self.closes and not self.adds and self.opens is None


def wanted(position: str, long_as: str, short_as: str) -> tuple[str, Side] | None:
    """The option type and side a position means; None for flat."""
    if position == "flat":
        return None
    return MAPPINGS[long_as if position == "long" else short_as]


def option_type_of(symbol: str) -> str:
    """CE or PE, from a Fyers option ticker's last two letters."""
    return symbol[-2:]


def steps(held: list[Holding], target: tuple[str, Side] | None, size: int) -> Steps:
    """The closes, adds and open that take the `held` contracts (of one underlying) to `size` on `target`'s side.

    A held contract on the wanted side is kept and resized; every other one is closed. `size` is the
    wanted contracts (ignored when flat).
    """
    if target is None:
        return Steps(closes=[(h, abs(h.qty)) for h in held if h.qty])
    option_type, side = target
    sign = 1 if side is Side.BUY else -1
    keep = [h for h in held if h.qty * sign > 0 and option_type_of(h.symbol) == option_type]
    closes = [(h, abs(h.qty)) for h in held if h.qty and h not in keep]
    if not keep:
        return Steps(closes=closes, opens=(option_type, side) if size > 0 else None)
    have = sum(abs(h.qty) for h in keep)
    if size > have:
        return Steps(closes=closes, adds=[(keep[-1], size - have)])
    surplus = have - size
    for holding in reversed(keep):  # the latest-opened first
        if surplus <= 0:
            break
        cut = min(abs(holding.qty), surplus)
        closes.append((holding, cut))
        surplus -= cut
    return Steps(closes=closes)
