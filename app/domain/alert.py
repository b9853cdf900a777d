"""The alert a TradingView strategy sends, validated field by field into an `Alert`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from app.domain.contracts import parse_expiry
from app.domain.errors import InvalidAlert
from app.domain.orders import Side

PRODUCT_TYPES = ("INTRADAY", "MARGIN", "CO", "BO")
OPTION_TYPES = ("CE", "PE")
_UNDERLYING = re.compile(r"^[A-Z][A-Z0-9&-]{0,19}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
_MAX_NUMBER = Decimal("10000000")  # no index option strike or price comes near this


@dataclass(frozen=True, slots=True)
class Alert:
    """A validated alert: what to trade, before the contract is resolved."""

    underlying: str
    strike: Decimal
    option_type: str
    expiry: str | date
    side: Side
    qty: int | None  # contracts; None means one lot
    product_type: str
    stop_loss: Decimal | None
    take_profit: Decimal | None
    idempotency_key: str | None


def parse_alert(
    payload: Mapping[str, Any], *, default_product_type: str, header_key: str | None = None
) -> Alert:
    """Validate an alert body (secret already checked); every failure names its field."""
    return Alert(
        underlying=_underlying(payload.get("symbol")),
        strike=_positive_number("strikeprice", payload.get("strikeprice"), required=True),
        option_type=_choice("optionType", payload.get("optionType"), OPTION_TYPES),
        expiry=_expiry(payload.get("expiry")),
        side=Side[_choice("action", payload.get("action"), ("BUY", "SELL"))],
        qty=_qty(payload.get("qty")),
        product_type=_choice(
            "productType", payload.get("productType", default_product_type), PRODUCT_TYPES
        ),
        stop_loss=_positive_number("sl", payload.get("sl")),
        take_profit=_positive_number("tp", payload.get("tp")),
        idempotency_key=_idempotency_key(payload.get("idempotency_key"), header_key),
    )


def check_lots(qty: int | None, lot_size: int, max_lots: int) -> int:
    """The order quantity in contracts: a whole number of lots, at most `max_lots` lots."""
    if qty is None:
        qty = lot_size
    if qty % lot_size:
        raise InvalidAlert(
            "qty", f"qty must be a whole number of lots of {lot_size} contracts, got {qty}"
        )
    if qty // lot_size > max_lots:
        raise InvalidAlert(
            "qty",
            f"qty {qty} is {qty // lot_size} lots; at most {max_lots} lot(s) "
            f"({max_lots * lot_size} contracts) per order are allowed (WEBHOOK_MAX_QTY)",
        )
    return qty


def _underlying(value: Any) -> str:
    if value is None:
        raise InvalidAlert("symbol", "symbol is required: the underlying, e.g. NIFTY")
    if not isinstance(value, str) or not _UNDERLYING.match(value.strip().upper()):
        raise InvalidAlert("symbol", "symbol must be an underlying name such as NIFTY or BANKNIFTY")
    return value.strip().upper()


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value is None:
        raise InvalidAlert(field, f"{field} is required: one of {', '.join(allowed)}")
    if not isinstance(value, str) or value.strip().upper() not in allowed:
        raise InvalidAlert(field, f"{field} must be one of {', '.join(allowed)}")
    return value.strip().upper()


def _expiry(value: Any) -> str | date:
    if value is None:
        raise InvalidAlert("expiry", "expiry is required: WEEKLY, MONTHLY or a YYYY-MM-DD date")
    return parse_expiry(value)


def _number(field: str, value: Any) -> Decimal:
    """A finite number from a JSON number or a numeric string (TradingView sends strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidAlert(field, f"{field} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidAlert(field, f"{field} must be a finite number")
    text = str(value).strip()
    if len(text) > 32:
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


def _qty(value: Any) -> int | None:
    if value is None:
        return None
    number = _number("qty", value)
    if number != number.to_integral_value() or number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert("qty", "qty must be a positive whole number of contracts")
    return int(number)


def _idempotency_key(body_key: Any, header_key: str | None) -> str | None:
    key = body_key if body_key not in (None, "") else header_key
    if key in (None, ""):
        return None
    if isinstance(key, (int,)) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidAlert(
            "idempotency_key", "idempotency_key must be 1-200 printable characters without spaces"
        )
    return key
