"""Size by risk: the whole lots whose loss at the stop stays within the rupees an alert risks.

lots = floor(risk / (lot_size x |entry - stop|)): rounded down, so the order never risks more
than asked; at least one lot, else refused; at most WEBHOOK_MAX_QTY lots, capped and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Callable

from app.domain.alert import Alert
from app.domain.errors import InvalidAlert, RiskRefused

_HUNDRED = Decimal(100)
_PAISE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Sizing:
    """How a risk-sized order got its lots: the arithmetic its answer and its journal record show."""

    risk: Decimal  # rupees the order may lose at its stop
    per_lot: Decimal  # rupees one lot loses at the stop: lot_size x |entry - stop|
    lots: int
    qty: int
    entry: Decimal  # the LTP the stop was priced off
    stop: Decimal
    capped_by: str | None = None  # "WEBHOOK_MAX_QTY" when the risk would buy more lots than allowed
    risk_pct: Decimal | None = None  # set when the risk came from a percentage of CAPITAL
    capital: Decimal | None = None

    def shown(self, number: Callable[[Decimal], Any]) -> dict[str, Any]:
        """The arithmetic, money through `number` (float for an answer, str for the journal)."""
        shown = {
            "risk": number(self.risk),
            "per_lot": number(self.per_lot),
            "lots": self.lots,
            "qty": self.qty,
            "entry": number(self.entry),
            "stop": number(self.stop),
            "capped_by": self.capped_by,
        }
        if self.risk_pct is not None:
            shown.update(risk_pct=number(self.risk_pct), capital=number(self.capital))
        return shown


def risk_rupees(risk: Decimal | None, risk_pct: Decimal | None, capital: Decimal | None, field: str) -> Decimal:
    """The rupees at risk: `risk` as sent, or `risk_pct` percent of CAPITAL (rounded down to the paisa)."""
    if risk is not None:
        return risk
    if capital is None:
        raise InvalidAlert(
            field,
            f"{field} {risk_pct} is a percentage of CAPITAL, and CAPITAL is not set: "
            "set CAPITAL (rupees) or send risk in rupees",
        )
    return (capital * risk_pct / _HUNDRED).quantize(_PAISE, rounding=ROUND_FLOOR)


def size_by_risk(
    risk: Decimal,
    entry: Decimal,
    stop: Decimal,
    lot_size: int,
    max_lots: int | None,
    field: str = "risk",
) -> Sizing:
    """The whole lots within `risk` rupees from `entry` to `stop`, at least one, at most `max_lots`.

    The stop is never the entry (pricing keeps it at least a tick away), so a lot always risks something.
    """
    per_lot = lot_size * abs(entry - stop)
    lots = int((risk / per_lot).to_integral_value(rounding=ROUND_FLOOR))
    if lots < 1:
        raise RiskRefused(
            "risk",
            f"one lot of {lot_size} risks Rs {per_lot:.2f} ({lot_size} x |{entry} - {stop}|), "
            f"more than the Rs {risk:.2f} asked in {field}; nothing was placed",
            field=field,
            sizing={
                "risk": float(risk),
                "per_lot": float(per_lot),
                "lots": 0,
                "entry": float(entry),
                "stop": float(stop),
            },
        )
    capped_by = None
    if max_lots is not None and lots > max_lots:
        # Fewer lots risk less than asked: the cap keeps both limits, where a refusal would drop the trade.
        lots, capped_by = max_lots, "WEBHOOK_MAX_QTY"
    return Sizing(risk, per_lot, lots, lots * lot_size, entry, stop, capped_by)


def size_leg(
    leg: Alert, capital: Decimal | None, entry: Decimal, stop: Decimal, lot_size: int, max_lots: int | None
) -> Sizing | None:
    """The sizing of a leg that sends `risk` or `risk_pct` (None for one that sends qty or lots)."""
    if leg.risk is None and leg.risk_pct is None:
        return None
    field = leg.field("risk" if leg.risk is not None else "risk_pct")
    sizing = size_by_risk(risk_rupees(leg.risk, leg.risk_pct, capital, field), entry, stop, lot_size, max_lots, field)
    if leg.risk_pct is None:
        return sizing
    return replace(sizing, risk_pct=leg.risk_pct, capital=capital)
