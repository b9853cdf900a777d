"""Reading Fyers's answers: which codes settle an order, which leave it open, and the book's rows.

Pure functions over the SDK's dicts (already copied) and the wire record: nothing here calls
Fyers. FyersBroker turns what they read into domain results or domain errors.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.adapters.fyers_http import Exchange
from app.domain.contracts import IST
from app.domain.orders import BrokerOrder, OrderRequest, Position, Side, SliceResult

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
ORDER_STATUS = {1: "cancelled", 2: "traded", 4: "transit", 5: "rejected", 6: "pending", 7: "expired"}
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
_CHILD_LEG_ID = re.compile(r"-BO-\d+$")


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


def positions_of(body: dict[str, Any]) -> list[Position]:
    """The net positions in a positions answer."""
    return [
        Position(row["symbol"], int(row.get("netQty", 0)), row.get("productType", ""))
        for row in body.get("netPositions") or []
    ]


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


def rows_of_order(body: dict[str, Any], order: OrderRequest, since: datetime) -> list[dict[str, Any]]:
    """The order's rows in an order-book answer: by tag, or for tagless CO/BO by contract, side, qty and time.

    CO/BO child legs (their stop-loss and target orders) are never taken for an order; a
    sliced order is found with every one of its slices.
    """
    earliest = since.astimezone(IST).replace(tzinfo=None) - timedelta(seconds=5)
    rows = []
    for row in body.get("orderBook") or []:
        if _child_leg(row):
            continue
        if order.tag:
            if str(row.get("orderTag", "")).split(":", 1)[-1] != order.tag:
                continue
        elif not _same_order(row, order, earliest):
            continue
        rows.append(row)
        if not (order.slice and order.tag):
            break  # a tagless slice cannot be told from another order: the first match
    return rows


def book_order(rows: list[dict[str, Any]], order: OrderRequest) -> BrokerOrder:
    """The order as the book shows it (its first row), with every slice when it was sliced."""
    row = rows[0]
    return BrokerOrder(
        order_id=str(row.get("id")),
        symbol=row.get("symbol", ""),
        qty=int(row.get("qty", 0)),
        side=Side(int(row.get("side", 1))),
        product_type=row.get("productType", ""),
        tag=order.tag,
        status=_book_status(row),
        message=str(row.get("message", ""))[:300],
        slices=tuple(_book_slice(r) for r in rows) if order.slice and order.tag else (),
    )


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


def _same_order(row: dict[str, Any], order: OrderRequest, earliest: datetime) -> bool:
    if (
        row.get("symbol") != order.symbol
        or int(row.get("qty", 0)) != order.qty
        or int(row.get("side", 0)) != int(order.side)
        or row.get("productType") != order.product_type
    ):
        return False
    try:
        placed = datetime.strptime(str(row.get("orderDateTime")), "%d-%b-%Y %H:%M:%S")
    except ValueError:
        return True  # no readable time: the contract, side, qty and product decide
    return placed >= earliest


def _json_answer(exchange: Exchange) -> bool:
    try:
        exchange.response.json()
    except ValueError:
        return False
    return True


def _child_leg(row: dict[str, Any]) -> bool:
    """A CO/BO stop-loss or target leg Fyers opened itself (`parentId`, id `...-BO-2`/`-BO-3`)."""
    return bool(row.get("parentId")) or bool(_CHILD_LEG_ID.search(str(row.get("id", ""))))


def _book_status(row: dict[str, Any]) -> str:
    return ORDER_STATUS.get(row.get("status"), "unknown")


def _book_slice(row: dict[str, Any]) -> SliceResult:
    return SliceResult(
        str(row.get("id")), int(row.get("qty", 0)), _book_status(row), str(row.get("message", ""))[:300]
    )
