"""OpenAlgo's strategy webhook message, read as position intent on the contract STRATEGY_CONTRACTS names.

OpenAlgo's message (`action` + `position_size`, BOTH mode) names no option: BUY n>0 is long, SELL n>0
short, 0 flat. Which option contract a strategy trades, and how many lots, is the setting's to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from app.domain import alert_values as values
from app.domain.alert_values import shown, underlying_named
from app.domain.errors import InvalidAlert


@dataclass(frozen=True)
class StrategyContract:
    """The option contract a strategy trades when its messages name none (STRATEGY_CONTRACTS)."""

    strategy: str
    underlying: str
    strike: str  # as configured: ATM, OTM1, 24000
    expiry: str  # as configured: WEEKLY, MONTHLY, a date
    lots: int


def from_openalgo(payload: Mapping[str, Any], contracts: tuple[StrategyContract, ...]) -> dict[str, Any]:
    """Our position intent message for an OpenAlgo strategy message, on the strategy's configured contract."""
    values.refuse_placeholders({k: payload[k] for k in ("action", "position_size", "strategy") if k in payload}, "")
    position = _position(payload.get("action"), payload.get("position_size"))
    strategy = values.strategy_name(payload.get("strategy"))
    if strategy is None:
        raise InvalidAlert("strategy", "strategy is required with position_size: STRATEGY_CONTRACTS names its contract")
    contract = next((c for c in contracts if c.strategy == strategy), None)
    if contract is None:
        raise InvalidAlert(
            "strategy",
            f"strategy {shown(strategy)} has no contract: add it to STRATEGY_CONTRACTS "
            f"(e.g. {strategy}:NIFTY:ATM:WEEKLY:1), or send strikeprice and optionType",
        )
    if payload.get("symbol") is None or underlying_named(payload["symbol"]) != contract.underlying:
        raise InvalidAlert(
            "symbol",
            f"symbol {shown(payload.get('symbol'))} is not {contract.underlying}, "
            f"the underlying STRATEGY_CONTRACTS gives strategy {strategy}",
        )
    for name in (n for n in ("expiry", "qty", "quantity", "lots") if n in payload):
        raise InvalidAlert(name, f"{name} {shown(payload[name])} is not read with position_size: "
                           f"STRATEGY_CONTRACTS gives strategy {strategy} its expiry and lots")
    message = {**payload, "position": position, "symbol": contract.underlying, "strikeprice": contract.strike,
               "expiry": contract.expiry}
    if position != "flat":
        message["lots"] = contract.lots
    return message


def _position(action: Any, size: Any) -> str:
    """long, short or flat from OpenAlgo's action and signed position_size."""
    side = values.one_of("action", action, ("BUY", "SELL"))
    text = str(size).strip() if isinstance(size, (int, float, str)) and not isinstance(size, bool) else ""
    try:
        number = Decimal(text) if text.isascii() and len(text) <= 32 else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise InvalidAlert("position_size", f"position_size must be a number, got {shown(size)}")
    if number == 0:
        return "flat"
    if number < 0 and side == "BUY":
        raise InvalidAlert(
            "position_size",
            f"position_size {shown(size)} is a short position, but action is BUY: a short comes with SELL",
        )
    return "long" if side == "BUY" else "short"
