"""The alert a TradingView strategy sends, validated field by field.

One message holds one leg (the seed payload) or several (`legs`). Field names of the other
seed systems are accepted as aliases (alert_fields.py), and TradingView's placeholders arrive as
strings (alert_values.py reads each value).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from app.domain import alert_values as values
from app.domain.alert_fields import (
    ACTIONS,
    INFORMATIONAL_FIELDS,
    LEG_FIELDS,
    LONG_AS,
    MAX_LEGS,
    MESSAGE_FIELDS,
    OPTION_TYPES,
    POSITIONS,
    PRODUCT_TYPES,
    SHARED_FIELDS,
    SHORT_AS,
    nearest_field,
    normalize,
)
from app.domain.alert_parts import check_meta, contract_to_open, leg_risk
from app.domain.alert_values import shown, underlying_named
from app.domain.errors import InvalidAlert, RiskRefused
from app.domain.orders import Side
from app.domain.strikes import StrikeChoice
from app.domain.tickers import leg_ticker, refuse_shared_contract_fields

# Read from here by the services and the tests: the parser's helpers, kept importable by name.
__all__ = [
    "Alert", "AlertMessage", "PositionIntent", "check_lots", "nearest_field", "parse_alert", "parse_message", "shown",
    "underlying_named",
]


@dataclass(frozen=True, slots=True)
class Alert:
    """One validated leg: what to trade, before the contract is resolved."""

    underlying: str
    strike: StrikeChoice | None  # None only for an EXIT of a whole underlying, and for position flat
    option_type: str | None  # None with position intent: long_as/short_as say it
    expiry: str | date | None
    action: str  # BUY, SELL or EXIT; with position intent a placeholder BUY (the planner works out the orders)
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
    ticker: str | None = None  # an exact Fyers ticker (upper case): strike, option_type and expiry are then None
    # Our field names the trader wrote in another bridge's words (("qty", "quantity"), ...): errors use theirs.
    field_names: tuple[tuple[str, str], ...] = ()

    def field(self, name: str) -> str:
        """This leg's field `name` as the trader wrote it: qty, legs[1].qty, order_legs[0].quantity."""
        return self.field_prefix + dict(self.field_names).get(name, name)

    @property
    def side(self) -> Side:
        """BUY or SELL (an EXIT's side comes from the position it closes)."""
        return Side[self.action]


@dataclass(frozen=True)
class PositionIntent:
    """The position a strategy wants to hold, and how its long and short map to options."""

    position: str  # "long", "short" or "flat"
    long_as: str = "buy_ce"  # or "sell_pe"
    short_as: str = "buy_pe"  # or "sell_ce"


@dataclass(frozen=True)
class AlertMessage:
    """Everything one POST asks for."""

    legs: list[Alert]
    idempotency_key: str | None
    strategy: str | None = None
    dry_run: bool = False
    multi_leg: bool = False
    intent: PositionIntent | None = None  # the one leg then names the contract to open and the target size
    open_short: bool = False  # a SELL may open a short option position (else only ALLOW_SHORT_OPTIONS lets it)


def parse_message(
    payload: Mapping[str, Any],
    *,
    default_product_type: str,
    header_key: str | None = None,
    exact_strikes: bool = True,
    long_as: str = "buy_ce",
    short_as: str = "buy_pe",
) -> AlertMessage:
    """Validate a whole message: a single alert, or `legs` sharing the message's fields."""
    # Unknown names first, then unfilled placeholders: either explains the field better than
    # the value check that would otherwise refuse it.
    values.refuse_unknown(payload, (*LEG_FIELDS, *MESSAGE_FIELDS, *INFORMATIONAL_FIELDS), "")
    payload = normalize(payload)
    values.refuse_placeholders(payload, "")
    check_meta(payload.get("meta"), "")
    key = values.idempotency_key(payload.get("idempotency_key"), header_key)
    strategy = values.strategy_name(payload.get("strategy"))
    dry_run = values.true_or_false("dry_run", payload.get("dry_run"))
    open_short = values.true_or_false("open_short", payload.get("open_short"))
    intent = _intent(payload, strategy, long_as, short_as)
    legs_value = payload.get("legs")
    if legs_value is None:
        leg = _leg(payload, "", default_product_type, key, exact_strikes, intent)
        return AlertMessage([leg], key, strategy, dry_run, False, intent, open_short)
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
        values.refuse_unknown(raw_leg, (*LEG_FIELDS, "meta", "comment"), prefix)
        leg_payload = normalize(raw_leg)
        values.refuse_placeholders(leg_payload, prefix)
        check_meta(leg_payload.get("meta"), prefix)
        refuse_shared_contract_fields(shared, leg_payload, prefix)
        merged = {**shared, **leg_payload}
        legs.append(_leg(merged, prefix, default_product_type, key, exact_strikes))
    return AlertMessage(legs, key, strategy, dry_run, True, open_short=open_short)


def _intent(payload: Mapping[str, Any], strategy: str | None, long_as: str, short_as: str) -> PositionIntent | None:
    """The position the alert asks the strategy to hold, or None for an alert of orders."""
    sent = payload.get("position")
    if sent is None:
        for name in ("long_as", "short_as"):
            if name in payload:
                raise InvalidAlert(name, f"{name} {shown(payload[name])} maps a position to options: it needs position")
        return None
    position = values.one_of("position", sent, POSITIONS).lower()
    if "legs" in payload:
        raise InvalidAlert("position", f"position {shown(sent)} targets one strategy position: it cannot go with legs")
    if strategy is None:
        raise InvalidAlert("strategy", "position intent needs a strategy: its book says what it holds")
    return PositionIntent(
        position,
        values.one_of("long_as", payload.get("long_as", long_as), LONG_AS).lower(),
        values.one_of("short_as", payload.get("short_as", short_as), SHORT_AS).lower(),
    )


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
    payload: Mapping[str, Any],
    prefix: str,
    default_product_type: str,
    key: str | None,
    exact_strikes: bool,
    intent: PositionIntent | None = None,
) -> Alert:
    action = _action(payload, prefix, intent)
    scope = values.one_of(prefix + "scope", payload.get("scope", "contract"), ("CONTRACT", "UNDERLYING")).lower()
    whole_underlying = action == "EXIT" and scope == "underlying"
    if "qty" in payload and "lots" in payload:
        raise InvalidAlert(prefix + "lots", "give qty (contracts) or lots, not both")
    flat = intent is not None and intent.position == "flat"
    risk, risk_pct = leg_risk(payload, prefix, "position flat" if flat else "an EXIT" if action == "EXIT" else None)
    ticker = leg_ticker(payload, prefix, intent is not None, whole_underlying)
    underlying = ticker.underlying if ticker else _underlying(payload.get("symbol"), prefix)
    # An EXIT of a whole underlying names no contract; an exact ticker names it whole (tickers.py).
    strike = option_type = expiry = None
    if intent is not None:
        strike, expiry = contract_to_open(payload, flat, exact_strikes)
    elif not whole_underlying and ticker is None:
        strike = values.strike(prefix + "strikeprice", payload.get("strikeprice"), exact_strikes)
        option_type = values.one_of(prefix + "optionType", payload.get("optionType"), OPTION_TYPES)
        expiry = values.expiry(prefix + "expiry", payload.get("expiry"))
    return Alert(
        underlying=underlying,
        strike=strike,
        option_type=option_type,
        expiry=expiry,
        action=action,
        qty=None if flat else values.whole_number(prefix + "qty", payload.get("qty")),
        lots=None if flat else values.whole_number(prefix + "lots", payload.get("lots")),
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
        ticker=ticker.ticker if ticker else None,
    )


def _action(payload: Mapping[str, Any], prefix: str, intent: PositionIntent | None) -> str:
    """The leg's action; with position intent a placeholder BUY, as the strategy's book decides the orders."""
    if intent is None:
        return values.one_of(prefix + "action", payload.get("action"), ACTIONS)
    # TradingView's templates often carry {{strategy.order.action}} too: it must read as one, then is unused.
    if payload.get("action") is not None:
        values.one_of("action", payload["action"], ACTIONS)
    if "scope" in payload:
        raise InvalidAlert(
            "scope", f"scope {shown(payload['scope'])} is for EXIT: position flat closes the strategy's own contracts"
        )
    return "BUY"


def _underlying(value: Any, prefix: str) -> str:
    if value is None:
        raise InvalidAlert(prefix + "symbol", "symbol is required: the underlying, e.g. NIFTY")
    return underlying_named(value, prefix + "symbol")
