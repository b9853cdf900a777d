"""Stop-loss and target levels priced off the last traded price, on the contract's tick."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from app.domain.orders import Side

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Exits:
    """Stop-loss and target as price levels, and as point distances from the LTP."""

    stop_loss: Decimal
    take_profit: Decimal
    stop_loss_points: Decimal
    take_profit_points: Decimal


def round_to_tick(price: Decimal, tick: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """The nearest multiple of `tick` (or the next one in the `rounding` direction)."""
    return (price / tick).to_integral_value(rounding=rounding) * tick


def price_exits(
    side: Side,
    ltp: Decimal,
    tick: Decimal,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    sl_percent: Decimal,
    tp_percent: Decimal,
) -> Exits:
    """Direction-aware exits: the alert's levels when on the right side of the LTP, else percentages.

    A buy's stop sits below the LTP and its target above; a sell's the other way round.
    Every level lands on the tick and at least one tick away from the LTP, and a level
    below the LTP never reaches zero.
    """
    ltp = round_to_tick(ltp, tick)
    below, above = (stop_loss, take_profit) if side is Side.BUY else (take_profit, stop_loss)
    below_pct, above_pct = (sl_percent, tp_percent) if side is Side.BUY else (tp_percent, sl_percent)

    if below is None or not tick <= below < ltp:
        below = ltp * (1 - below_pct / _HUNDRED)
    if above is None or not above > ltp:
        above = ltp * (1 + above_pct / _HUNDRED)
    # Round away from the LTP so a level never collapses onto it.
    below = min(round_to_tick(below, tick, ROUND_FLOOR), ltp - tick)
    below = max(below, tick)
    above = max(round_to_tick(above, tick, ROUND_CEILING), ltp + tick)

    sl, tp = (below, above) if side is Side.BUY else (above, below)
    return Exits(
        stop_loss=sl,
        take_profit=tp,
        stop_loss_points=abs(ltp - sl),
        take_profit_points=abs(tp - ltp),
    )
