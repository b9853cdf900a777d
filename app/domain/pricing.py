"""Stop-loss and target levels priced off the last traded price, on the contract's tick."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from app.domain.orders import Side

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """An alert's level that was not used as sent: which, what was sent, what is used, and why."""

    field: str  # "sl" or "tp"
    sent: Decimal
    used: Decimal
    reason: str
    wrong_side: bool  # the level was unusable (INVALID_LEVELS=refuse refuses it), not just rounded


@dataclass(frozen=True, slots=True)
class Exits:
    """Stop-loss and target as price levels, and as point distances from the LTP."""

    stop_loss: Decimal
    take_profit: Decimal
    stop_loss_points: Decimal
    take_profit_points: Decimal
    adjustments: tuple[Adjustment, ...] = field(default=())


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
    below the LTP never reaches zero. Each alert level not used as sent is in `adjustments`.
    """
    ltp = round_to_tick(ltp, tick)
    below_field, above_field = ("sl", "tp") if side is Side.BUY else ("tp", "sl")
    sent = {"sl": stop_loss, "tp": take_profit}
    below_pct, above_pct = (sl_percent, tp_percent) if side is Side.BUY else (tp_percent, sl_percent)
    wrong: dict[str, str] = {}

    below = sent[below_field]
    if below is not None and not tick <= below < ltp:
        too_low = below < ltp
        wrong[below_field] = f"must be at least one tick ({tick})" if too_low else f"must be below the LTP {ltp:.2f}"
    if below is None or below_field in wrong:
        below = ltp * (1 - below_pct / _HUNDRED)
    above = sent[above_field]
    if above is not None and not above > ltp:
        wrong[above_field] = f"must be above the LTP {ltp:.2f}"
    if above is None or above_field in wrong:
        above = ltp * (1 + above_pct / _HUNDRED)
    # Round away from the LTP so a level never collapses onto it.
    below = min(round_to_tick(below, tick, ROUND_FLOOR), ltp - tick)
    below = max(below, tick)
    above = max(round_to_tick(above, tick, ROUND_CEILING), ltp + tick)

    used = {below_field: below, above_field: above}
    return Exits(
        stop_loss=used["sl"],
        take_profit=used["tp"],
        stop_loss_points=abs(ltp - used["sl"]),
        take_profit_points=abs(used["tp"] - ltp),
        adjustments=_adjustments(side, ltp, tick, sent, used, wrong),
    )


def _adjustments(
    side: Side, ltp: Decimal, tick: Decimal, sent: dict[str, Decimal | None], used: dict[str, Decimal],
    wrong: dict[str, str],
) -> tuple[Adjustment, ...]:
    """Each level the alert sent that is not used as sent, and why."""
    adjustments = []
    for name, label in (("sl", "stop-loss"), ("tp", "target")):
        if sent[name] is None or sent[name] == used[name]:
            continue
        if name in wrong:
            reason = f"a {side.name}'s {label} {wrong[name]}"
        else:
            reason = f"rounded to the tick {tick}, away from the LTP {ltp:.2f}"
        adjustments.append(Adjustment(name, sent[name], used[name], reason, name in wrong))
    return tuple(adjustments)
