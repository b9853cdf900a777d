"""POST /webhook through the Flask test client on the paper broker."""

from __future__ import annotations

import json

import pytest

from tests.concurrency import together
from tests.conftest import SECRET, seed_alert, send_alert


def test_seed_payload_places_one_order(client, paper):
    response = send_alert(client, seed_alert())
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "placed"
    assert body["order_id"]
    assert body["symbol"] == "NSE:NIFTY26NOV26000CE"  # 23 Nov: weekly moved by the holiday, and monthly
    assert body["qty"] == 65 and body["lots"] == 1 and body["side"] == "BUY"
    assert body["sl"] < body["ltp"] < body["tp"]
    [order] = paper.orders
    assert order.symbol == body["symbol"] and order.qty == 65 and int(order.side) == 1
    assert order.product_type == "INTRADAY" and order.tag and order.tag.isalnum()


def test_seed_payload_as_text_plain(client, paper):
    response = send_alert(client, json.dumps(seed_alert()), content_type="text/plain")
    assert response.status_code == 200
    assert len(paper.orders) == 1


def test_repeated_key_replays_the_same_answer_and_places_nothing(client, paper):
    first = send_alert(client, seed_alert())
    second = send_alert(client, seed_alert())
    assert second.status_code == 200
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(paper.orders) == 1


def test_idempotency_key_from_header(client, paper):
    alert = seed_alert(idempotency_key=None)
    first = send_alert(client, alert, headers={"Idempotency-Key": "hdr-1"})
    second = send_alert(client, alert, headers={"Idempotency-Key": "hdr-1"})
    assert first.status_code == second.status_code == 200
    assert second.json["order_id"] == first.json["order_id"]
    assert len(paper.orders) == 1


def test_identical_keyless_alerts_within_the_window_are_one(client, paper, clock):
    from datetime import timedelta

    first = send_alert(client, seed_alert(idempotency_key=None))
    resent = send_alert(client, seed_alert(idempotency_key=None))
    assert first.status_code == resent.status_code == 200
    assert resent.json == first.json and resent.headers["Idempotent-Replayed"] == "true"
    assert len(paper.orders) == 1
    assert send_alert(client, seed_alert(idempotency_key=None, action="SELL", open_short=True)).status_code == 200
    assert len(paper.orders) == 2  # a different alert
    clock.instant += timedelta(seconds=61)  # DUPLICATE_WINDOW_SECONDS later: a new alert
    later = send_alert(client, seed_alert(idempotency_key=None))
    assert later.status_code == 200 and later.json["order_id"] != first.json["order_id"]
    assert len(paper.orders) == 3
    assert len({o.tag for o in paper.orders}) == 3


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET + "x", 12345, ["x"]])
def test_wrong_or_missing_token_is_401_and_places_nothing(client, paper, token):
    response = send_alert(client, seed_alert(token=token))
    assert response.status_code == 401
    assert response.json["status"] == "unauthorized"
    assert paper.orders == []


def test_wrong_token_with_known_key_does_not_replay(client, paper):
    assert send_alert(client, seed_alert()).status_code == 200
    response = send_alert(client, seed_alert(token="wrong"))
    assert response.status_code == 401
    assert "order_id" not in response.json
    assert len(paper.orders) == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("symbol", None),
        ("symbol", 42),
        ("symbol", "NIFTY 50!"),
        ("strikeprice", None),
        ("strikeprice", "abc"),
        ("strikeprice", -100),
        ("strikeprice", True),
        ("optionType", "XX"),
        ("optionType", None),
        ("expiry", "SOMEDAY"),
        ("expiry", "2026-13-01"),
        ("expiry", None),
        ("action", "HOLD"),
        ("action", None),
        ("qty", "sixty-five"),
        ("qty", 64),
        ("qty", 0),
        ("qty", 65.5),
        ("productType", "CNC"),
        ("sl", "low"),
        ("tp", [1]),
        ("idempotency_key", "has space"),
        ("idempotency_key", "x" * 201),
    ],
)
def test_each_invalid_field_is_400_naming_it(client, paper, field, value):
    alert = seed_alert()
    if value is None:
        alert.pop(field)
    else:
        alert[field] = value
    response = send_alert(client, alert)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert response.json["message"]
    assert paper.orders == []


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"", "application/json"),
        (b"not json", "text/plain"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "text/plain"),
        (b'{"token": NaN}', "application/json"),
    ],
)
def test_unparsable_body_is_400(client, paper, body, content_type):
    response = send_alert(client, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json["field"] == "body"
    assert paper.orders == []


def test_body_over_64kb_is_413(client, paper):
    alert = seed_alert(padding="x" * 70_000)
    response = send_alert(client, alert)
    assert response.status_code == 413
    assert response.json["status"] == "too_large"
    assert paper.orders == []


def test_action_and_qty_as_tradingview_strings(client, services):
    response = send_alert(client, seed_alert(action="sell", open_short=True, qty="65", idempotency_key="tv-1"))
    assert response.status_code == 200
    assert response.json["side"] == "SELL"
    assert response.json["tp"] < response.json["ltp"] < response.json["sl"]


def test_qty_defaults_to_one_lot(client, services):
    response = send_alert(client, seed_alert(qty=None, symbol="BANKNIFTY", strikeprice=59000, expiry="MONTHLY"))
    assert response.status_code == 200, response.json
    assert response.json["qty"] == 30


def test_more_lots_when_allowed(make_bridge):
    client = make_bridge(webhook_max_qty=3).client
    assert send_alert(client, seed_alert(qty=195)).json["lots"] == 3
    refused = send_alert(client, seed_alert(qty=260, idempotency_key="k4"))
    assert refused.status_code == 422 and refused.json["rule"] == "WEBHOOK_MAX_QTY"
    assert refused.json["field"] == "qty"


def test_unlisted_strike_is_422_naming_nearest_strikes(client, paper):
    response = send_alert(client, seed_alert(strikeprice=26010))
    assert response.status_code == 422
    assert response.json["status"] == "contract_not_found"
    assert 26000 in response.json["nearest_strikes"] and 26050 in response.json["nearest_strikes"]
    assert paper.orders == []


def test_422_is_final_for_its_key(client, services):
    first = send_alert(client, seed_alert(strikeprice=26010))
    second = send_alert(client, seed_alert(strikeprice=26010))
    assert first.status_code == second.status_code == 422
    assert second.headers.get("Idempotent-Replayed") == "true"


def test_400_releases_the_key(client, paper):
    assert send_alert(client, seed_alert(qty=64)).status_code == 400
    assert send_alert(client, seed_alert()).status_code == 200
    assert len(paper.orders) == 1


def test_co_sends_stop_loss_as_points(client, paper):
    response = send_alert(client, seed_alert(productType="CO", sl=None, tp=None))
    assert response.status_code == 200
    body = response.json
    [order] = paper.orders
    assert order.tag is None  # Fyers refuses tags on CO/BO
    assert body["product_type"] == "CO"


def test_every_authenticated_alert_leaves_a_journal_record(client, services, clock):
    send_alert(client, seed_alert())
    send_alert(client, seed_alert(token="wrong"))  # junk: counted, not journaled (tests/test_junk.py)
    send_alert(client, seed_alert(qty=64, idempotency_key="bad-qty"))
    records = services.journal.day(clock.now().date())
    assert [r["status"] for r in records] == [200, 400]
    placed = records[0]
    assert placed["decisions"][0]["symbol"] == "NSE:NIFTY26NOV26000CE"
    assert placed["broker"][0]["order_id"]
    assert "latency_ms" in placed
    assert SECRET not in json.dumps(records)


def test_twenty_concurrent_posts_with_one_key_place_one_order(app, paper):
    def send(i):
        response = send_alert(app.test_client(), seed_alert(idempotency_key="burst-1"))
        return response.status_code, response.json

    answers = together(20, send)
    assert len(answers) == 20
    assert len(paper.orders) == 1
    order_id = paper.orders[0].order_id
    for status, body in answers:
        assert status in (200, 409), body
        if status == 200:
            assert body["order_id"] == order_id


def test_unknown_route_is_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json["status"] == "not_found"


def test_health_and_readiness(client):
    assert client.get("/health").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "ready" and ready.json["contracts"] > 0


def test_orders_lists_the_day_for_the_operator(client, services, clock):
    send_alert(client, seed_alert())
    send_alert(client, seed_alert(strikeprice=26010, idempotency_key="k2"))
    headers = {"Authorization": "Bearer admin-test-token"}
    day = client.get("/orders?date=2026-11-18", headers=headers)
    assert day.status_code == 200
    assert [a["outcome"] for a in day.json["alerts"]] == ["contract_not_found", "placed"]  # newest first
    assert client.get("/orders", headers=headers).json["count"] == 2  # today (IST) by default
    assert client.get("/orders?date=2026-11-17", headers=headers).json["count"] == 0
    bad = client.get("/orders?date=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.json["field"] == "date"
    assert client.get("/orders").status_code == 401
