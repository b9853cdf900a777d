"""The alert a TradingView strategy sends, validated field by field.

One message holds one leg (the seed payload) or several (`legs`). Field names of the other
seed systems are accepted as aliases (alert_fields.py), and TradingView's placeholders arrive as
strings (alert_values.py reads each value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from app.domain import alert_values as values
from app.domain.alert_fields import (
    ACTIONS,
    ALIASES,
    INFORMATIONAL_FIELDS,
    LEG_FIELDS,
    MAX_LEGS,
    MESSAGE_FIELDS,
    OPTION_TYPES,
    PRODUCT_TYPES,
    SECRET_NAMES,
    SHARED_FIELDS,
    SIZE_FIELDS,
    nearest_field,
    normalize,
)
from app.domain.alert_values import SHOWN_CHARS, shown, underlying_named
from app.domain.errors import InvalidAlert, RiskRefused
from app.domain.orders import Side
from app.domain.strikes import StrikeChoice

# Read from here by the services and the tests: the parser's helpers, kept importable by name.
__all__ = [
    "Alert", "AlertMessage", "check_lots", "nearest_field", "parse_alert", "parse_message", "shown", "underlying_named",
]

# TradingView's placeholders are names: {{close}}, {{strategy.order.action}}, {{plot("RSI")}}.
# Other text in braces ("{{7*7}}") is no placeholder and gets the field's own check.
_PLACEHOLDER = re.compile(r'\{\{\s*([A-Za-z_][\w.]{0,60}(?:\("[^"{}]{0,40}"\))?)\s*\}\}', re.ASCII)
_SECRET_LIKE = re.compile(r"tok|secret|pass|auth|key|pin", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Alert:
    """One validated leg: what to trade, before the contract is resolved."""

    underlying: str
    strike: StrikeChoice | None  # None only for an EXIT of a whole underlying
    option_type: str | None
    expiry: str | date | None
    action: str  # BUY, SELL or EXIT
    qty: int | None  # contracts; None means one lot (or, for lots, see `lots`)
    product_type: str
    stop_loss: Decimal | None
    take_profit: Decimal | None
    idempotency_key: str | None
    lots: int | None = None
    risk: Decimal | None = None  # rupees the order may lose at its stop: sizes the order (sizing.py)
    risk_pct: Decimal | None = None  # the same as a percentage of CAPITAL
    scope: str = "contract"  # EXIT only: the contract, or every position of the underlying
    field_prefix: str = ""  # "legs[1]." for a leg, so errors name the exact field

    @property
    def side(self) -> Side:
        """BUY or SELL (an EXIT's side comes from the position it closes)."""
        return Side[self.action]


@dataclass(frozen=True)
class AlertMessage:
    """Everything one POST asks for."""

    legs: list[Alert]
    idempotency_key: str | None
    strategy: str | None = None
    dry_run: bool = False
    multi_leg: bool = False


def parse_message(
    payload: Mapping[str, Any],
    *,
    default_product_type: str,
    header_key: str | None = None,
    exact_strikes: bool = True,
) -> AlertMessage:
    """Validate a whole message: a single alert, or `legs` sharing the message's fields."""
    # Unknown names first, then unfilled placeholders: either explains the field better than
    # the value check that would otherwise refuse it.
    _refuse_unknown(payload, (*LEG_FIELDS, *MESSAGE_FIELDS, *INFORMATIONAL_FIELDS), "")
    payload = normalize(payload)
    _refuse_placeholders(payload, "")
    _meta(payload.get("meta"), "")
    key = values.idempotency_key(payload.get("idempotency_key"), header_key)
    strategy = values.strategy_name(payload.get("strategy"))
    dry_run = values.true_or_false("dry_run", payload.get("dry_run"))
    legs_value = payload.get("legs")
    if legs_value is None:
        leg = _leg(payload, "", default_product_type, key, exact_strikes)
        return AlertMessage([leg], key, strategy, dry_run, False)
    if not isinstance(legs_value, list) or not 1 <= len(legs_value) <= MAX_LEGS:
        raise InvalidAlert("legs", f"legs must be a list of 1 to {MAX_LEGS} alerts, got {shown(legs_value)}")
    for name in LEG_FIELDS:
        # A leg field the message cannot share would be dropped: say where it belongs.
        if name in payload and name not in SHARED_FIELDS:
            raise InvalidAlert(name, f"{name} {shown(payload[name])} is set per leg: move it into each of legs[]")
    shared = {name: payload[name] for name in SHARED_FIELDS if name in payload}
    legs = []
    for index, raw_leg in enumerate(legs_value):
        prefix = f"legs[{index}]."
        if not isinstance(raw_leg, dict):
            raise InvalidAlert(f"legs[{index}]", f"legs[{index}] must be an object, got {shown(raw_leg)}")
        _refuse_unknown(raw_leg, (*LEG_FIELDS, "meta", "comment"), prefix)
        leg_payload = normalize(raw_leg)
        _refuse_placeholders(leg_payload, prefix)
        _meta(leg_payload.get("meta"), prefix)
        merged = {**shared, **leg_payload}
        legs.append(_leg(merged, prefix, default_product_type, key, exact_strikes))
    return AlertMessage(legs, key, strategy, dry_run, True)


def _field_name(prefix: str, name: Any) -> str:
    """An unknown field's name for `field`: as sent when plain, else bounded and quoted."""
    if isinstance(name, str) and values.KEY.fullmatch(name) and len(name) <= SHOWN_CHARS:
        return prefix + name
    return prefix + shown(name)


def _refuse_unknown(payload: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
    """A field the bridge would not read is refused: the order must not go out on defaults."""
    for name in payload:
        if name in known or ALIASES.get(name) in known:
            continue
        field_name = _field_name(prefix, name)
        if prefix and name in (*MESSAGE_FIELDS, *INFORMATIONAL_FIELDS, "secret"):
            raise InvalidAlert(field_name, f"{name} belongs to the message, not to one of its legs")
        suggestion = nearest_field(name, known) if isinstance(name, str) else None
        hint = f"; did you mean {prefix}{suggestion}?" if suggestion else "; the fields are listed in docs/alerts.md"
        # A misspelt secret ("Token", "secret_key") holds the secret: its value is never echoed.
        secret_like = suggestion == "token" or _SECRET_LIKE.search(str(name)) is not None
        sent = "a value, not shown" if secret_like else shown(payload[name])
        raise InvalidAlert(
            field_name,
            f"unknown field {field_name} (sent {sent}){hint}",
            suggestion=prefix + suggestion if suggestion else None,
        )


def _refuse_placeholders(payload: Mapping[str, Any], prefix: str) -> None:
    """A `{{...}}` TradingView did not fill means the alert is not what the trader wrote."""
    for name, value in payload.items():
        if name in ("meta", "comment", *SECRET_NAMES) or not isinstance(value, str):
            continue
        found = _PLACEHOLDER.search(value)
        if found is None:
            continue
        field_name = prefix + name
        if found.group(1).startswith("strategy."):
            why = (
                "TradingView fills {{strategy.*}} only in strategy alerts: create the alert on the "
                "strategy (condition: the strategy's order fills), or write the value itself"
            )
        else:
            placeholder = "{{" + found.group(1)[:SHOWN_CHARS] + "}}"
            why = f"TradingView left the placeholder {placeholder} unfilled: check its spelling"
        raise InvalidAlert(field_name, f"{field_name} is {shown(value)}: {why}")


def _meta(value: Any, prefix: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise InvalidAlert(prefix + "meta", f"{prefix}meta must be an object, got {shown(value)}")


def parse_alert(
    payload: Mapping[str, Any], *, default_product_type: str, header_key: str | None = None
) -> Alert:
    """Validate a single-leg alert (secret already checked); every failure names its field."""
    message = parse_message(payload, default_product_type=default_product_type, header_key=header_key)
    if message.multi_leg:
        raise InvalidAlert("legs", "expected a single alert")
    return message.legs[0]


def check_lots(qty: int | None, lot_size: int, max_lots: int | None, field: str = "qty") -> int:
    """The order quantity in contracts: a whole number of lots, at most `max_lots` lots."""
    if qty is None:
        qty = lot_size
    if qty % lot_size:
        raise InvalidAlert(
            field, f"{field} must be a whole number of lots of {lot_size} contracts, got {qty}"
        )
    if max_lots is not None and qty // lot_size > max_lots:
        raise RiskRefused(
            "WEBHOOK_MAX_QTY",
            f"qty {qty} is {qty // lot_size} lots; at most {max_lots} lot(s) "
            f"({max_lots * lot_size} contracts) per order are allowed (WEBHOOK_MAX_QTY)",
            field=field,
        )
    return qty


def _leg(
    payload: Mapping[str, Any], prefix: str, default_product_type: str, key: str | None, exact_strikes: bool
) -> Alert:
    action = values.one_of(prefix + "action", payload.get("action"), ACTIONS)
    scope = values.one_of(prefix + "scope", payload.get("scope", "contract"), ("CONTRACT", "UNDERLYING")).lower()
    whole_underlying = action == "EXIT" and scope == "underlying"
    if "qty" in payload and "lots" in payload:
        raise InvalidAlert(prefix + "lots", "give qty (contracts) or lots, not both")
    risk, risk_pct = _risk(payload, prefix, action)
    underlying = _underlying(payload.get("symbol"), prefix)
    # An EXIT of a whole underlying names no contract.
    strike = option_type = expiry = None
    if not whole_underlying:
        strike = values.strike(prefix + "strikeprice", payload.get("strikeprice"), exact_strikes)
        option_type = values.one_of(prefix + "optionType", payload.get("optionType"), OPTION_TYPES)
        expiry = values.expiry(prefix + "expiry", payload.get("expiry"))
    return Alert(
        underlying=underlying,
        strike=strike,
        option_type=option_type,
        expiry=expiry,
        action=action,
        qty=values.whole_number(prefix + "qty", payload.get("qty")),
        lots=values.whole_number(prefix + "lots", payload.get("lots")),
        risk=risk,
        risk_pct=risk_pct,
        product_type=values.one_of(
            prefix + "productType", payload.get("productType", default_product_type), PRODUCT_TYPES
        ),
        stop_loss=values.positive_number(prefix + "sl", payload.get("sl")),
        take_profit=values.positive_number(prefix + "tp", payload.get("tp")),
        idempotency_key=key,
        scope=scope,
        field_prefix=prefix,
    )


def _risk(payload: Mapping[str, Any], prefix: str, action: str) -> tuple[Decimal | None, Decimal | None]:
    """The leg's risk in rupees, or in percent of CAPITAL: one way to size an entry, and never an exit."""
    risk = values.positive_number(prefix + "risk", payload.get("risk"))
    risk_pct = values.percent(prefix + "risk_pct", payload.get("risk_pct"))
    if risk is None and risk_pct is None:
        return None, None
    name = "risk" if risk is not None else "risk_pct"
    field, sent = prefix + name, shown(payload[name])
    if action == "EXIT":
        raise InvalidAlert(field, f"{field} {sent} sizes an entry; an EXIT closes what is held: drop {name}")
    for other in SIZE_FIELDS:
        if other != name and payload.get(other) not in (None, ""):
            raise InvalidAlert(
                field,
                f"{field} {sent} sizes the order, and so does {prefix}{other} {shown(payload[other])}: "
                "give one of qty, lots, risk or risk_pct",
            )
    return risk, risk_pct


def _underlying(value: Any, prefix: str) -> str:
    if value is None:
        raise InvalidAlert(prefix + "symbol", "symbol is required: the underlying, e.g. NIFTY")
    return underlying_named(value, prefix + "symbol")
