"""FyersBroker after the order: the book with fills and TP/SL legs, the tradebook, P&L, cancels, stop orders.

The real SDK over real HTTP against the fake Fyers, which answers in Fyers's documented formats
(reference: Orders, Trades, Positions, Cancel Order): legs are child rows with `parentId` and ids
`<parent>-BO-2` (stop) / `-BO-3` (target), prices are floats, 0 means "none".
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.adapters.fyers_orders import fills_of, orders_of, positions_of
from app.deadline import Deadline
from app.domain.errors import OrderOutcomeUnknown, OrderRejected
from app.domain.orders import LIMIT, STOP_MARKET, OrderRequest, Side, order_tag
from tests.test_broker_contract import IssuedSession

CONTRACT = "NSE:NIFTY26NOV26000CE"
LOT = 65
STOP, TARGET = Decimal("20"), Decimal("30")


@pytest.fixture
def broker(fake_fyers):
    from app.adapters.fyers_broker import FyersBroker
    from app.adapters.fyers_sdk import point_sdk_at

    point_sdk_at(fake_fyers.api_base, fake_fyers.data_base)
    fyers = FyersBroker(fake_fyers.app_id, IssuedSession(fake_fyers.issue_token()))
    yield fyers
    fyers.close()


def entry(seed: str, **fields) -> OrderRequest:
    """A one-lot INTRADAY BUY at market, tagged, with whatever `fields` add (legs, type, prices)."""
    return OrderRequest(CONTRACT, LOT, Side.BUY, "INTRADAY", order_tag(seed), **fields)


def protected_buy(broker, fake_fyers):
    """An INTRADAY BUY with a stop-loss and a target leg, filled at the fake's LTP: (order id, fill price)."""
    ltp = Decimal(str(fake_fyers.ltp(CONTRACT)))
    placed = broker.place_order(entry("legs", stop_loss_points=STOP, take_profit_points=TARGET), Deadline(2))
    return placed.order_id, ltp


def stop_sell(broker, fake_fyers, seed: str = "stop") -> tuple[str, Decimal]:
    """A pending SL-M SELL one rupee below the LTP, after a BUY it protects: (its id, its trigger)."""
    broker.place_order(entry(f"{seed}-entry"), Deadline(2))
    trigger = Decimal(str(fake_fyers.ltp(CONTRACT))) - 1
    order = OrderRequest(
        CONTRACT, LOT, Side.SELL, "INTRADAY", order_tag(seed), order_type=STOP_MARKET, stop_price=trigger
    )
    return broker.place_order(order, Deadline(2)).order_id, trigger


# -- the order book: fills and TP/SL legs ------------------------------------------------------


def test_a_protected_buy_shows_its_fill_and_legs_as_child_rows(broker, fake_fyers):
    order_id, price = protected_buy(broker, fake_fyers)
    [sent] = [c["body"] for c in fake_fyers.calls if c["path"] == "orders/sync" and c["method"] == "POST"]
    assert (sent["stopLoss"], sent["takeProfit"], sent["legType"]) == (20.0, 30.0, 1)
    book = broker.order_book(Deadline(2))
    [entry_row] = [o for o in book if o.order_id == order_id]
    assert (entry_row.status, entry_row.filled_qty, entry_row.traded_price) == ("traded", LOT, price)
    assert (entry_row.stop_loss_points, entry_row.take_profit_points) == (STOP, TARGET)
    assert entry_row.tag == order_tag("legs") and entry_row.parent_id is None
    legs = {o.order_id: o for o in book if o.parent_id == order_id}
    stop, target = legs[f"{order_id}-BO-2"], legs[f"{order_id}-BO-3"]
    assert set(legs) == {stop.order_id, target.order_id}
    assert (stop.side, stop.qty, stop.order_type, stop.stop_price) == (Side.SELL, LOT, STOP_MARKET, price - STOP)
    assert (target.side, target.qty, target.order_type, target.limit_price) == (Side.SELL, LOT, LIMIT, price + TARGET)
    assert stop.working and target.working and stop.filled_qty == 0 and stop.traded_price is None


def test_the_book_is_oldest_first_with_the_entry_before_its_legs(broker, fake_fyers):
    order_id, _ = protected_buy(broker, fake_fyers)
    ids = [o.order_id for o in broker.order_book(Deadline(2))]
    assert ids.index(order_id) < ids.index(f"{order_id}-BO-2")


def test_find_order_still_finds_the_entry_not_its_legs(broker, fake_fyers):
    from datetime import datetime, timedelta, timezone

    order_id, price = protected_buy(broker, fake_fyers)
    order = entry("legs", stop_loss_points=STOP, take_profit_points=TARGET)
    found = broker.find_order(order, datetime.now(timezone.utc) - timedelta(minutes=1), Deadline(2))
    assert found is not None and found.order_id == order_id
    assert (found.filled_qty, found.traded_price, found.stop_loss_points) == (LOT, price, STOP)


def test_order_by_id_reads_one_order_and_none_for_an_unknown_id(broker, fake_fyers):
    order_id, price = protected_buy(broker, fake_fyers)
    known = broker.order_by_id(order_id, Deadline(2))
    assert known is not None and (known.order_id, known.status, known.traded_price) == (order_id, "traded", price)
    leg = broker.order_by_id(f"{order_id}-BO-2", Deadline(2))
    assert leg is not None and leg.parent_id == order_id and leg.status == "pending"
    assert broker.order_by_id("26113099999999", Deadline(2)) is None


# -- the tradebook and the positions' P&L -------------------------------------------------------


def test_fills_carry_the_order_id_price_and_our_tag(broker, fake_fyers):
    order_id, price = protected_buy(broker, fake_fyers)
    [fill] = broker.fills(Deadline(2))
    assert (fill.order_id, fill.symbol, fill.side, fill.qty, fill.price) == (order_id, CONTRACT, Side.BUY, LOT, price)
    assert (fill.product_type, fill.tag) == ("INTRADAY", order_tag("legs")) and fill.trade_id


def test_a_price_through_the_stop_fills_the_stop_leg_and_the_position_shows_the_loss(broker, fake_fyers):
    order_id, price = protected_buy(broker, fake_fyers)
    fake_fyers.set_ltp(CONTRACT, float(price - STOP - 5))
    stop = broker.order_by_id(f"{order_id}-BO-2", Deadline(2))
    assert stop is not None and stop.status == "traded" and stop.filled_qty == LOT
    target = broker.order_by_id(f"{order_id}-BO-3", Deadline(2))
    assert target is not None and not target.working  # the other leg goes when one fills
    fills = broker.fills(Deadline(2))
    assert [(f.order_id, f.side) for f in fills] == [(order_id, Side.BUY), (stop.order_id, Side.SELL)]
    [position] = [p for p in broker.positions(Deadline(2)) if p.symbol == CONTRACT]
    loss = (fills[1].price - fills[0].price) * LOT
    assert loss < 0 and position.net_qty == 0
    assert (position.realized, position.unrealized, position.pl) == (loss, 0, loss)
    assert (position.buy_avg, position.sell_avg, position.ltp) == (price, fills[1].price, price - STOP - 5)


def test_an_open_position_shows_its_unrealized_profit(broker, fake_fyers):
    broker.place_order(entry("open"), Deadline(2))
    price = Decimal(str(fake_fyers.ltp(CONTRACT)))
    fake_fyers.set_ltp(CONTRACT, float(price + 2))
    [position] = [p for p in broker.positions(Deadline(2)) if p.symbol == CONTRACT]
    assert (position.net_qty, position.unrealized, position.realized, position.pl) == (LOT, 2 * LOT, 0, 2 * LOT)
    assert isinstance(position.unrealized, Decimal) and position.ltp == price + 2


# -- stop orders and cancels --------------------------------------------------------------------


def test_a_stop_market_order_carries_its_trigger_and_waits(broker, fake_fyers):
    order_id, trigger = stop_sell(broker, fake_fyers)
    sent = [c["body"] for c in fake_fyers.calls if c["path"] == "orders/sync" and c["method"] == "POST"][-1]
    assert (sent["type"], sent["stopPrice"], sent["limitPrice"]) == (STOP_MARKET, float(trigger), 0)
    assert "legType" not in sent
    stop = broker.order_by_id(order_id, Deadline(2))
    assert stop is not None and (stop.status, stop.order_type, stop.stop_price) == ("pending", STOP_MARKET, trigger)


def test_a_limit_order_carries_its_price(broker, fake_fyers):
    below = Decimal(str(fake_fyers.ltp(CONTRACT))) - 3
    placed = broker.place_order(entry("limit", order_type=LIMIT, limit_price=below), Deadline(2))
    sent = [c["body"] for c in fake_fyers.calls if c["path"] == "orders/sync" and c["method"] == "POST"][-1]
    assert (sent["type"], sent["limitPrice"], sent["stopPrice"]) == (LIMIT, float(below), 0)
    order = broker.order_by_id(placed.order_id, Deadline(2))
    assert order is not None and (order.status, order.limit_price) == ("pending", below)


def test_a_pending_stop_order_is_cancelled_once(broker, fake_fyers):
    order_id, _ = stop_sell(broker, fake_fyers)
    assert broker.cancel_order(order_id, Deadline(2)) is None
    cancelled = broker.order_by_id(order_id, Deadline(2))
    assert cancelled is not None and cancelled.status == "cancelled" and not cancelled.working
    with pytest.raises(OrderRejected, match="Fyers refused to cancel"):
        broker.cancel_order(order_id, Deadline(2))


def test_a_traded_order_cannot_be_cancelled(broker, fake_fyers):
    placed = broker.place_order(entry("traded"), Deadline(2))
    with pytest.raises(OrderRejected, match=f"Fyers refused to cancel {placed.order_id}") as refusal:
        broker.cancel_order(placed.order_id, Deadline(2))
    assert refusal.value.details["broker_code"] < 0
    order = broker.order_by_id(placed.order_id, Deadline(2))
    assert order is not None and order.status == "traded"


def test_a_cancel_without_an_answer_is_unknown_and_never_resent(broker, fake_fyers):
    order_id, _ = stop_sell(broker, fake_fyers)
    fake_fyers.add_fault("orders/sync", "status", status=503)
    with pytest.raises(OrderOutcomeUnknown, match=f"cancel of {order_id}"):
        broker.cancel_order(order_id, Deadline(2))
    assert sum(1 for c in fake_fyers.calls if c["path"] == "orders/sync" and c["method"] == "DELETE") == 1


# -- malformed rows are skipped, never a crash ---------------------------------------------------


def test_malformed_rows_are_skipped():
    good_order = {"id": "1", "symbol": CONTRACT, "qty": 65, "side": 1, "status": 2, "tradedPrice": 106.35}
    orders = orders_of({"orderBook": [good_order, {"id": "2", "side": "x"}, "junk", {"symbol": CONTRACT, "side": 1}]})
    assert [(o.order_id, o.traded_price) for o in orders] == [("1", Decimal("106.35"))]
    trade = {"orderNumber": "1", "symbol": CONTRACT, "side": -1, "tradedQty": 65, "tradePrice": 0.1, "orderTag": "2:x"}
    fills = fills_of({"tradeBook": [trade, {**trade, "tradePrice": "nan"}, {**trade, "tradedQty": None}]})
    assert [(f.price, f.side, f.tag) for f in fills] == [(Decimal("0.1"), Side.SELL, None)]
    positions = positions_of({"netPositions": [{"symbol": CONTRACT, "netQty": 0, "pl": 1.1}, {"netQty": 65}]})
    assert [(p.net_qty, p.pl, p.realized) for p in positions] == [(0, Decimal("1.1"), None)]
