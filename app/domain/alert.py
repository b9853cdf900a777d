"""The alert a TradingView strategy sends, validated field by field.

One message holds one leg (the seed payload) or several (`legs`). Field names of the other
seed systems are accepted as aliases, and TradingView's placeholders arrive as strings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from app.domain.contracts import parse_expiry
from app.domain.errors import InvalidAlert, RiskRefused
from app.domain.orders import Side
from app.domain.strikes import StrikeChoice, parse_relative

PRODUCT_TYPES = ("INTRADAY", "MARGIN", "CO", "BO")
OPTION_TYPES = ("CE", "PE")
ACTIONS = ("BUY", "SELL", "EXIT")
MAX_LEGS = 6
ALIASES = {
    "secret": "token",
    "option_type": "optionType",
    "strike": "strikeprice",
    "quantity": "qty",
    "stop_loss": "sl",
    "target": "tp",
    "product_type": "productType",
}
# Fields a multi-leg message may set once for all its legs.
SHARED_FIELDS = ("symbol", "expiry", "productType", "optionType", "qty", "lots", "sl", "tp")
_UNDERLYING = re.compile(r"[A-Z][A-Z0-9&-]{0,19}")
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces (matched whole)
_STRATEGY = re.compile(r"[A-Za-z0-9_ .:/-]{1,64}")
_MAX_NUMBER = Decimal("10000000")  # no index option strike or price comes near this


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
    raw: dict[str, Any] = field(default_factory=dict)


def normalize(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with alias names mapped to the seed names (a seed name present wins)."""
    result = dict(payload)
    for alias, name in ALIASES.items():
        if alias in result:
            value = result.pop(alias)
            result.setdefault(name, value)
    return result


def parse_message(
    payload: Mapping[str, Any],
    *,
    default_product_type: str,
    header_key: str | None = None,
    exact_strikes: bool = True,
) -> AlertMessage:
    """Validate a whole message: a single alert, or `legs` sharing the message's fields."""
    payload = normalize(payload)
    key = _idempotency_key(payload.get("idempotency_key"), header_key)
    strategy = _strategy(payload.get("strategy"))
    dry_run = _flag("dry_run", payload.get("dry_run"))
    legs_value = payload.get("legs")
    if legs_value is None:
        leg = _leg(payload, "", default_product_type, key, exact_strikes)
        return AlertMessage([leg], key, strategy, dry_run, False, payload)
    if not isinstance(legs_value, list) or not 1 <= len(legs_value) <= MAX_LEGS:
        raise InvalidAlert("legs", f"legs must be a list of 1 to {MAX_LEGS} alerts")
    shared = {name: payload[name] for name in SHARED_FIELDS if name in payload}
    legs = []
    for index, raw_leg in enumerate(legs_value):
        if not isinstance(raw_leg, dict):
            raise InvalidAlert(f"legs[{index}]", f"legs[{index}] must be an object")
        merged = {**shared, **normalize(raw_leg)}
        legs.append(_leg(merged, f"legs[{index}].", default_product_type, key, exact_strikes))
    return AlertMessage(legs, key, strategy, dry_run, True, payload)


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
    action = _choice(prefix + "action", payload.get("action"), ACTIONS)
    scope = _choice(prefix + "scope", payload.get("scope", "contract"), ("CONTRACT", "UNDERLYING")).lower()
    whole_underlying = action == "EXIT" and scope == "underlying"
    if "qty" in payload and "lots" in payload:
        raise InvalidAlert(prefix + "lots", "give qty (contracts) or lots, not both")
    return Alert(
        underlying=_underlying(payload.get("symbol"), prefix),
        strike=None if whole_underlying else _strike(payload.get("strikeprice"), prefix, exact_strikes),
        option_type=None if whole_underlying else _choice(prefix + "optionType", payload.get("optionType"), OPTION_TYPES),
        expiry=None if whole_underlying else _expiry(payload.get("expiry"), prefix),
        action=action,
        qty=_whole("qty", payload.get("qty"), prefix),
        lots=_whole("lots", payload.get("lots"), prefix),
        product_type=_choice(
            prefix + "productType", payload.get("productType", default_product_type), PRODUCT_TYPES
        ),
        stop_loss=_positive_number(prefix + "sl", payload.get("sl")),
        take_profit=_positive_number(prefix + "tp", payload.get("tp")),
        idempotency_key=key,
        scope=scope,
        field_prefix=prefix,
    )


def _underlying(value: Any, prefix: str) -> str:
    if value is None:
        raise InvalidAlert(prefix + "symbol", "symbol is required: the underlying, e.g. NIFTY")
    if not isinstance(value, str) or not value.isascii() or not _UNDERLYING.fullmatch(value.strip().upper()):
        raise InvalidAlert(prefix + "symbol", "symbol must be an underlying name such as NIFTY or BANKNIFTY")
    return value.strip().upper()


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value is None:
        raise InvalidAlert(field, f"{field} is required: one of {', '.join(allowed)}")
    # ASCII first: str.upper() turns lookalikes such as "ſell" or "nıfty" into valid words.
    if not isinstance(value, str) or not value.isascii() or value.strip().upper() not in allowed:
        raise InvalidAlert(field, f"{field} must be one of {', '.join(allowed)}")
    return value.strip().upper()


def _expiry(value: Any, prefix: str) -> str | date:
    if value is None:
        raise InvalidAlert(prefix + "expiry", "expiry is required: WEEKLY, MONTHLY or a YYYY-MM-DD date")
    try:
        return parse_expiry(value)
    except InvalidAlert as error:
        raise InvalidAlert(prefix + "expiry", error.message) from None


def _strike(value: Any, prefix: str, exact: bool) -> StrikeChoice:
    field = prefix + "strikeprice"
    relative = parse_relative(value)
    if relative is not None:
        return relative
    return StrikeChoice(exact=_positive_number(field, value, required=True), nearest=not exact)


def _number(field: str, value: Any) -> Decimal:
    """A finite number from a JSON number or a numeric string (TradingView sends strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidAlert(field, f"{field} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidAlert(field, f"{field} must be a finite number")
    text = str(value).strip()
    # ASCII only: Decimal also reads Arabic-Indic and full-width digits.
    if len(text) > 32 or not text.isascii():
        raise InvalidAlert(field, f"{field} must be a number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidAlert(field, f"{field} must be a number, got {text[:32]!r}") from None
    if not number.is_finite():
        raise InvalidAlert(field, f"{field} must be a finite number")
    return number


def _positive_number(field: str, value: Any, required: bool = False) -> Decimal | None:
    if value is None or (not required and value == ""):
        if required:
            raise InvalidAlert(field, f"{field} is required")
        return None
    number = _number(field, value)
    if number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert(field, f"{field} must be a positive number below {_MAX_NUMBER}")
    return number


def _whole(name: str, value: Any, prefix: str) -> int | None:
    field = prefix + name
    if value is None or value == "":
        return None
    number = _number(field, value)
    if number != number.to_integral_value() or number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert(field, f"{field} must be a positive whole number")
    return int(number)


def _flag(field: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidAlert(field, f"{field} must be true or false")


def _strategy(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isascii() or not _STRATEGY.fullmatch(value.strip()):
        raise InvalidAlert("strategy", "strategy must be a name of 1-64 letters, digits, spaces or . : / - _")
    return value.strip()


def _idempotency_key(body_key: Any, header_key: str | None) -> str | None:
    key = body_key if body_key not in (None, "") else header_key
    if key in (None, ""):
        return None
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidAlert(
            "idempotency_key", "idempotency_key must be 1-200 printable characters without spaces"
        )
    return key
