"""EXIT closes what it finds: each position row in its own product, CO/BO with Fyers's exit call.

Against the fake Fyers with the real SDK (which refuses a CO order without a stop loss, as
Fyers does), and the paper broker; the position rules sum a contract's rows.
"""

from __future__ import annotations

import pytest

from app.deadline import Deadline
from app.domain.orders import OrderRequest, Position, Side
from tests.conftest import MARKET_MORNING, seed_alert, send_alert

CONTRACT = "NSE:NIFTY26NOV26000CE"  # seed_alert's contract on the test clock


def exit_alert(key, **overrides):
    return seed_alert(action="EXIT", qty=None, sl=None, tp=None, idempotency_key=key, **overrides)


def hold(services, product, qty):
    """Open a position in one product through the bridge's broker (qty > 0 long, < 0 short)."""
    side = Side.BUY if qty > 0 else Side.SELL
    services.broker.place_order(OrderRequest(CONTRACT, abs(qty), side, product, None), Deadline(2))


def exit_calls(fake):
    return [c.body for c in fake.calls if c.path == "positions" and c.method == "DELETE"]


# -- CO/BO: the exit-position call, never a plain opposite order --------------------------------


@pytest.mark.parametrize("product", ["CO", "BO"])
def test_exit_flattens_a_cover_or_bracket_position_with_the_exit_call(fyers, fake_fyers, product):
    client, services = fyers()
    opened = send_alert(client, seed_alert(productType=product, sl=None, tp=None, idempotency_key="open"))
    assert opened.status_code == 200, opened.json
    orders_sent = fake_fyers.count("orders/sync")
    response = send_alert(client, exit_alert("exit", productType=product))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "closed" and body["closing"] is True
    assert body["position_id"] == f"{CONTRACT}-{product}"
    assert (body["side"], body["qty"], body["product_type"]) == ("SELL", 65, product)
    # One exit call, its legs cancelled first; no opposite order (Fyers would refuse it).
    assert exit_calls(fake_fyers) == [{"id": f"{CONTRACT}-{product}", "pending_orders_cancel": 1}]
    assert fake_fyers.count("orders/sync") == orders_sent
    assert [p["netQty"] for p in fake_fyers.positions if p["productType"] == product] == [0]
    [record] = [r for r in services.journal.day(MARKET_MORNING.date()) if r.get("idempotency_key") == "exit"]
    assert record["outcome"] == "closed"
    assert record["broker"] == [
        {"exit_position": f"{CONTRACT}-{product}", "status": "closed", "message": "The position is closed."}
    ]
    assert send_alert(client, exit_alert("exit-again", productType=product)).json["status"] == "nothing_to_close"


def test_an_unfilled_exit_is_pending_looked_up_and_never_sent_again(fyers, fake_fyers):
    client, _ = fyers()
    assert send_alert(client, seed_alert(productType="CO", sl=None, tp=None, idempotency_key="open")).status_code == 200
    fake_fyers.leave_next_exit_unfilled()
    reads_before = fake_fyers.count("positions", "GET")
    response = send_alert(client, exit_alert("exit", productType="CO"))
    assert response.status_code == 202, response.json
    assert response.json["status"] == "pending" and "not sent again" in response.json["message"]
    assert fake_fyers.count("positions", "GET") > reads_before + 1  # the position book was read after the exit
    assert len(exit_calls(fake_fyers)) == 1
    again = send_alert(client, exit_alert("exit", productType="CO"))  # TradingView's resend of the same alert
    assert again.status_code == 202 and again.json["status"] == "pending"
    assert len(exit_calls(fake_fyers)) == 1 and fake_fyers.count("orders/sync") == 1


def test_a_dropped_exit_answer_is_settled_from_the_position_book(fyers, fake_fyers):
    client, _ = fyers()
    assert send_alert(client, seed_alert(productType="CO", sl=None, tp=None, idempotency_key="open")).status_code == 200
    fake_fyers.add_fault("positions", "latency", seconds=0)  # the planner's read of the book
    fake_fyers.add_fault("positions", "drop_after_accept")  # the exit: done, its answer lost
    response = send_alert(client, exit_alert("exit", productType="CO"))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed" and "position book" in response.json["message"]
    assert len(exit_calls(fake_fyers)) == 1
    assert fake_fyers.positions[0]["netQty"] == 0


def test_the_exit_call_reports_nothing_to_close_and_refusals(fyers, fake_fyers):
    _, services = fyers()
    deadline = Deadline(2)
    nothing = services.broker.exit_position(Position(CONTRACT, 65, "CO"), deadline)
    assert (nothing.status, nothing.position_id) == ("nothing_to_close", f"{CONTRACT}-CO")
    refusal = {"s": "error", "code": -99, "message": "RMS:Exit not allowed"}
    fake_fyers.add_fault("positions", "status", status=400, body=refusal)
    from app.domain.errors import OrderRejected

    with pytest.raises(OrderRejected, match="Exit not allowed"):
        services.broker.exit_position(Position(CONTRACT, 65, "CO"), deadline)


def test_a_plain_opposite_order_for_a_cover_position_is_refused_by_the_fake(fyers, fake_fyers):
    """Why the exit call is needed: Fyers refuses a CO order without a stop loss."""
    client, services = fyers()
    assert send_alert(client, seed_alert(productType="CO", sl=None, tp=None, idempotency_key="open")).status_code == 200
    from app.domain.errors import OrderRejected

    with pytest.raises(OrderRejected, match="stop loss"):
        services.broker.place_order(OrderRequest(CONTRACT, 65, Side.SELL, "CO", None), Deadline(2))


# -- one row per contract and product ------------------------------------------------------------


def test_exit_flattens_a_contract_held_in_two_products(fyers, fake_fyers):
    client, _ = fyers(protection="none")  # unprotected positions: an opposite market order each
    assert send_alert(client, seed_alert(productType="INTRADAY", idempotency_key="intraday")).status_code == 200
    assert send_alert(client, seed_alert(productType="MARGIN", idempotency_key="margin")).status_code == 200
    assert sorted((p["productType"], p["netQty"]) for p in fake_fyers.positions) == [("INTRADAY", 65), ("MARGIN", 65)]
    response = send_alert(client, exit_alert("exit"))
    assert response.status_code == 200, response.json
    assert sorted((leg["product_type"], leg["side"], leg["status"]) for leg in response.json["legs"]) == [
        ("INTRADAY", "SELL", "placed"),
        ("MARGIN", "SELL", "placed"),
    ]
    closing = fake_fyers.placed_orders()[2:]
    assert sorted((o["productType"], o["side"], o["qty"]) for o in closing) == [
        ("INTRADAY", -1, 65),
        ("MARGIN", -1, 65),
    ]
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)


def test_exit_of_a_contract_in_a_cover_and_an_intraday_row_uses_each_rows_way(fyers, fake_fyers):
    client, _ = fyers(protection="none")
    assert send_alert(client, seed_alert(productType="CO", sl=None, tp=None, idempotency_key="co")).status_code == 200
    assert send_alert(client, seed_alert(productType="INTRADAY", idempotency_key="intraday")).status_code == 200
    response = send_alert(client, exit_alert("exit"))
    assert response.status_code == 200, response.json
    assert sorted((leg["product_type"], leg["status"]) for leg in response.json["legs"]) == [
        ("CO", "closed"),
        ("INTRADAY", "placed"),
    ]
    assert exit_calls(fake_fyers) == [{"id": f"{CONTRACT}-CO", "pending_orders_cancel": 1}]
    tagged = [o["productType"] for o in fake_fyers.placed_orders() if o["orderTag"] != "2:Untagged"]
    assert tagged == ["INTRADAY", "INTRADAY"]
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)
    again = send_alert(client, exit_alert("exit"))  # each row has its own key: nothing is sent twice
    assert again.json == response.json and len(exit_calls(fake_fyers)) == 1


def test_exit_of_protected_positions_uses_the_exit_call_so_no_stop_outlives_them(fyers, fake_fyers):
    client, _ = fyers()  # PROTECTION=legs, the default: each entry carries a working stop and target
    assert send_alert(client, seed_alert(productType="INTRADAY", idempotency_key="intraday")).status_code == 200
    assert send_alert(client, seed_alert(productType="MARGIN", idempotency_key="margin")).status_code == 200
    assert sum(1 for leg in fake_fyers.child_legs if leg["status"] == 6) == 4
    response = send_alert(client, exit_alert("exit"))
    assert response.status_code == 200, response.json
    assert sorted((leg["product_type"], leg["status"]) for leg in response.json["legs"]) == [
        ("INTRADAY", "closed"),
        ("MARGIN", "closed"),
    ]
    assert sorted(c["id"] for c in exit_calls(fake_fyers)) == [f"{CONTRACT}-INTRADAY", f"{CONTRACT}-MARGIN"]
    assert all(c["pending_orders_cancel"] == 1 for c in exit_calls(fake_fyers))
    # An opposite order would have left both stops working on a flat position: each would open a naked short.
    assert [leg["status"] for leg in fake_fyers.child_legs] == [1, 1, 1, 1]
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)


def test_paper_broker_exits_a_cover_position_with_one_counter_order(client, services, paper):
    assert send_alert(client, seed_alert(productType="CO", sl=None, tp=None, idempotency_key="open")).status_code == 200
    response = send_alert(client, exit_alert("exit", productType="CO"))
    assert response.status_code == 200 and response.json["status"] == "closed", response.json
    counter = paper.orders[-1]
    assert (counter.side, counter.qty, counter.product_type, counter.tag) == (Side.SELL, 65, "CO", None)
    assert [p for p in services.broker.positions(Deadline(1)) if p.net_qty] == []


def test_a_dry_run_exit_of_a_cover_position_says_it_would_use_the_exit_call(client, services, paper):
    hold(services, "CO", 65)
    response = send_alert(client, {**exit_alert("dry", productType="CO"), "dry_run": True})
    assert response.status_code == 200, response.json
    [order] = response.json["orders"]
    assert order["status"] == "would_exit" and order["position_id"] == f"{CONTRACT}-CO"
    assert len(paper.orders) == 1


# -- the position rules sum a contract's rows -----------------------------------------------------


def test_require_short_for_buy_refuses_when_the_rows_sum_to_a_long(make_bridge):
    bridge = make_bridge(require_short_for_buy=True)
    client, services = bridge.client, bridge.services
    hold(services, "MARGIN", 130)  # long two lots in MARGIN ...
    hold(services, "INTRADAY", -65)  # ... short one in INTRADAY: net long one lot
    response = send_alert(client, seed_alert(idempotency_key="buy"))
    assert response.status_code == 422, response.json
    assert response.json["rule"] == "REQUIRE_SHORT_FOR_BUY"


def test_require_short_for_buy_allows_a_short_beside_a_flat_row(fyers, fake_fyers):
    client, services = fyers(require_short_for_buy=True)
    hold(services, "INTRADAY", -65)  # short one lot ...
    hold(services, "MARGIN", 65)
    hold(services, "MARGIN", -65)  # ... and a MARGIN row closed earlier today (net 0)
    assert [p["netQty"] for p in fake_fyers.positions] == [-65, 0]  # Fyers lists the flat row too
    response = send_alert(client, seed_alert(idempotency_key="cover"))
    assert response.status_code == 200, response.json


def test_max_open_lots_counts_every_product_row(make_bridge):
    bridge = make_bridge(max_open_lots=2)
    client, services = bridge.client, bridge.services
    hold(services, "INTRADAY", 65)
    hold(services, "MARGIN", 65)
    response = send_alert(client, seed_alert(strikeprice=26100, idempotency_key="third"))
    assert response.status_code == 422, response.json
    assert response.json["rule"] == "MAX_OPEN_LOTS" and "2 lot(s) open" in response.json["message"]
