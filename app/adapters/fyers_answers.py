"""Reading Fyers's answers: which codes settle an order, which leave it open, what the market says.

Pure functions over the SDK's dicts (already copied) and the wire record: nothing here calls
Fyers. FyersBroker turns what they read into domain results or domain errors.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from app.adapters.fyers_http import Exchange
from app.domain.orders import Margin, SliceResult

TOKEN_ERROR_CODES = frozenset({-8, -15, -16, -17})
RATE_LIMIT_CODES = frozenset({-429, -353})
ORDER_PLACED = 1101
ORDER_NOT_ACKNOWLEDGED = 201
SDK_TRANSPORT_ERROR = -99
# The one list of codes that report a connection, timeout or acknowledgement failure rather
# than a decision by Fyers: the order may be at Fyers, so it is looked up in the order book and
# never called rejected (`outcome_open` and `slice_result` read them). Where each comes from:
LOOK_UP_CODES: dict[int, str] = {
    # Fyers's reference (Place Order, `code`): "order request has been made but no
    # acknowledgement has been received ... check orderbook before placing order".
    ORDER_NOT_ACKNOWLEDGED: "sent to the exchange but not acknowledged",
}
SDK_NO_ANSWER_CODES: dict[int, str] = {
    # fyers_apiv3 3.2.0, fyersModel.FyersServiceSync.post_call/get_call: any exception from
    # `requests` before an answer (timeout, reset, refused) comes back as {"s":"error",
    # "code":-99,"message":"Bad request"}. Fyers answers -99 to a real rejection too, so this
    # reading holds only when the wire (DeadlineSession) saw no HTTP response; with one, -99
    # is Fyers's rejection.
    SDK_TRANSPORT_ERROR: "no answer from Fyers (the SDK's transport error)",
}
# The same SDK functions put the HTTP status itself in `code` (message "Bad request") when an
# answer came whose body was not JSON, e.g. a gateway's 502/504 page: `outcome_open` checks
# the body on the wire, so such a code is never read as Fyers's.
# Answers to the exit-position call (DELETE /positions), from the reference's Exit Position
# section and DESIGN §2: 200 closed, 201 counter order placed but not filled, -352 nothing open.
POSITION_CLOSED = 200
EXIT_NOT_FILLED = 201
NOTHING_TO_EXIT = -352
NSE, FNO = 10, 11  # Fyers's exchange and segment codes for NSE F&O
# marketStatus's `status` values (the reference lists CLOSE, OPEN, POSTCLOSE_START,
# POSTCLOSE_CLOSED, PREOPEN, PREOPEN_CLOSED; its own sample answer says CLOSED).
MARKET_OPEN_STATUSES = frozenset({"OPEN"})
MARKET_CLOSED_STATUSES = frozenset(
    {"CLOSE", "CLOSED", "POSTCLOSE_START", "POSTCLOSE_CLOSED", "PREOPEN", "PREOPEN_CLOSED"}
)
# The reference's sample marketStatus answer carries `code` 200 and no top-level `s`.
MARKET_STATUS_OK = frozenset({200})


def prices_of(body: dict[str, Any]) -> dict[str, Decimal]:
    """Last traded prices in a quotes answer (`d[].v.lp`); a symbol Fyers does not know is left out."""
    prices = {}
    for row in body.get("d") or []:
        values = row.get("v") or {}
        if row.get("s") == "ok" and values.get("lp") is not None:
            try:
                prices[row["n"]] = Decimal(str(values["lp"]))
            except (InvalidOperation, KeyError):
                continue
    return prices


def margin_of(body: dict[str, Any]) -> Margin | None:
    """A multiorder-margin answer's `data`: `margin_total` (what the orders need) against `margin_avail`.

    `margin_new_order` adds the open positions' margin (reference) and is not what these orders
    need. An answer without both figures as finite numbers says nothing: None.
    """
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    figures = [data.get("margin_total"), data.get("margin_avail")]
    if not all(isinstance(f, (int, float, str)) and not isinstance(f, bool) for f in figures):
        return None
    try:
        required, available = (Decimal(str(f)) for f in figures)
    except InvalidOperation:
        return None
    if not (required.is_finite() and available.is_finite()) or required < 0:
        return None
    return Margin(required=required, available=available)


def outcome_open(body: dict[str, Any] | None, exchange: Exchange) -> str | None:
    """Why an order answer leaves the order's fate open (to be looked up); None if it settles it."""
    if exchange.response is None:
        # Whatever the SDK put in its body (-99, SDK_NO_ANSWER_CODES), Fyers said nothing.
        return f"the connection to Fyers failed mid-order ({describe(exchange)})"
    if body is None or not _json_answer(exchange):
        # The SDK's stand-in body (its `code` is the HTTP status), not Fyers's words.
        return f"Fyers answered HTTP {exchange.status} without a readable body"
    if exchange.status >= 500:
        return f"Fyers answered HTTP {exchange.status} to the order"
    code = body.get("code")
    if code in LOOK_UP_CODES:
        return f"Fyers {LOOK_UP_CODES[code]} (code {code})"
    return None


def refused(body: dict[str, Any]) -> bool:
    """Fyers's own refusal: `s` error with a negative code."""
    code = body.get("code")
    return body.get("s") == "error" and isinstance(code, int) and code < 0


def slice_result(entry: Any) -> SliceResult:
    """One slice from a slice order's `data[]`: {"statusCode", "body": {s, code, id, message}}."""
    entry = entry if isinstance(entry, dict) else {}
    reply = entry.get("body") if isinstance(entry.get("body"), dict) else {}
    code, status_code = reply.get("code"), entry.get("statusCode")
    order_id = str(reply["id"]) if reply.get("id") else None
    message = str(reply.get("message", ""))[:300]
    if reply.get("s") == "ok" and order_id and code == ORDER_PLACED:
        return SliceResult(order_id, None, "placed", message)
    fyers_refused = isinstance(code, int) and code < 0 and code not in LOOK_UP_CODES
    if reply.get("s") == "error" and fyers_refused and not (isinstance(status_code, int) and status_code >= 500):
        return SliceResult(order_id, None, "rejected", message)
    # Not acknowledged (LOOK_UP_CODES), a 5xx inside the answer, or unclear: it may be at the
    # exchange, so it stands until the order book says otherwise; never called rejected.
    return SliceResult(order_id, None, "transit", message)


def nse_fno_open(rows: Any) -> bool | None:
    """The normal market of NSE F&O in a marketStatus list: open, closed, or None if not said."""
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or str(row.get("market_type") or "NORMAL").upper() != "NORMAL":
            continue  # auction and odd-lot sessions do not decide whether options trade
        if str(row.get("exchange")) == str(NSE) and str(row.get("segment")) == str(FNO):
            status = str(row.get("status", "")).strip().upper()
            if status in MARKET_OPEN_STATUSES:
                return True
            if status in MARKET_CLOSED_STATUSES:
                return False
            return None
    return None


def describe(exchange: Exchange) -> str:
    """What the wire saw, for a message: the transport error's name or the HTTP status."""
    if exchange.error is not None:
        return type(exchange.error).__name__
    return f"HTTP {exchange.status}" if exchange.status else "no answer"


def _json_answer(exchange: Exchange) -> bool:
    try:
        exchange.response.json()
    except ValueError:
        return False
    return True
