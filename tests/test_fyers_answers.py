"""Fyers's real answers, read right: CO/BO child legs, slice answers, transport codes, 429s.

The real SDK over HTTP against the fake Fyers, which answers in the formats Fyers really uses
(DESIGN §2): child legs with `parentId` and ids `-BO-2`/`-BO-3`, slice answers with a `data[]`
list and no top-level `id`, the SDK's -99 for a transport failure, HTTP 429 refusals.
"""

from __future__ import annotations

import pytest

from app.deadline import Deadline
from app.domain.errors import OrderOutcomeUnknown, OrderRejected
from app.domain.orders import OrderRequest, Side
from tests.conftest import MARKET_MORNING, admin_headers, seed_alert, send_alert

CONTRACT = "NSE:NIFTY26NOV26000CE"


# -- a lost CO/BO answer is matched to its own parent row ----------------------------------------


@pytest.mark.parametrize("product", ["CO", "BO"])
def test_a_lost_bracket_answer_finds_its_own_parent_not_another_brackets_leg(logged_in, fake_fyers, product):
    first = send_alert(
        logged_in, productType=product, action="SELL", open_short=True, sl=None, tp=None, idempotency_key="b-1"
    )
    assert first.status_code == 200, first.json
    # The first bracket's stop-loss leg is a pending BUY of the same contract, qty and product.
    assert any(leg["side"] == 1 and leg["qty"] == 65 for leg in fake_fyers.child_legs)
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    second = send_alert(logged_in, productType=product, action="BUY", sl=None, tp=None, idempotency_key="b-2")
    assert second.status_code == 200, second.json
    own = fake_fyers.orders[-1]
    assert own["side"] == 1 and not own.get("parentId")
    assert second.json["order_id"] == own["id"]
    assert fake_fyers.count("orders/sync") == 2


def test_a_child_leg_is_never_taken_for_a_tagless_order(logged_in, fake_fyers, fyers_services):
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    send_alert(
        logged_in, seed_alert(productType="CO", action="SELL", open_short=True, sl=None, tp=None, idempotency_key="b-1")
    )
    [leg] = fake_fyers.child_legs
    # The same contract, side, qty and product as the leg: only the leg is in the book.
    order = OrderRequest(CONTRACT, 65, Side.BUY, "CO", None, stop_loss_points=None)
    assert leg["symbol"] == CONTRACT and leg["side"] == 1
    assert fyers_services.broker.find_order(order, MARKET_MORNING, Deadline(2)) is None


# -- slice orders: every slice recorded; a partly rejected one says which slices stand ------------


@pytest.fixture
def sliced(fyers, fake_fyers):
    """The bridge with a freeze quantity of one NIFTY lot, three lots allowed per alert."""
    fake_fyers.freeze_qty["NIFTY"] = 65
    return fyers(freeze_qty=(("NIFTY", 65),), webhook_max_qty=3)


def test_a_slice_order_records_every_slice(sliced, fake_fyers):
    client, _ = sliced
    response = send_alert(client, seed_alert(qty=195))
    assert response.status_code == 200, response.json
    body = response.json
    ids = [o["id"] for o in fake_fyers.orders]
    assert [c["body"]["isSliceOrder"] for c in fake_fyers.calls if c["path"] == "orders/sync"] == [True]
    assert body["status"] == "placed" and body["order_id"] == ids[0]
    assert body["slices"] == [
        {"id": i, "qty": 65, "status": "placed", "message": "Successfully placed order"} for i in ids
    ]


def test_partly_rejected_slices_say_exactly_which_stand(sliced, fake_fyers):
    client, services = sliced
    fake_fyers.reject_slices({2: "RED:Margin Shortfall"})
    response = send_alert(client, seed_alert(qty=195))
    assert response.status_code == 422, response.json
    body = response.json
    first, second, third = fake_fyers.orders
    assert body["status"] == "partial"
    assert [(s["id"], s["qty"], s["status"]) for s in body["slices"]] == [
        (first["id"], 65, "placed"),
        (second["id"], 65, "rejected"),
        (third["id"], 65, "placed"),
    ]
    assert body["slices"][1]["message"] == "RED:Margin Shortfall"
    assert "2 of 3 slices stand; slice 2 rejected: RED:Margin Shortfall" in body["message"]
    [record] = services.journal.day(MARKET_MORNING.date())
    assert record["outcome"] == "partial"
    assert record["broker"][0]["slices"] == body["slices"]
    again = send_alert(client, seed_alert(qty=195))  # TradingView does not resend a 422; a person might
    assert again.json == body and len(fake_fyers.orders) == 3


def test_every_slice_rejected_is_422_rejected_with_each_slice(sliced, fake_fyers):
    client, _ = sliced
    fake_fyers.reject_next_order("RED:Margin Shortfall", times=3)
    response = send_alert(client, seed_alert(qty=195))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "rejected"
    assert [s["status"] for s in response.json["slices"]] == ["rejected"] * 3
    assert fake_fyers.count("orders/sync") == 1


def test_a_lost_slice_answer_is_settled_with_every_slice_from_the_book(sliced, fake_fyers):
    client, _ = sliced
    fake_fyers.reject_slices({3: "RED:Margin Shortfall"})
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    response = send_alert(client, seed_alert(qty=195))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "partial"
    assert [s["status"] for s in response.json["slices"]] == ["traded", "traded", "rejected"]
    assert fake_fyers.count("orders/sync") == 1


def test_a_pending_slice_order_is_reconciled_with_every_slice(sliced, fake_fyers):
    client, services = sliced
    fake_fyers.reject_slices({1: "RED:Margin Shortfall"})
    fake_fyers.add_fault("orders/sync", "drop_after_accept", hidden_reads=1000)
    first = send_alert(client, seed_alert(qty=195))
    assert first.status_code == 202, first.json
    fake_fyers.settle()
    settled = client.post("/reconcile", headers=admin_headers())
    assert settled.json["settled"] == [{"alert_id": first.json["alert_id"], "status": "partial"}]
    again = send_alert(client, seed_alert(qty=195))
    assert again.status_code == 422 and again.json["status"] == "partial"
    assert [s["status"] for s in again.json["slices"]] == ["rejected", "traded", "traded"]
    assert fake_fyers.count("orders/sync") == 1


# -- transport codes are outcomes to look up; Fyers's own -99 is a rejection ----------------------


ORDER = OrderRequest(CONTRACT, 65, Side.BUY, "INTRADAY", "TVanswers1")


def test_the_sdks_transport_code_without_an_answer_is_not_a_rejection(logged_in, fake_fyers, fyers_services):
    fake_fyers.add_fault("orders/sync", "drop_after_accept", hidden_reads=1000)
    with pytest.raises(OrderOutcomeUnknown, match="connection to Fyers failed"):
        fyers_services.broker.place_order(ORDER, Deadline(2.5))  # the SDK said -99 "Bad request"
    assert len(fake_fyers.placed_orders()) == 1


def test_fyers_own_minus_99_with_an_answer_is_a_rejection(logged_in, fake_fyers, fyers_services):
    fake_fyers.reject_next_order("RED:Margin Shortfall")
    with pytest.raises(OrderRejected, match="Margin Shortfall") as rejected:
        fyers_services.broker.place_order(ORDER, Deadline(2.5))
    assert rejected.value.details["broker_code"] == -99


def test_a_gateway_page_instead_of_fyers_json_is_looked_up(logged_in, fake_fyers, fyers_services):
    # A 504 page from a gateway: the SDK reports code 504 "Bad request"; the order went through.
    fake_fyers.add_fault("orders/sync", "gateway", status=504)
    with pytest.raises(OrderOutcomeUnknown, match="HTTP 504"):
        fyers_services.broker.place_order(ORDER, Deadline(2.5))
    assert len(fake_fyers.placed_orders()) == 1


def test_an_unacknowledged_slice_stands_and_is_never_called_rejected(sliced, fake_fyers):
    client, _ = sliced
    fake_fyers.add_fault("orders/sync", "code_201")
    response = send_alert(client, seed_alert(qty=195))
    # Every slice answered 201 (no id yet): looked up by tag and found in the book.
    assert response.status_code == 200, response.json
    assert [s["status"] for s in response.json["slices"]] == ["traded"] * 3
    assert fake_fyers.count("orders/sync") == 1


# -- a rate-limit refusal is re-sent once, never twice --------------------------------------------


def test_a_second_rate_limit_refusal_ends_the_alert_with_503(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "rate_limit", retry_after=0.2, times=2)
    response = send_alert(logged_in, seed_alert())
    assert response.status_code == 503, response.json
    assert response.json["status"] == "rate_limited"
    assert response.headers["Retry-After"]
    assert fake_fyers.count("orders/sync") == 2
    assert fake_fyers.orders == []
    # The key was released: TradingView's resend places the order, once.
    again = send_alert(logged_in, seed_alert())
    assert again.status_code == 200, again.json
    assert len(fake_fyers.placed_orders()) == 1
