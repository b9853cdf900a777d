"""Other bridges' alert messages, translated into ours before the parser reads them.

Two dialects are read: the multi-leg `order_legs` format of the FastAPI and Dhan webhook servers
(`"alertType": "multi_leg_order"`), and OpenAlgo's strategy webhook (`action` + `position_size`,
no option fields), which becomes position intent on the contract STRATEGY_CONTRACTS names
(openalgo.py). Every refusal names the field as the trader wrote it (`order_legs[1].orderType`,
also for the planner's later refusals: `order_legs[0].transactionType`) and echoes its value.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable, Mapping

from app.domain import alert_values as values
from app.domain.alert import AlertMessage
from app.domain.alert_fields import MAX_LEGS, TRADINGVIEW_TICKERS, nearest_field
from app.domain.alert_values import shown, underlying_named
from app.domain.errors import InvalidAlert, Unexecutable
from app.domain.openalgo import StrategyContract, from_openalgo

__all__ = ["StrategyContract", "read_message"]

# The fields of one order_legs leg: theirs, then ours that a leg may also carry.
ORDER_LEG_FIELDS = (
    "transactionType", "orderType", "quantity", "qty", "exchange", "symbol", "productType", "product_type",
    "sort_order", "price", "meta", "instrument", "comment", "strikeprice", "strike", "strike_price", "optionType",
    "option_type", "expiry", "expiry_date", "lots", "sl", "stop_loss", "tp", "target", "risk", "risk_pct",
)
# Read and checked here; our leg is given what they mean, not the fields.
_THEIRS = ("transactionType", "orderType", "quantity", "exchange", "sort_order", "price", "instrument", "product_type")
# Option fields the message may set once: copied into every leg that does not set its own.
_MESSAGE_OPTION_FIELDS = ("strikeprice", "strike", "strike_price", "optionType", "option_type")
_SIDES = {"B": "BUY", "BUY": "BUY", "S": "SELL", "SELL": "SELL"}
_MARKET = ("MKT", "MARKET")
_NOT_MARKET = ("LMT", "LIMIT", "L", "SL", "SL-M", "SLM", "SL-L", "STOP", "STOPLOSS")
_PRODUCTS = {"I": "INTRADAY", "MIS": "INTRADAY", "INTRADAY": "INTRADAY", "M": "MARGIN", "NRML": "MARGIN",
             "MARGIN": "MARGIN", "CO": "CO", "BO": "BO"}
_DELIVERY = ("C", "CNC", "DELIVERY")
_OPTIONS = ("OPTIDX", "OPTSTK", "OPT")  # OPT: what the Dhan-style servers send for any option
_BSE_UNDERLYINGS = frozenset(u for u, (exchange, _) in TRADINGVIEW_TICKERS.items() if exchange == "BSE")
# OpenAlgo's message is told from ours by what it lacks: any of these keeps a message ours.
_NATIVE_SIGNS = (
    "strikeprice", "strike", "strike_price", "optionType", "option_type", "legs", "order_legs", "position",
)
_LEG_PREFIX = re.compile(r"\blegs\[(\d+)\]\.")


def read_message(
    payload: Mapping[str, Any],
    contracts: tuple[StrategyContract, ...],
    parse: Callable[[Mapping[str, Any]], AlertMessage],
) -> AlertMessage:
    """The message `parse` reads from `payload`, once translated from another bridge's dialect."""
    if "order_legs" in payload or "alertType" in payload:
        translated, origins = _from_order_legs(payload)
        try:
            message = parse(translated)
        except InvalidAlert as error:
            raise _as_written(error, origins) from None
        raw_legs = payload["order_legs"]
        legs = [
            replace(leg, field_prefix=f"order_legs[{origins[i]}].", field_names=_names_written(raw_legs[origins[i]]))
            for i, leg in enumerate(message.legs)
        ]
        return replace(message, legs=legs)
    if "position_size" in payload and "action" in payload and not any(f in payload for f in _NATIVE_SIGNS):
        return parse(from_openalgo(payload, contracts))
    return parse(payload)


def _names_written(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Our field names this leg wrote in the servers' words, for the errors the planner raises later."""
    return (("action", "transactionType"),) + ((("qty", "quantity"),) if "quantity" in raw else ())


def _as_written(error: InvalidAlert, origins: list[int]) -> InvalidAlert:
    """The parser's error with legs[k] named as the trader's order_legs[i]."""
    def renamed(text: str) -> str:
        return _LEG_PREFIX.sub(lambda m: f"order_legs[{origins[int(m.group(1))]}].", text)
    details = {k: renamed(v) if isinstance(v, str) else v for k, v in error.details.items() if k != "field"}
    return InvalidAlert(renamed(error.field), renamed(error.message), **details)


# -- order_legs -------------------------------------------------------------------------------


def _from_order_legs(payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Our `legs` message, and for each of its legs the order_legs index it came from."""
    kind = payload.get("alertType")
    if kind is not None and (not isinstance(kind, str) or kind.strip().lower() != "multi_leg_order"):
        raise InvalidAlert("alertType", f"alertType {shown(kind)} is not read: only multi_leg_order is")
    raw_legs = payload.get("order_legs")
    if not isinstance(raw_legs, list) or not 1 <= len(raw_legs) <= MAX_LEGS:
        raise InvalidAlert("order_legs", f"order_legs must be a list of 1 to {MAX_LEGS} legs, got {shown(raw_legs)}")
    if "legs" in payload:
        raise InvalidAlert("legs", "send legs or order_legs, not both")
    shared = {name: payload[name] for name in _MESSAGE_OPTION_FIELDS if name in payload}
    message = {k: v for k, v in payload.items() if k not in ("alertType", "order_legs", *_MESSAGE_OPTION_FIELDS)}
    if "productType" in message:
        message["productType"] = _product("productType", message["productType"])
    legs = [_leg(raw, f"order_legs[{i}].", shared, message.get("symbol")) for i, raw in enumerate(raw_legs)]
    origins = _sort_order(raw_legs)
    message["legs"] = [legs[i] for i in origins]
    return message, origins


def _leg(raw: Any, prefix: str, shared: dict[str, Any], message_symbol: Any) -> dict[str, Any]:
    """One order_legs leg as our leg: theirs read and checked, ours passed on."""
    if not isinstance(raw, dict):
        raise InvalidAlert(prefix[:-1], f"{prefix[:-1]} must be an object, got {shown(raw)}")
    _refuse_unknown(raw, prefix)
    values.refuse_placeholders(raw, prefix)
    leg = {**shared, **{k: v for k, v in raw.items() if k in ORDER_LEG_FIELDS}}
    for theirs in _THEIRS:
        leg.pop(theirs, None)
    leg["action"] = _side(prefix + "transactionType", raw.get("transactionType"))
    _market_only(prefix + "orderType", raw.get("orderType"))
    _price(prefix + "price", raw.get("price"))
    if "quantity" in raw and "qty" in raw:
        raise InvalidAlert(prefix + "quantity", "give quantity or qty, not both")
    size_name = "quantity" if "quantity" in raw else "qty"
    if raw.get(size_name) not in (None, ""):
        leg["qty"] = values.whole_number(prefix + size_name, raw[size_name])
    product_name = "productType" if "productType" in raw else "product_type"
    if product_name in raw:
        leg["productType"] = _product(prefix + product_name, raw[product_name])
    _instrument(prefix + "instrument", raw.get("instrument"))
    _exchange(prefix + "exchange", raw.get("exchange"), raw.get("symbol", message_symbol))
    return leg


def _refuse_unknown(raw: Mapping[str, Any], prefix: str) -> None:
    """A leg field the bridge would not read is refused: the order must not go out on defaults."""
    for name in raw:
        if name in ORDER_LEG_FIELDS:
            continue
        field = prefix + (name if isinstance(name, str) and values.KEY.fullmatch(name) else shown(name))
        suggestion = nearest_field(name, ORDER_LEG_FIELDS) if isinstance(name, str) else None
        hint = f"; did you mean {prefix}{suggestion}?" if suggestion else "; the fields are listed in docs/alerts.md"
        raise InvalidAlert(field, f"unknown field {field} (sent {shown(raw[name])}){hint}")


def _sort_order(raw_legs: list[Any]) -> list[int]:
    """The legs' indexes in sort_order (stable); all in the order given when none has one."""
    given = [leg.get("sort_order") for leg in raw_legs]
    if all(value in (None, "") for value in given):
        return list(range(len(raw_legs)))
    keys = []
    for index, value in enumerate(given):
        field = f"order_legs[{index}].sort_order"
        if value in (None, ""):
            raise InvalidAlert(field, f"{field} is missing while other legs have one: give every leg a sort_order")
        keys.append(_integer(field, value))
    return sorted(range(len(raw_legs)), key=lambda i: keys[i])


def _integer(field: str, value: Any) -> int:
    """A whole number, from a JSON number or a numeric string."""
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise InvalidAlert(field, f"{field} must be a whole number, got {shown(value)}")
    return int(text)


def _side(field: str, value: Any) -> str:
    """BUY or SELL from B/S/BUY/SELL."""
    if value is None:
        raise InvalidAlert(field, f"{field} is required: B or S (BUY or SELL)")
    side = _SIDES.get(value.strip().upper()) if isinstance(value, str) and value.isascii() else None
    if side is None:
        raise InvalidAlert(field, f"{field} must be B or S (BUY or SELL), got {shown(value)}")
    return side


def _market_only(field: str, value: Any) -> None:
    """MKT or absent; a limit or stop entry is refused: the bridge places market orders only."""
    text = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if value is None or text in _MARKET:
        return
    if text in _NOT_MARKET:
        raise Unexecutable(
            f"{field} {shown(value)} is not supported: the bridge places market orders (MKT), within Fyers's "
            "price protection; limit and stop entries are not. Send MKT; nothing was placed",
            field=field,
        )
    raise InvalidAlert(field, f"{field} must be MKT, got {shown(value)}")


def _price(field: str, value: Any) -> None:
    """0 or absent for a market order; a nonzero price is kept in the journal, not used."""
    if value in (None, ""):
        return
    try:
        values.zero(field, value, "")
    except InvalidAlert:
        values.positive_number(field, value)


def _product(field: str, value: Any) -> str:
    """INTRADAY or MARGIN from I/M (and MIS/NRML); delivery (C, CNC) refused with the reason."""
    text = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if text in _DELIVERY:
        raise InvalidAlert(
            field, f"{field} {shown(value)} is delivery (CNC): options are not delivery products on Fyers; "
            "send I (intraday) or M (margin, carried forward)",
        )
    if text not in _PRODUCTS:
        raise InvalidAlert(field, f"{field} must be I (intraday) or M (margin), got {shown(value)}")
    return _PRODUCTS[text]


def _instrument(field: str, value: Any) -> None:
    """OPTIDX, OPTSTK or OPT, or absent: the bridge trades options only."""
    text = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if value is None or text in _OPTIONS:
        return
    what = {"EQ": "an equity share, ", "FUTIDX": "an index future, ", "FUTSTK": "a stock future, "}.get(text or "", "")
    raise InvalidAlert(field, f"{field} {shown(value)} is {what}not an option: use OPTIDX, OPTSTK or OPT")


def _exchange(field: str, value: Any, symbol: Any) -> None:
    """NFO (NSE's options) or BFO (BSE's), fitting the symbol's exchange; the cash market refused."""
    if value is None:
        return
    text = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if text in ("NSE", "BSE"):
        options = "NFO" if text == "NSE" else "BFO"
        raise InvalidAlert(
            field, f"{field} {shown(value)} is the cash market: options trade on {options} (NFO for NSE, BFO for BSE)"
        )
    if text not in ("NFO", "BFO"):
        raise InvalidAlert(field, f"{field} must be NFO or BFO (the options segments), got {shown(value)}")
    wanted = _segment_of(symbol)
    if wanted is not None and wanted != text:
        raise InvalidAlert(field, f"{field} {shown(value)} does not fit symbol {shown(symbol)}: it trades on {wanted}")


def _segment_of(symbol: Any) -> str | None:
    """NFO or BFO for the symbol's options; None when the symbol is not readable (the parser says why)."""
    if isinstance(symbol, str) and symbol.strip().upper().startswith(("NSE:", "BSE:")):
        text = symbol.strip().upper()
        if text[4:].endswith(("CE", "PE")):  # an exact ticker names its exchange
            return "NFO" if text.startswith("NSE:") else "BFO"
    try:
        underlying = underlying_named(symbol)
    except InvalidAlert:
        return None
    return "BFO" if underlying in _BSE_UNDERLYINGS else "NFO"
