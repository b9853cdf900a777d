"""Parts of one alert leg read together: its size by risk, the contract a position opens, its meta."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from app.domain import alert_values as values
from app.domain.alert_fields import SIZE_FIELDS
from app.domain.alert_values import shown
from app.domain.errors import InvalidAlert
from app.domain.strikes import StrikeChoice


def check_meta(value: Any, prefix: str) -> None:
    """`meta` is the trader's own object, journaled as sent: anything else is refused."""
    if value is not None and not isinstance(value, dict):
        raise InvalidAlert(prefix + "meta", f"{prefix}meta must be an object, got {shown(value)}")


def contract_to_open(
    payload: Mapping[str, Any], flat: bool, exact_strikes: bool
) -> tuple[StrikeChoice | None, str | date | None]:
    """The strike and expiry a long or short opens; flat opens nothing."""
    if "optionType" in payload:
        raise InvalidAlert(
            "optionType",
            f"optionType {shown(payload['optionType'])} is not read with position: "
            "the option type follows from long_as and short_as",
        )
    if flat:
        # One template serves long, short and flat: a flat's size must be nothing, its contract fields
        # are checked (the next long would fail on them) and left unused.
        for name in ("qty", "lots"):
            values.zero(name, payload.get(name), "position flat holds nothing")
        if payload.get("strikeprice") is not None:
            values.strike("strikeprice", payload["strikeprice"], exact_strikes)
        if payload.get("expiry") is not None:
            values.expiry("expiry", payload["expiry"])
        return None, None
    strike = values.strike("strikeprice", payload.get("strikeprice"), exact_strikes)
    return strike, values.expiry("expiry", payload.get("expiry"))


def leg_risk(payload: Mapping[str, Any], prefix: str, closing: str | None) -> tuple[Decimal | None, Decimal | None]:
    """The leg's risk in rupees, or in percent of CAPITAL: one way to size an entry, and never an exit."""
    risk = values.positive_number(prefix + "risk", payload.get("risk"))
    risk_pct = values.percent(prefix + "risk_pct", payload.get("risk_pct"))
    if risk is None and risk_pct is None:
        return None, None
    name = "risk" if risk is not None else "risk_pct"
    field, sent = prefix + name, shown(payload[name])
    if closing is not None:
        raise InvalidAlert(field, f"{field} {sent} sizes an entry; {closing} closes what is held: drop {name}")
    for other in SIZE_FIELDS:
        if other != name and payload.get(other) not in (None, ""):
            raise InvalidAlert(
                field,
                f"{field} {sent} sizes the order, and so does {prefix}{other} {shown(payload[other])}: "
                "give one of qty, lots, risk or risk_pct",
            )
    return risk, risk_pct
