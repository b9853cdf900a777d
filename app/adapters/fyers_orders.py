"""Fyers's order formats: the place-order body we send, and the order-book, tradebook and position rows we read.

Pure functions over the SDK's dicts (already copied): nothing here calls Fyers. Every figure
read becomes a Decimal through str(), and a row in an unexpected shape is skipped, never a crash.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, TypeVar

from app.domain.contracts import IST
from app.domain.orders import LIMIT, MARKET, STOP_MARKET, BrokerOrder, Fill, OrderRequest, Position, Side, SliceResult

STOP_LIMIT = 4  # Fyers order type 4 (SL-L): both a trigger and a limit price
ORDER_STATUS = {1: "cancelled", 2: "traded", 4: "transit", 5: "rejected", 6: "pending", 7: "expired"}
T = TypeVar("T")
_CHILD_LEG_ID = re.compile(r"-BO-\d+$")
# Position fields and the Fyers figures they carry (reference, Positions); absent ones stay None.
_POSITION_AMOUNTS = {
    "realized": "realized_profit",
    "unrealized": "unrealized_profit",
    "pl": "pl",
    "ltp": "ltp",
    "buy_avg": "buyAvg",
    "sell_avg": "sellAvg",
}
# The fields of one multiorder-margin row (reference, Multiorder Margin Calculator).
_MARGIN_FIELDS = ("symbol", "qty", "side", "type", "productType", "limitPrice", "stopLoss", "stopPrice", "takeProfit")
# What reading a row Fyers sent in an unexpected shape can raise: that row is skipped, never a crash.
_MALFORMED = (KeyError, TypeError, ValueError, InvalidOperation)


def order_payload(order: OrderRequest) -> dict[str, Any]:
    """The order as Fyers's place-order body; prices go as floats of the tick-rounded Decimals."""
    payload: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": order.qty,
        "type": order.order_type,
        "side": int(order.side),
        "productType": order.product_type,
        # The reference's order types: limit and SL-L carry limitPrice, SL-M and SL-L stopPrice;
        # 0 where the type takes none (its market-order sample).
        "limitPrice": _wire_price(order.limit_price) if order.order_type in (LIMIT, STOP_LIMIT) else 0,
        "stopPrice": _wire_price(order.stop_price) if order.order_type in (STOP_MARKET, STOP_LIMIT) else 0,
        "validity": "DAY",
        "disclosedQty": 0,
        "offlineOrder": order.amo,
        "stopLoss": _wire_price(order.stop_loss_points),
        "takeProfit": _wire_price(order.take_profit_points),
    }
    if order.tag:
        payload["orderTag"] = order.tag
    if order.slice:
        payload["isSliceOrder"] = True
    if order.product_type not in ("CO", "BO") and (order.stop_loss_points or order.take_profit_points):
        payload["legType"] = 1  # SL/TP attached to an INTRADAY/MARGIN order, in points
    return payload


def margin_payload(orders: list[OrderRequest]) -> dict[str, Any]:
    """The orders as the multiorder-margin body, in their sequence (a buy before a sell gets the hedge benefit)."""
    rows = []
    for order in orders:
        placed = order_payload(order)
        row = {name: placed[name] for name in _MARGIN_FIELDS}
        # The reference: stopLoss and takeProfit are "for CO and BO orders" (default 0.0); an
        # INTRADAY order's TP/SL legs do not change what it needs.
        if order.product_type not in ("CO", "BO"):
            row["stopLoss"] = row["takeProfit"] = 0
        rows.append(row)
    return {"data": rows}


def _wire_price(price: Decimal | None) -> float:
    """A Decimal price as the float Fyers's JSON wants (0 for none); rounding to the tick is the pricer's."""
    return float(price) if price else 0


def positions_of(body: dict[str, Any]) -> list[Position]:
    """Every row of a positions answer (flat ones too: netQty 0), with Fyers's own P&L figures."""
    return _each(_rows(body, "netPositions"), _position_of_row)


def orders_of(body: dict[str, Any]) -> list[BrokerOrder]:
    """Every row of an order-book answer (each slice, each protection leg), oldest first."""
    # slNo "is used to sort the orders based on the time" (reference, Orders): it breaks ties
    # within one second, e.g. an order and the legs Fyers opened on its fill.
    rows = sorted(_rows(body, "orderBook"), key=lambda row: (_placed_at(row), _int_or_zero(row, "slNo")))
    return _each(rows, lambda row: _read_row(row, _user_tag(row.get("orderTag"))))


def fills_of(body: dict[str, Any]) -> list[Fill]:
    """The trades in a tradebook answer (`tradeBook`), oldest first."""
    # `row` is "the unique value to sort the trades" (reference, Trades): ties within a second.
    rows = sorted(_rows(body, "tradeBook"), key=lambda row: (_placed_at(row), _int_or_zero(row, "row")))
    return _each(rows, _fill_of_row)


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
    return _read_row(row, order.tag, tuple(_book_slice(r) for r in rows) if order.slice and order.tag else ())


def _same_order(row: dict[str, Any], order: OrderRequest, earliest: datetime) -> bool:
    if (
        row.get("symbol") != order.symbol
        or int(row.get("qty", 0)) != order.qty
        or int(row.get("side", 0)) != int(order.side)
        or row.get("productType") != order.product_type
    ):
        return False
    placed = _placed_at(row)
    # No readable time: the contract, side, qty and product decide.
    return placed == datetime.min or placed >= earliest


def _child_leg(row: dict[str, Any]) -> bool:
    """A CO/BO stop-loss or target leg Fyers opened itself (`parentId`, id `...-BO-2`/`-BO-3`)."""
    return bool(row.get("parentId")) or bool(_CHILD_LEG_ID.search(str(row.get("id", ""))))


def _each(rows: list[dict[str, Any]], read: Callable[[dict[str, Any]], T]) -> list[T]:
    """`read` of every row; a row in an unexpected shape is skipped, never a crash."""
    records = []
    for row in rows:
        try:
            records.append(read(row))
        except _MALFORMED:
            continue
    return records


def _position_of_row(row: dict[str, Any]) -> Position:
    amounts = {name: _amount(row.get(field)) for name, field in _POSITION_AMOUNTS.items()}
    return Position(_text(row["symbol"]), int(row.get("netQty", 0)), str(row.get("productType", "")), **amounts)


def _fill_of_row(row: dict[str, Any]) -> Fill:
    price = _price(row["tradePrice"])
    if price is None:
        raise ValueError("a trade without a price")
    return Fill(
        order_id=_text(row["orderNumber"]),
        symbol=_text(row["symbol"]),
        side=Side(int(row["side"])),
        qty=int(row["tradedQty"]),
        price=price,
        product_type=str(row.get("productType", "")),
        tag=_user_tag(row.get("orderTag")),
        trade_id=str(row.get("tradeNumber") or ""),
    )


def _read_row(row: dict[str, Any], tag: str | None, slices: tuple[SliceResult, ...] = ()) -> BrokerOrder:
    """One order-book row; 0 in a price or leg field means "none" there (Fyers's placeholder)."""
    return BrokerOrder(
        order_id=_text(row.get("id")),
        symbol=str(row.get("symbol", "")),
        qty=int(row.get("qty", 0)),
        side=Side(int(row["side"])),
        product_type=str(row.get("productType", "")),
        tag=tag,
        status=_book_status(row),
        message=str(row.get("message", ""))[:300],
        slices=slices,
        filled_qty=int(row.get("filledQty") or 0),
        traded_price=_price(row.get("tradedPrice")),
        parent_id=str(row["parentId"]) if row.get("parentId") else None,
        order_type=int(row.get("type") or MARKET),
        limit_price=_price(row.get("limitPrice")),
        stop_price=_price(row.get("stopPrice")),
        stop_loss_points=_price(row.get("stopLoss")),
        take_profit_points=_price(row.get("takeProfit")),
    )


def _rows(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    rows = body.get(name)
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _amount(value: Any) -> Decimal | None:
    """A rupee figure from Fyers's float (through str, so 106.35 stays 106.35); None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidOperation(f"not a number: {value!r}")
    number = Decimal(str(value))
    if not number.is_finite():
        raise InvalidOperation(f"not a finite number: {value!r}")
    return number


def _price(value: Any) -> Decimal | None:
    amount = _amount(value)
    return amount if amount else None


def _text(value: Any) -> str:
    """An id that must be there: a row without one cannot be told from another."""
    if value is None or str(value) == "":
        raise ValueError("missing id")
    return str(value)


def _user_tag(value: Any) -> str | None:
    """Our own tag from `orderTag`: "1:<tag>" is the user's; "2:..." is Fyers's, and "Untagged" none."""
    prefix, _, tag = str(value or "").partition(":")
    return tag if prefix == "1" and tag and tag.lower() != "untagged" else None


def _placed_at(row: dict[str, Any]) -> datetime:
    """The row's IST time (the reference's samples: "07-Aug-2020 13:51:12"); unreadable ones sort first."""
    try:
        return datetime.strptime(str(row.get("orderDateTime")), "%d-%b-%Y %H:%M:%S")
    except ValueError:
        return datetime.min


def _int_or_zero(row: dict[str, Any], name: str) -> int:
    try:
        return int(row.get(name) or 0)
    except (TypeError, ValueError):
        return 0


def _book_status(row: dict[str, Any]) -> str:
    return ORDER_STATUS.get(row.get("status"), "unknown")


def _book_slice(row: dict[str, Any]) -> SliceResult:
    return SliceResult(str(row.get("id")), int(row.get("qty", 0)), _book_status(row), str(row.get("message", ""))[:300])
