"""The fake Fyers after the order: TP/SL legs, price moves, stop orders, cancel and modify, late
rejections, tradebook, position legs, postbacks and GTT, driven by the real fyers-apiv3 SDK."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from fyers_apiv3 import fyersModel

from tests.fakes.fake_fyers import FakeFyers
from tests.fakes.http_receiver import HttpReceiver

APP_ID = "TESTAPP-100"
NIFTY_CE = "NSE:NIFTY2612024000CE"
POSITION_ID = f"{NIFTY_CE}-INTRADAY"


def order(**overrides):
    """A one-lot NIFTY INTRADAY market buy in the SDK's shape; None drops a field."""
    body = {
        "symbol": NIFTY_CE,
        "qty": 65,
        "type": 2,
        "side": 1,
        "productType": "INTRADAY",
        "limitPrice": 0,
        "stopPrice": 0,
        "validity": "DAY",
        "disclosedQty": 0,
        "offlineOrder": False,
        "orderTag": "alert1",
        "isSliceOrder": False,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def fake():
    server = FakeFyers(app_id=APP_ID)
    server.start()
    server.set_ltp(NIFTY_CE, 100.0)
    yield server
    server.stop()


@pytest.fixture
def model(fake, monkeypatch, tmp_path):
    """A sync FyersModel pointed at the fake; its session and log files closed afterwards."""
    monkeypatch.setattr(fyersModel.Config, "API", fake.api_base)
    monkeypatch.setattr(fyersModel.Config, "DATA_API", fake.data_base)
    client = fyersModel.FyersModel(client_id=APP_ID, token=fake.issue_token(), is_async=False, log_path=str(tmp_path))
    yield client
    client.service.session.close()
    client.api_logger.logger_handler.close()
    client.request_logger.logger_handler.close()


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


def rows(model, order_id):
    """The order-book rows of ``order_id`` and of its child legs, by id."""
    book = model.orderbook()["orderBook"]
    return {r["id"]: r for r in book if r["id"] == order_id or r.get("parentId") == order_id}


def placed(model, **overrides) -> str:
    answer = model.place_order(order(**overrides))
    assert answer["code"] == 1101, answer
    return answer["id"]


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ---------------------------------------------------------------- TP/SL legs


def test_intraday_legs_are_recorded_and_open_as_child_rows_on_fill(model):
    parent = placed(model, stopLoss=10, takeProfit=20, legType=1)
    book = rows(model, parent)
    assert (book[parent]["stopLoss"], book[parent]["takeProfit"], book[parent]["legType"]) == (10.0, 20.0, 1)
    stop, target = book[f"{parent}-BO-2"], book[f"{parent}-BO-3"]
    assert (stop["status"], stop["type"], stop["side"], stop["stopPrice"]) == (6, 3, -1, 90.0)
    assert (target["status"], target["type"], target["side"], target["limitPrice"]) == (6, 1, -1, 120.0)
    for leg in (stop, target):
        assert (leg["parentId"], leg["qty"], leg["productType"], leg["orderTag"]) == (
            parent,
            65,
            "INTRADAY",
            "1:alert1",
        )


def test_percent_legs_are_priced_off_the_fill(model):
    parent = placed(model, stopLoss=5, takeProfit=12.5, legType=2, side=-1, productType="MARGIN")
    book = rows(model, parent)
    assert book[f"{parent}-BO-2"]["stopPrice"] == 105.0  # a short's stop is above
    assert book[f"{parent}-BO-3"]["limitPrice"] == 87.5
    assert book[f"{parent}-BO-2"]["side"] == 1


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"stopLoss": 10, "legType": 3}, "legType"),
        ({"stopLoss": 10.03, "legType": 1}, "StopLoss not a multiple of tick size 0.0500"),
        ({"symbol": "NSE:SBIN-EQ", "qty": 1, "productType": "CNC", "stopLoss": 2}, "CNC"),
    ],
)
def test_bad_legs_are_refused(model, fake, overrides, words):
    answer = model.place_order(order(**overrides))
    assert answer["code"] == -50 and words in answer["message"], answer
    assert fake.orders == []


def test_each_slice_gets_its_own_legs(model, fake):
    fake.freeze_qty["NIFTY"] = 65
    answer = model.place_order(order(qty=130, isSliceOrder=True, stopLoss=10, takeProfit=20))
    ids = [item["body"]["id"] for item in answer["data"]]
    assert len(ids) == 2
    legs = fake.child_legs
    assert sorted(leg["id"] for leg in legs) == sorted(f"{i}-BO-{n}" for i in ids for n in (2, 3))


# ---------------------------------------------------------------- price moves


def test_price_through_the_stop_fills_the_stop_cancels_the_target_and_books_the_loss(model, fake):
    parent = placed(model, stopLoss=10, takeProfit=20)
    fake.set_ltp(NIFTY_CE, 95.0)
    assert rows(model, parent)[f"{parent}-BO-2"]["status"] == 6  # not through yet
    fake.set_ltp(NIFTY_CE, 89.5)
    book = rows(model, parent)
    stop, target = book[f"{parent}-BO-2"], book[f"{parent}-BO-3"]
    assert (stop["status"], stop["tradedPrice"], stop["filledQty"]) == (2, 89.5, 65)
    assert (target["status"], target["message"]) == (1, "Cancelled: the other leg was executed")
    [position] = model.positions()["netPositions"]
    assert position["netQty"] == 0
    assert (position["buyAvg"], position["sellAvg"]) == (100.0, 89.5)
    assert position["realized_profit"] == position["pl"] == -682.5  # 65 x (89.5 - 100)
    assert position["unrealized_profit"] == 0


def test_price_through_the_target_fills_it_at_its_limit(model, fake):
    parent = placed(model, stopLoss=10, takeProfit=20)
    fake.move_price(NIFTY_CE, 121.0)
    book = rows(model, parent)
    assert (book[f"{parent}-BO-3"]["status"], book[f"{parent}-BO-3"]["tradedPrice"]) == (2, 120.0)
    assert book[f"{parent}-BO-2"]["status"] == 1
    [position] = model.positions()["netPositions"]
    assert position["realized_profit"] == 1300.0


def test_stop_orders_wait_for_their_trigger(model, fake):
    slm = placed(model, type=3, stopPrice=105)
    sll = placed(model, type=4, stopPrice=105, limitPrice=105.5)
    assert {rows(model, i)[i]["status"] for i in (slm, sll)} == {6}
    fake.set_ltp(NIFTY_CE, 104.0)
    assert {rows(model, i)[i]["status"] for i in (slm, sll)} == {6}
    fake.set_ltp(NIFTY_CE, 106.0)  # both trigger; the SL-L's limit is not marketable yet
    assert (rows(model, slm)[slm]["status"], rows(model, slm)[slm]["tradedPrice"]) == (2, 106.0)
    assert rows(model, sll)[sll]["status"] == 6
    fake.set_ltp(NIFTY_CE, 105.2)
    assert (rows(model, sll)[sll]["status"], rows(model, sll)[sll]["tradedPrice"]) == (2, 105.5)


def test_a_pending_limit_fills_at_its_price_when_marketable(model, fake):
    sell = placed(model, type=1, side=-1, limitPrice=110)
    fake.set_ltp(NIFTY_CE, 111.0)
    assert (rows(model, sell)[sell]["status"], rows(model, sell)[sell]["tradedPrice"]) == (2, 110.0)


# ---------------------------------------------------------------- cancel and modify


def test_cancel_and_modify_a_pending_order(model):
    pending = placed(model, type=1, limitPrice=90)
    assert model.modify_order({"id": pending, "type": 1, "limitPrice": 95})["code"] == 1102
    assert rows(model, pending)[pending]["limitPrice"] == 95.0
    assert model.cancel_order({"id": pending}) == {
        "s": "ok",
        "code": 1103,
        "message": "Successfully cancelled order",
        "id": pending,
    }
    assert rows(model, pending)[pending]["status"] == 1
    assert model.cancel_order({"id": pending})["code"] == -52
    assert model.modify_order({"id": pending, "type": 1, "limitPrice": 96})["code"] == -52
    assert model.cancel_order({"id": "999"})["code"] == -51
    assert model.modify_order({"id": "999", "type": 1, "limitPrice": 96})["code"] == -51


def test_modify_to_a_marketable_price_fills(model):
    pending = placed(model, type=1, limitPrice=90)
    assert model.modify_order({"id": pending, "type": 1, "limitPrice": 100})["code"] == 1102
    assert rows(model, pending)[pending]["status"] == 2


def test_modify_moves_and_removes_the_legs_of_a_filled_parent(model, fake):
    parent = placed(model, stopLoss=10, takeProfit=20)
    assert model.modify_order({"id": parent, "stopLoss": 5, "takeProfit": None})["code"] == 1102
    book = rows(model, parent)
    assert book[f"{parent}-BO-2"]["stopPrice"] == 95.0
    assert book[f"{parent}-BO-3"]["status"] == 1
    assert (book[parent]["stopLoss"], book[parent]["takeProfit"]) == (5.0, 0.0)
    assert model.modify_order({"id": parent, "stopLoss": 5, "legType": 2})["code"] == -50
    fake.set_ltp(NIFTY_CE, 94.0)
    assert model.modify_order({"id": parent, "takeProfit": 20})["code"] == -52  # the stop already traded


def test_modify_adds_legs_to_a_pending_parent(model, fake):
    parent = placed(model, type=1, limitPrice=90)
    assert model.modify_order({"id": parent, "stopLoss": 4, "takeProfit": 8, "legType": 1})["code"] == 1102
    fake.set_ltp(NIFTY_CE, 90.0)
    book = rows(model, parent)
    assert book[parent]["tradedPrice"] == 90.0
    assert (book[f"{parent}-BO-2"]["stopPrice"], book[f"{parent}-BO-3"]["limitPrice"]) == (86.0, 98.0)


# ---------------------------------------------------------------- rejection after acceptance


def test_reject_after_accept_shows_transit_then_the_rejection(model, fake):
    fake.reject_after_accept("RED:Margin Shortfall", times=1)
    order_id = placed(model)
    assert rows(model, order_id)[order_id]["status"] == 4
    row = rows(model, order_id)[order_id]
    assert (row["status"], row["message"], row["filledQty"]) == (5, "RED:Margin Shortfall", 0)
    assert model.positions()["netPositions"] == []
    assert placed(model) and fake.orders[-1]["status"] == 2  # only the next order


# ---------------------------------------------------------------- tradebook and position legs


def test_tradebook_rows_and_the_tag_filter(model, fake):
    first = placed(model, orderTag="tagA")
    placed(model, orderTag="tagB", side=-1)
    trades = model.tradebook()["tradeBook"]
    assert [t["orderNumber"] for t in trades][0] == first
    row = trades[0]
    assert (row["tradedQty"], row["tradePrice"], row["tradeValue"], row["orderTag"]) == (65, 100.0, 6500.0, "1:tagA")
    assert {
        "clientId",
        "orderDateTime",
        "exchangeOrderNo",
        "exchange",
        "side",
        "segment",
        "orderType",
        "fyToken",
        "productType",
        "tradeNumber",
        "row",
        "symbol",
    } <= set(row)
    session = requests.Session()
    session.headers["Authorization"] = f"{APP_ID}:{fake.issue_token()}"
    with session:
        filtered = session.get(f"{fake.api_base}/tradebook", params={"order_tag": "1:tagB"}, timeout=5).json()
    assert [t["side"] for t in filtered["tradeBook"]] == [-1]


def test_legs_attached_to_an_open_position_protect_it(model, fake):
    placed(model)
    answer = model.attach_position_legs({"positionId": POSITION_ID, "stopLoss": 10, "takeProfit": 20, "legType": 1})
    assert answer["code"] == 200, answer
    legs = {leg["type"]: leg for leg in fake.child_legs}
    assert (legs[3]["parentId"], legs[3]["stopPrice"], legs[3]["side"], legs[3]["status"]) == (POSITION_ID, 90.0, -1, 6)
    assert legs[1]["limitPrice"] == 120.0
    assert legs[1]["id"].isdigit() and legs[1]["orderTag"] == "2:Untagged"
    assert model.attach_position_legs({"positionId": POSITION_ID, "stopLoss": 5})["code"] == 200  # moves the stop
    assert [leg["stopPrice"] for leg in fake.child_legs if leg["type"] == 3] == [95.0]
    fake.set_ltp(NIFTY_CE, 80.0)
    legs = {leg["type"]: leg for leg in fake.child_legs}
    assert (legs[3]["status"], legs[3]["tradedPrice"], legs[1]["status"]) == (2, 80.0, 1)
    assert model.positions()["netPositions"][0]["realized_profit"] == -1300.0
    assert model.attach_position_legs({"positionId": POSITION_ID, "stopLoss": 10})["code"] == -352


# ---------------------------------------------------------------- postbacks


def test_every_status_change_is_posted_with_the_order_body(model, fake, receiver):
    fake.postback_urls = [receiver.url + "/fyers/postback"]
    parent = placed(model, stopLoss=10, takeProfit=20)
    fake.set_ltp(NIFTY_CE, 89.0)
    got = receiver.wait_for_requests(5)
    assert fake.drain_postbacks()
    assert [(r["json"]["id"], r["json"]["status"]) for r in got] == [
        (parent, 2),
        (f"{parent}-BO-2", 6),
        (f"{parent}-BO-3", 6),
        (f"{parent}-BO-2", 2),
        (f"{parent}-BO-3", 1),
    ]
    first = got[0]
    assert first["method"] == "POST" and first["path"] == "/fyers/postback"
    assert {
        "id",
        "exchOrdId",
        "symbol",
        "qty",
        "remainingQuantity",
        "filledQty",
        "status",
        "message",
        "segment",
        "limitPrice",
        "stopPrice",
        "productType",
        "type",
        "side",
        "disclosedQty",
        "orderValidity",
        "orderDateTime",
        "tradedPrice",
        "source",
        "fytoken",
        "offlineOrder",
        "pan",
        "clientId",
        "exchange",
        "instrument",
        "orderTag",
    } <= set(first["json"])
    assert got[1]["json"]["parentId"] == parent
    assert [p["status"] for p in fake.postbacks] == [200] * 5


def test_a_failing_url_is_retried_then_blacklisted_for_a_while(model, fake, receiver):
    fake.postback_urls = [receiver.url]
    fake.postback_blacklist_seconds = 1.0
    receiver.status = 500
    placed(model)
    assert fake.drain_postbacks()
    assert len(receiver.requests) == 4 and fake.blacklisted(receiver.url)
    assert [p["status"] for p in fake.postbacks] == [500] * 4
    placed(model)
    assert fake.drain_postbacks()
    assert len(receiver.requests) == 4  # nothing sent while blacklisted
    assert fake.postbacks[-1]["error"] == "blacklisted"
    wait_until(lambda: not fake.blacklisted(receiver.url))
    receiver.status = 200
    placed(model)
    assert fake.drain_postbacks() and len(receiver.requests) == 5


def test_a_refused_connection_is_retried_then_blacklisted(model, fake):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/postback"
    fake.postback_urls = [url]
    placed(model)
    assert fake.drain_postbacks()
    assert [p["attempt"] for p in fake.postbacks] == [1, 2, 3, 4]
    assert all(p["status"] is None and p["error"] for p in fake.postbacks)
    assert fake.blacklisted(url)


def test_a_slow_receiver_never_delays_the_answer(model, fake, receiver):
    fake.postback_urls = [receiver.url]
    receiver.hang = True
    started = time.monotonic()
    placed(model)
    assert time.monotonic() - started < 1.0
    receiver.wait_for_requests(1)
    receiver.hang = False


def test_a_forged_postback_is_sent_as_given_and_reset_turns_postbacks_off(model, fake, receiver):
    assert fake.send_postback(receiver.url, {"id": "X", "status": 2}) == 200
    assert receiver.requests[0]["json"] == {"id": "X", "status": 2}
    fake.postback_urls = [receiver.url]
    fake.reset()
    assert fake.postback_urls == [] and fake.postbacks == []
    fake.set_ltp(NIFTY_CE, 100.0)
    placed(model)
    assert fake.drain_postbacks() and len(receiver.requests) == 1


# ---------------------------------------------------------------- GTT


def gtt(**overrides):
    body = {
        "side": 1,
        "symbol": NIFTY_CE,
        "productType": "MARGIN",
        "orderInfo": {"leg1": {"price": 110.5, "triggerPrice": 110, "qty": 65}},
    }
    body.update(overrides)
    return body


def test_gtt_is_refused_for_intraday(model, fake):
    answer = model.place_gtt_order(gtt(productType="INTRADAY"))
    assert answer["code"] == -50 and "INTRADAY" in answer["message"]
    assert fake.gtt_orders == []


def test_a_gtt_places_its_order_when_the_price_crosses_the_trigger(model, fake):
    answer = model.place_gtt_order(gtt(orderTag="gtt1"))
    assert answer["code"] == 1101, answer
    [row] = model.gtt_orderbook()["orderBook"]
    assert (row["id"], row["ord_status"], row["price_trigger"], row["product_type"]) == (
        answer["id"],
        6,
        110.0,
        "MARGIN",
    )
    fake.set_ltp(NIFTY_CE, 109.0)
    assert fake.orders == []
    fake.set_ltp(NIFTY_CE, 110.0)
    [placed_order] = fake.orders
    assert (placed_order["type"], placed_order["limitPrice"], placed_order["status"]) == (1, 110.5, 2)
    assert placed_order["orderTag"] == "1:GTTgtt1"
    assert model.gtt_orderbook()["orderBook"][0]["ord_status"] == 2


def test_an_oco_gtt_is_modified_and_cancelled(model, fake):
    legs = {
        "leg1": {"price": 120, "triggerPrice": 120, "qty": 65},
        "leg2": {"price": 90, "triggerPrice": 90, "qty": 65},
    }
    answer = model.place_gtt_order(gtt(side=-1, orderInfo=legs))
    assert answer["code"] == 1101, answer
    legs["leg2"]["triggerPrice"] = 95
    assert model.modify_gtt_order({"id": answer["id"], "orderInfo": legs})["code"] == 1102
    assert model.cancel_gtt_order({"id": answer["id"]})["code"] == 1103
    assert model.cancel_gtt_order({"id": answer["id"]})["code"] == -52
    fake.set_ltp(NIFTY_CE, 80.0)
    assert fake.orders == []
