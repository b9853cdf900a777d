"""One alert value each, read as TradingView sends it, and the names it may use: else refused naming the field."""

from __future__ import annotations

import json
import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from app.domain.alert_fields import (
    ALIASES,
    INFORMATIONAL_FIELDS,
    MESSAGE_FIELDS,
    SECRET_NAMES,
    TICKER_UNDERLYINGS,
    nearest_field,
)
from app.domain.contracts import parse_expiry
from app.domain.errors import InvalidAlert
from app.domain.strikes import StrikeChoice, parse_relative

SHOWN_CHARS = 40  # of a value echoed in an error: enough to recognise it, never a whole body
KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces (matched whole)
_UNDERLYING = re.compile(r"[A-Z][A-Z0-9&-]{0,19}")
_STRATEGY = re.compile(r"[A-Za-z0-9_ .:/-]{1,64}")
_MAX_NUMBER = Decimal("10000000")  # no index option strike or price comes near this
# TradingView's placeholders are names: {{close}}, {{strategy.order.action}}, {{plot("RSI")}}.
# Other text in braces ("{{7*7}}") is no placeholder and gets the field's own check.
_PLACEHOLDER = re.compile(r'\{\{\s*([A-Za-z_][\w.]{0,60}(?:\("[^"{}]{0,40}"\))?)\s*\}\}', re.ASCII)
_SECRET_LIKE = re.compile(r"tok|secret|pass|auth|key|pin", re.IGNORECASE)


def shown(value: Any) -> str:
    """A value as sent, for an error message: JSON, ASCII only, at most about 40 characters."""
    if isinstance(value, str):
        text = json.dumps(value[:SHOWN_CHARS])
        if len(value) > SHOWN_CHARS or len(text) > 2 * SHOWN_CHARS:  # escapes may lengthen it
            text = text[: 2 * SHOWN_CHARS - 4] + '..."' if len(text) > 2 * SHOWN_CHARS else text[:-1] + '..."'
        return text
    try:
        text = json.dumps(value, default=str)
    except (ValueError, TypeError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def underlying_named(value: Any, field: str = "symbol") -> str:
    """The underlying an alert names: its plain name (NIFTY) or a TradingView ticker (NSE:NIFTY, NIFTY1!)."""
    text = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if text in TICKER_UNDERLYINGS:
        return TICKER_UNDERLYINGS[text]
    if text is None or not _UNDERLYING.fullmatch(text):
        raise InvalidAlert(
            field,
            f"{field} {shown(value)} is not an underlying: send its name (NIFTY, BANKNIFTY, RELIANCE) "
            "or the index's TradingView ticker (NSE:NIFTY, NIFTY1!, BSE:SENSEX)",
        )
    return text


def one_of(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of `allowed`, in any case; required."""
    if value is None:
        raise InvalidAlert(field, f"{field} is required: one of {', '.join(allowed)}")
    # ASCII first: str.upper() turns lookalikes such as "ſell" or "nıfty" into valid words.
    if not isinstance(value, str) or not value.isascii() or value.strip().upper() not in allowed:
        raise InvalidAlert(field, f"{field} must be one of {', '.join(allowed)}, got {shown(value)}")
    return value.strip().upper()


def expiry(field: str, value: Any) -> str | date:
    """An expiry selector or date; required."""
    if value is None:
        raise InvalidAlert(field, "expiry is required: WEEKLY, MONTHLY or a YYYY-MM-DD date")
    if not isinstance(value, str) or not value.isascii() or len(value) > SHOWN_CHARS:
        # No selector or date is like this; parse_expiry's own message would not show the value.
        raise InvalidAlert(
            field,
            f"expiry must be WEEKLY, NEXT_WEEKLY, MONTHLY, NEXT_MONTHLY or a date YYYY-MM-DD, got {shown(value)}",
        )
    try:
        return parse_expiry(value)
    except InvalidAlert as error:
        raise InvalidAlert(field, error.message) from None


def strike(field: str, value: Any, exact: bool) -> StrikeChoice:
    """A strike price, or ATM/ITMn/OTMn relative to the spot; required."""
    try:
        relative = parse_relative(value)
    except InvalidAlert as error:
        raise InvalidAlert(field, error.message) from None
    if relative is not None:
        return relative
    return StrikeChoice(exact=positive_number(field, value, required=True), nearest=not exact)


def _number(field: str, value: Any) -> Decimal:
    """A finite number from a JSON number or a numeric string (TradingView sends strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidAlert(field, f"{field} must be a number, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidAlert(field, f"{field} must be a finite number, got {shown(value)}")
    text = str(value).strip()
    # ASCII only: Decimal also reads Arabic-Indic and full-width digits.
    if len(text) > 32 or not text.isascii():
        raise InvalidAlert(field, f"{field} must be a number, got {shown(value)}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidAlert(field, f"{field} must be a number, got {shown(value)}") from None
    if not number.is_finite():
        raise InvalidAlert(field, f"{field} must be a finite number, got {shown(value)}")
    return number


def positive_number(field: str, value: Any, required: bool = False) -> Decimal | None:
    """A positive number below ten million; None when absent (or empty) and not required."""
    if value is None or (not required and value == ""):
        if required:
            raise InvalidAlert(field, f"{field} is required")
        return None
    number = _number(field, value)
    if number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert(field, f"{field} must be a positive number below {_MAX_NUMBER}, got {shown(value)}")
    return number


def percent(field: str, value: Any) -> Decimal | None:
    """A percentage above 0 and at most 100; None when absent or empty."""
    if value is None or value == "":
        return None
    number = _number(field, value)
    if not 0 < number <= 100:
        raise InvalidAlert(field, f"{field} must be a percentage above 0 and at most 100, got {shown(value)}")
    return number


def whole_number(field: str, value: Any) -> int | None:
    """A positive whole number; None when absent or empty."""
    if value is None or value == "":
        return None
    number = _number(field, value)
    if number != number.to_integral_value() or number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert(field, f"{field} must be a positive whole number, got {shown(value)}")
    return int(number)


def zero(field: str, value: Any, why: str) -> None:
    """Nothing, or 0 as a number or numeric string (TradingView's size of no position); else refused with `why`."""
    if value is not None and value != "" and _number(field, value) != 0:
        raise InvalidAlert(field, f"{field} must be 0 or left out ({why}), got {shown(value)}")


def true_or_false(field: str, value: Any) -> bool:
    """A JSON boolean or the string true/false; False when absent."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidAlert(field, f"{field} must be true or false, got {shown(value)}")


def strategy_name(value: Any) -> str | None:
    """The strategy's name, or None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isascii() or not _STRATEGY.fullmatch(value.strip()):
        raise InvalidAlert(
            "strategy", f"strategy must be a name of 1-64 letters, digits, spaces or . : / - _, got {shown(value)}"
        )
    return value.strip()


def idempotency_key(body_key: Any, header_key: str | None) -> str | None:
    """The body's idempotency_key, else the Idempotency-Key header's, or None."""
    key = body_key if body_key not in (None, "") else header_key
    if key in (None, ""):
        return None
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise InvalidAlert(
            "idempotency_key", f"idempotency_key must be 1-200 printable characters without spaces, got {shown(key)}"
        )
    return key


def _field_name(prefix: str, name: Any) -> str:
    """An unknown field's name for `field`: as sent when plain, else bounded and quoted."""
    if isinstance(name, str) and KEY.fullmatch(name) and len(name) <= SHOWN_CHARS:
        return prefix + name
    return prefix + shown(name)


def refuse_unknown(payload: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
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


def refuse_placeholders(payload: Mapping[str, Any], prefix: str) -> None:
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
