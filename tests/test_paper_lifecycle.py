"""The paper broker's whole trade: fills, TP/SL legs, stop and target hits on moved prices, P&L, the price control."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from app.adapters.paper_broker import PaperBroker
from app.deadline import Deadline
from app.domain.errors import OrderRejected
from app.domain.orders import LIMIT, STOP_MARKET, OrderRequest, Position, Side
from tests.conftest import ADMIN, seed_alert, send_alert

CONTRACT = "NSE:NIFTY26D0126000CE"
LOT = 65
D = Decimal


def order(side=Side.BUY, qty=LOT, product="INTRADAY", tag="TVtag", **fields) -> OrderRequest:
    return OrderRequest(CONTRACT, qty, side, product, tag, **fields)


@pytest.fixture
def paper():
    broker = PaperBroker()
    broker.set_price(CONTRACT, D("100"))
    return broker


def book(broker):
    return {o.order_id: o for o in broker.order_book(Deadline(2))}


def open_protected(broker, side=Side.BUY, product="INTRADAY", sl="20", tp="40"):
    """An entry with TP/SL points, filled at 100; its id."""
    points = {"stop_loss_points": D(sl) if sl else None, "take_profit_points": D(tp) if tp else None}
    return broker.place_order(
        order(side, product=product, tag=None if product in ("CO", "BO") else "TVtag", **points), Deadline(2)
    ).order_id


def the_row(broker, symbol=CONTRACT) -> Position:
    [row] = [p for p in broker.positions(Deadline(2)) if p.symbol == symbol]
    return row


# -- fills ---------------------------------------------------------------------------------------


def test_a_market_order_fills_at_once_at_the_price_with_one_trade(paper):
    placed = paper.place_order(order(), Deadline(2))
    filled = paper.order_by_id(placed.order_id, Deadline(2))
    assert placed.order_id == "PAPER0000000001"
    assert (filled.status, filled.filled_qty, filled.traded_price) == ("traded", LOT, D("100"))
    [trade] = paper.fills(Deadline(2))
    assert (trade.order_id, trade.side, trade.qty, trade.price, trade.tag) == (
        placed.order_id,
        Side.BUY,
        LOT,
        D("100"),
        "TVtag",
    )


def test_quotes_use_the_moved_price_and_unmoved_symbols_keep_the_paper_ltp():
    broker = PaperBroker()
    other = "NSE:NIFTY26D0126100PE"
    before = broker.quotes([other], Deadline(2))[other]
    broker.set_price(CONTRACT, D("95.5"))
    assert broker.quotes([CONTRACT, other], Deadline(2)) == {CONTRACT: D("95.5"), other: before}


def test_an_unknown_order_id_is_none(paper):
    assert paper.order_by_id("PAPER0000000999", Deadline(2)) is None


# -- legs ----------------------------------------------------------------------------------------


def test_legs_appear_after_the_fill_on_the_other_side_points_away(paper):
    entry = open_protected(paper)
    rows = book(paper)
    stop, target = rows[f"{entry}-BO-2"], rows[f"{entry}-BO-3"]
    assert list(rows) == [entry, f"{entry}-BO-2", f"{entry}-BO-3"]
    for leg in (stop, target):
        assert (leg.status, leg.side, leg.qty, leg.product_type, leg.tag, leg.parent_id) == (
            "pending",
            Side.SELL,
            LOT,
            "INTRADAY",
            "TVtag",
            entry,
        )
    assert (stop.order_type, stop.stop_price) == (STOP_MARKET, D("80"))
    assert (target.order_type, target.limit_price) == (LIMIT, D("140"))
    assert paper.fills(Deadline(2))[-1].order_id == entry  # the legs have not traded


def test_a_short_entry_gets_a_buy_stop_above_and_a_buy_target_below(paper):
    entry = open_protected(paper, side=Side.SELL, product="MARGIN")
    rows = book(paper)
    assert (rows[f"{entry}-BO-2"].side, rows[f"{entry}-BO-2"].stop_price) == (Side.BUY, D("120"))
    assert (rows[f"{entry}-BO-3"].side, rows[f"{entry}-BO-3"].limit_price) == (Side.BUY, D("60"))


def test_a_stop_further_than_the_price_stays_one_tick_above_zero(paper):
    entry = open_protected(paper, sl="150", tp=None)
    assert book(paper)[f"{entry}-BO-2"].stop_price == D("0.05")
    assert f"{entry}-BO-3" not in book(paper)


def test_a_cover_order_gets_its_stop_leg_and_a_plain_cnc_order_none(paper):
    cover = open_protected(paper, product="CO", tp=None)
    assert book(paper)[f"{cover}-BO-2"].tag is None
    plain = open_protected(paper, product="CNC")
    assert [o.order_id for o in paper.order_book(Deadline(2)) if o.parent_id == plain] == []


def test_the_legs_are_not_orders_placed_and_never_found_as_the_entry(paper):
    entry = open_protected(paper)
    assert [o.order_id for o in paper.orders] == [entry]
    found = paper.find_order(order(), datetime(2026, 1, 1, tzinfo=timezone.utc), Deadline(2))
    assert found.order_id == entry


def test_a_move_through_the_stop_fills_it_at_the_moved_price_and_cancels_the_target(paper):
    entry = open_protected(paper)
    assert paper.set_price(CONTRACT, D("85")) == []  # above the stop: nothing
    [stop] = paper.set_price(CONTRACT, D("78.5"))
    assert (stop.order_id, stop.status, stop.traded_price, stop.filled_qty) == (
        f"{entry}-BO-2",
        "traded",
        D("78.5"),
        LOT,
    )
    target = paper.order_by_id(f"{entry}-BO-3", Deadline(2))
    assert target.status == "cancelled" and f"{entry}-BO-2" in target.message and "executed" in target.message
    assert [p for p in paper.positions(Deadline(2)) if p.net_qty] == []
    row = the_row(paper)
    assert (row.net_qty, row.realized, row.unrealized, row.pl) == (0, D("-1397.50"), D("0.00"), D("-1397.50"))
    assert paper.set_price(CONTRACT, D("150")) == []  # the cancelled target never fills


def test_a_move_through_the_target_fills_it_at_its_limit_and_cancels_the_stop(paper):
    entry = open_protected(paper)
    [target] = paper.set_price(CONTRACT, D("150"))
    assert (target.order_id, target.traded_price) == (f"{entry}-BO-3", D("140"))
    assert paper.order_by_id(f"{entry}-BO-2", Deadline(2)).status == "cancelled"
    assert the_row(paper).realized == D("2600.00")
    assert [f.order_id for f in paper.fills(Deadline(2))] == [entry, f"{entry}-BO-3"]


# -- P&L -----------------------------------------------------------------------------------------


def test_an_open_position_carries_unrealized_pl_at_the_moved_price(paper):
    paper.place_order(order(), Deadline(2))
    paper.set_price(CONTRACT, D("90"))
    [row] = [p for p in paper.positions(Deadline(2)) if p.net_qty]
    assert (row.net_qty, row.ltp, row.buy_avg, row.sell_avg) == (LOT, D("90"), D("100.00"), D("0.00"))
    assert (row.realized, row.unrealized, row.pl) == (D("0.00"), D("-650.00"), D("-650.00"))


def test_a_short_gains_as_the_price_falls(paper):
    paper.place_order(order(Side.SELL), Deadline(2))
    paper.set_price(CONTRACT, D("90"))
    assert the_row(paper).unrealized == D("650.00")


def test_a_partly_closed_position_splits_realized_and_unrealized_on_the_day_averages(paper):
    paper.place_order(order(), Deadline(2))
    paper.set_price(CONTRACT, D("101.05"))
    paper.place_order(order(), Deadline(2))  # bought 130 at an average of 100.525
    paper.set_price(CONTRACT, D("120"))
    paper.place_order(order(Side.SELL), Deadline(2))
    [row] = [p for p in paper.positions(Deadline(2)) if p.net_qty]
    assert (row.net_qty, row.buy_avg, row.sell_avg) == (LOT, D("100.53"), D("120.00"))
    assert (row.realized, row.unrealized, row.pl) == (D("1265.88"), D("1265.88"), D("2531.76"))


# -- stop and limit orders -----------------------------------------------------------------------


def test_a_stop_order_waits_then_fills_at_the_price_that_reached_it(paper):
    placed = paper.place_order(order(Side.SELL, order_type=STOP_MARKET, stop_price=D("90")), Deadline(2))
    assert paper.order_by_id(placed.order_id, Deadline(2)).status == "pending" and "pending" in placed.message
    assert paper.set_price(CONTRACT, D("90.05")) == []
    [filled] = paper.set_price(CONTRACT, D("88"))
    assert (filled.order_id, filled.traded_price) == (placed.order_id, D("88"))


def test_a_buy_stop_triggers_at_or_above_its_price(paper):
    placed = paper.place_order(order(order_type=STOP_MARKET, stop_price=D("110")), Deadline(2))
    assert [o.order_id for o in paper.set_price(CONTRACT, D("110"))] == [placed.order_id]


def test_a_limit_order_waits_for_its_price_and_fills_at_its_limit(paper):
    placed = paper.place_order(order(order_type=LIMIT, limit_price=D("95")), Deadline(2))
    assert paper.set_price(CONTRACT, D("96")) == []
    [filled] = paper.set_price(CONTRACT, D("93"))
    assert (filled.order_id, filled.traded_price) == (placed.order_id, D("95"))


def test_a_marketable_limit_order_fills_at_once_at_the_price_on_offer(paper):
    placed = paper.place_order(order(Side.SELL, order_type=LIMIT, limit_price=D("98")), Deadline(2))
    assert paper.order_by_id(placed.order_id, Deadline(2)).traded_price == D("100")


def test_a_stop_or_limit_order_without_its_price_is_refused(paper):
    with pytest.raises(OrderRejected, match="stop price"):
        paper.place_order(order(order_type=STOP_MARKET, limit_price=D("90")), Deadline(2))
    with pytest.raises(OrderRejected, match="limit price"):
        paper.place_order(order(order_type=LIMIT, stop_price=D("90")), Deadline(2))
    assert paper.order_book(Deadline(2)) == []


# -- cancel and exit -----------------------------------------------------------------------------


def test_cancel_ends_a_working_order_and_refuses_anything_else(paper):
    placed = paper.place_order(order(order_type=LIMIT, limit_price=D("95")), Deadline(2))
    paper.cancel_order(placed.order_id, Deadline(2))
    assert paper.order_by_id(placed.order_id, Deadline(2)).status == "cancelled"
    assert paper.set_price(CONTRACT, D("90")) == []
    with pytest.raises(OrderRejected, match="cancelled"):
        paper.cancel_order(placed.order_id, Deadline(2))
    traded = paper.place_order(order(), Deadline(2)).order_id
    with pytest.raises(OrderRejected, match="traded"):
        paper.cancel_order(traded, Deadline(2))
    with pytest.raises(OrderRejected, match="no order"):
        paper.cancel_order("PAPER0000000999", Deadline(2))


def test_exit_cancels_the_legs_then_closes_at_the_price_with_a_trade_and_realized_pl(paper):
    entry = open_protected(paper)
    paper.set_price(CONTRACT, D("110"))
    closed = paper.exit_position(Position(CONTRACT, LOT, "INTRADAY"), Deadline(2))
    assert closed.status == "closed"
    rows = book(paper)
    assert rows[f"{entry}-BO-2"].status == rows[f"{entry}-BO-3"].status == "cancelled"
    counter = paper.orders[-1]
    assert (counter.side, counter.qty, counter.tag, counter.status, counter.traded_price) == (
        Side.SELL,
        LOT,
        None,
        "traded",
        D("110"),
    )
    assert paper.fills(Deadline(2))[-1].order_id == counter.order_id
    assert [p for p in paper.positions(Deadline(2)) if p.net_qty] == [] and the_row(paper).realized == D("650.00")
    assert paper.set_price(CONTRACT, D("70")) == []  # no leg left to fire
    assert paper.exit_position(Position(CONTRACT, LOT, "INTRADAY"), Deadline(2)).status == "nothing_to_close"


def test_concurrent_orders_get_distinct_ids_and_one_trade_each(paper):
    threads = [threading.Thread(target=paper.place_order, args=(order(), Deadline(2))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({o.order_id for o in paper.orders}) == 20 and len(paper.fills(Deadline(2))) == 20
    assert the_row(paper).net_qty == 20 * LOT


# -- POST /admin/paper/price ---------------------------------------------------------------------


def move(client, body, token=ADMIN):
    return client.post("/admin/paper/price", json=body, headers={"Authorization": f"Bearer {token}"})


def test_the_price_control_needs_the_admin_token(paper_bridge):
    response = move(paper_bridge.client, {"symbol": CONTRACT, "price": 95.5}, token="wrong")
    assert response.status_code == 401
    assert paper_bridge.paper.quotes([CONTRACT], Deadline(2))[CONTRACT] != D("95.5")


def test_moving_the_price_through_a_cover_orders_stop_fires_it(paper_bridge):
    client, services, paper = paper_bridge.client, paper_bridge.services, paper_bridge.paper
    opened = send_alert(client, seed_alert(productType="CO", sl=None, tp=None, idempotency_key="co"))
    assert opened.status_code == 200, opened.json
    [entry] = paper.orders
    stop = paper.order_by_id(f"{entry.order_id}-BO-2", Deadline(2))
    assert stop.status == "pending" and services.broker.positions(Deadline(2))  # the shared book is now warm
    price = float(stop.stop_price - D("1"))
    response = move(client, {"symbol": entry.symbol, "price": price})
    assert response.status_code == 200, response.json
    assert response.json == {
        "status": "moved",
        "symbol": entry.symbol,
        "price": price,
        "filled": [
            {"order_id": stop.order_id, "side": "SELL", "qty": entry.qty, "price": price, "parent_id": entry.order_id}
        ],
    }
    assert [p for p in services.broker.positions(Deadline(2)) if p.net_qty] == []  # not the book cached before the move


def test_a_move_that_reaches_nothing_fills_nothing(paper_bridge):
    response = move(paper_bridge.client, {"symbol": CONTRACT, "price": 95.5})
    assert response.status_code == 200 and response.json["filled"] == []
    assert paper_bridge.paper.quotes([CONTRACT], Deadline(2))[CONTRACT] == D("95.5")


@pytest.mark.parametrize("symbol", ["NIFTY", "MCX:CRUDEOIL", "nse:nifty", "", 7, None])
def test_a_symbol_that_is_no_fyers_ticker_is_refused_by_name(paper_bridge, symbol):
    response = move(paper_bridge.client, {"symbol": symbol, "price": 95.5})
    assert response.status_code == 400 and response.json["field"] == "symbol", response.json
    assert response.json.get("value") == symbol


@pytest.mark.parametrize("price", [0, -5, 95.52, "95.5", True, None, [95.5]])
def test_a_price_that_is_not_positive_on_the_tick_is_refused_by_name(paper_bridge, price):
    response = move(paper_bridge.client, {"symbol": CONTRACT, "price": price})
    assert response.status_code == 400 and response.json["field"] == "price", response.json
    assert response.json.get("value") == price
    assert paper_bridge.paper.order_book(Deadline(2)) == []


def test_the_price_control_is_refused_when_the_broker_is_fyers(fyers_bridge):
    response = move(fyers_bridge.client, {"symbol": CONTRACT, "price": 95.5})
    assert response.status_code == 409 and response.json["status"] == "not_paper"
