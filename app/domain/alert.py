"""The alert a TradingView strategy sends, validated field by field.

One message holds one leg (the seed payload) or several (`legs`). Field names of the other
seed systems are accepted as aliases, and TradingView's placeholders arrive as strings.
"""

from __future__ import annotations

import difflib
import json
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
# What one leg reads; a single alert reads the same from the message.
LEG_FIELDS = (
    "symbol", "strikeprice", "optionType", "expiry", "action", "qty", "lots", "productType", "sl", "tp", "scope",
)
MESSAGE_FIELDS = ("token", "idempotency_key", "strategy", "dry_run", "legs")
# Never read to trade: kept in the journal as sent. `meta` is the trader's own object; the
# rest are what TradingView's placeholders fill ({{close}}, {{ticker}}, {{timenow}}, ...).
# `time` and `timenow` are also read by MAX_ALERT_AGE_SECONDS.
INFORMATIONAL_FIELDS = (
    "meta", "comment", "price", "close", "open", "high", "low", "volume",
    "interval", "ticker", "exchange", "time", "timenow", "position_size", "market_position",
)
# Names traders write for a field, beyond what spelling closeness finds.
_SYNONYMS = {
    "side": "action", "type": "optionType", "takeprofit": "tp", "profit": "tp", "stop": "sl", "expiration": "expiry",
}
# TradingView's names for the index underlyings: the chart ticker, with or without its
# exchange, and the continuous future. The one place they are read; docs/alerts.md lists them.
TRADINGVIEW_TICKERS = {
    "NIFTY": ("NSE", ("NIFTY", "NIFTY50", "NIFTY1!")),
    "BANKNIFTY": ("NSE", ("BANKNIFTY", "NIFTYBANK", "BANKNIFTY1!")),
    "FINNIFTY": ("NSE", ("FINNIFTY", "CNXFINANCE", "FINNIFTY1!")),
    "MIDCPNIFTY": ("NSE", ("MIDCPNIFTY", "NIFTY_MID_SELECT", "MIDCPNIFTY1!")),
    "NIFTYNXT50": ("NSE", ("NIFTYNXT50", "NIFTYJR")),
    "SENSEX": ("BSE", ("SENSEX", "SENSEX1!")),
    "BANKEX": ("BSE", ("BANKEX", "BANKEX1!")),
}
_TICKERS = {
    name: underlying
    for underlying, (exchange, names) in TRADINGVIEW_TICKERS.items()
    for bare in names
    for name in (bare, f"{exchange}:{bare}")
}
# TradingView's placeholders are names: {{close}}, {{strategy.order.action}}, {{plot("RSI")}}.
# Other text in braces ("{{7*7}}") is no placeholder and gets the field's own check.
_PLACEHOLDER = re.compile(r'\{\{\s*([A-Za-z_][\w.]{0,60}(?:\("[^"{}]{0,40}"\))?)\s*\}\}', re.ASCII)
_SHOWN_CHARS = 40  # of a value echoed in an error: enough to recognise it, never a whole body
_UNDERLYING = re.compile(r"[A-Z][A-Z0-9&-]{0,19}")
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces (matched whole)
_STRATEGY = re.compile(r"[A-Za-z0-9_ .:/-]{1,64}")
_MAX_NUMBER = Decimal("10000000")  # no index option strike or price comes near this
_SECRET_NAMES = ("token", "secret")
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
    # Unknown names first, then unfilled placeholders: either explains the field better than
    # the value check that would otherwise refuse it.
    _refuse_unknown(payload, (*LEG_FIELDS, *MESSAGE_FIELDS, *INFORMATIONAL_FIELDS), "")
    payload = normalize(payload)
    _refuse_placeholders(payload, "")
    _meta(payload.get("meta"), "")
    key = _idempotency_key(payload.get("idempotency_key"), header_key)
    strategy = _strategy(payload.get("strategy"))
    dry_run = _flag("dry_run", payload.get("dry_run"))
    legs_value = payload.get("legs")
    if legs_value is None:
        leg = _leg(payload, "", default_product_type, key, exact_strikes)
        return AlertMessage([leg], key, strategy, dry_run, False, payload)
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
    return AlertMessage(legs, key, strategy, dry_run, True, payload)


def shown(value: Any) -> str:
    """A value as sent, for an error message: JSON, ASCII only, at most about 40 characters."""
    if isinstance(value, str):
        text = json.dumps(value[:_SHOWN_CHARS])
        if len(value) > _SHOWN_CHARS or len(text) > 2 * _SHOWN_CHARS:  # escapes may lengthen it
            text = text[: 2 * _SHOWN_CHARS - 4] + '..."' if len(text) > 2 * _SHOWN_CHARS else text[:-1] + '..."'
        return text
    try:
        text = json.dumps(value, default=str)
    except (ValueError, TypeError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _field_name(prefix: str, name: Any) -> str:
    """An unknown field's name for `field`: as sent when plain, else bounded and quoted."""
    if isinstance(name, str) and _KEY.fullmatch(name) and len(name) <= _SHOWN_CHARS:
        return prefix + name
    return prefix + shown(name)


def nearest_field(name: str, known: tuple[str, ...]) -> str | None:
    """The known field a misspelt `name` most likely means, by its seed name, or None."""
    aliases = [alias for alias, seed_name in ALIASES.items() if seed_name in known]
    folded = {_fold(known_name): known_name for known_name in (*known, *aliases)}
    wanted = _fold(name)
    match = folded.get(wanted) or folded.get(_fold(_SYNONYMS.get(wanted, "")))
    if match is None:
        # "product" for productType, "target_price" for target: the longest name one begins the other.
        prefixes = [
            f for f in folded if len(min(f, wanted, key=len)) >= 3 and (wanted.startswith(f) or f.startswith(wanted))
        ]
        match = folded[max(prefixes, key=len)] if prefixes else None
    if match is None:
        close = difflib.get_close_matches(wanted, list(folded), n=1, cutoff=0.7)
        match = folded[close[0]] if close else None
    if match is None:
        return None
    return ALIASES.get(match, match)


def _fold(name: str) -> str:
    return re.sub(r"[\s_.-]", "", name.lower())


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
        if name in ("meta", "comment", *_SECRET_NAMES) or not isinstance(value, str):
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
            placeholder = "{{" + found.group(1)[:_SHOWN_CHARS] + "}}"
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
    return underlying_named(value, prefix + "symbol")


def underlying_named(value: Any, field: str = "symbol") -> str:
    """The underlying an alert names: its plain name (NIFTY) or a TradingView ticker (NSE:NIFTY, NIFTY1!)."""
    text = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if text in _TICKERS:
        return _TICKERS[text]
    if text is None or not _UNDERLYING.fullmatch(text):
        raise InvalidAlert(
            field,
            f"{field} {shown(value)} is not an underlying: send its name (NIFTY, BANKNIFTY, RELIANCE) "
            "or the index's TradingView ticker (NSE:NIFTY, NIFTY1!, BSE:SENSEX)",
        )
    return text


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value is None:
        raise InvalidAlert(field, f"{field} is required: one of {', '.join(allowed)}")
    # ASCII first: str.upper() turns lookalikes such as "ſell" or "nıfty" into valid words.
    if not isinstance(value, str) or not value.isascii() or value.strip().upper() not in allowed:
        raise InvalidAlert(field, f"{field} must be one of {', '.join(allowed)}, got {shown(value)}")
    return value.strip().upper()


def _expiry(value: Any, prefix: str) -> str | date:
    if value is None:
        raise InvalidAlert(prefix + "expiry", "expiry is required: WEEKLY, MONTHLY or a YYYY-MM-DD date")
    if not isinstance(value, str) or not value.isascii() or len(value) > _SHOWN_CHARS:
        # No selector or date is like this; parse_expiry's own message would not show the value.
        raise InvalidAlert(
            prefix + "expiry",
            f"expiry must be WEEKLY, NEXT_WEEKLY, MONTHLY, NEXT_MONTHLY or a date YYYY-MM-DD, got {shown(value)}",
        )
    try:
        return parse_expiry(value)
    except InvalidAlert as error:
        raise InvalidAlert(prefix + "expiry", error.message) from None


def _strike(value: Any, prefix: str, exact: bool) -> StrikeChoice:
    field = prefix + "strikeprice"
    try:
        relative = parse_relative(value)
    except InvalidAlert as error:
        raise InvalidAlert(field, error.message) from None
    if relative is not None:
        return relative
    return StrikeChoice(exact=_positive_number(field, value, required=True), nearest=not exact)


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


def _positive_number(field: str, value: Any, required: bool = False) -> Decimal | None:
    if value is None or (not required and value == ""):
        if required:
            raise InvalidAlert(field, f"{field} is required")
        return None
    number = _number(field, value)
    if number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert(field, f"{field} must be a positive number below {_MAX_NUMBER}, got {shown(value)}")
    return number


def _whole(name: str, value: Any, prefix: str) -> int | None:
    field = prefix + name
    if value is None or value == "":
        return None
    number = _number(field, value)
    if number != number.to_integral_value() or number <= 0 or number > _MAX_NUMBER:
        raise InvalidAlert(field, f"{field} must be a positive whole number, got {shown(value)}")
    return int(number)


def _flag(field: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidAlert(field, f"{field} must be true or false, got {shown(value)}")


def _strategy(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isascii() or not _STRATEGY.fullmatch(value.strip()):
        raise InvalidAlert(
            "strategy", f"strategy must be a name of 1-64 letters, digits, spaces or . : / - _, got {shown(value)}"
        )
    return value.strip()


def _idempotency_key(body_key: Any, header_key: str | None) -> str | None:
    key = body_key if body_key not in (None, "") else header_key
    if key in (None, ""):
        return None
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidAlert(
            "idempotency_key", f"idempotency_key must be 1-200 printable characters without spaces, got {shown(key)}"
        )
    return key
