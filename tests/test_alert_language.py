"""The alert language: aliases, relative strikes, multi-leg, exits, risk gates and dry runs."""

from __future__ import annotations

import json

import pytest

from app.domain.orders import Side
from tests.conftest import SECRET, admin_headers, seed_alert, send_alert

STRADDLE = {
    "token": SECRET,
    "idempotency_key": "straddle-1",
    "strategy": "Straddle 9:20",
    "open_short": True,  # both legs sell options not held
    "symbol": "NIFTY",
    "expiry": "WEEKLY",
    "productType": "MARGIN",
    "legs": [
        {"strikeprice": "ATM", "optionType": "CE", "action": "SELL"},
        {"strikeprice": "ATM", "optionType": "PE", "action": "SELL"},
    ],
}
SPREAD = {
    "token": SECRET,
    "idempotency_key": "spread-1",
    "open_short": True,  # the sold leg is not held: the hedge is another contract
    "symbol": "NIFTY",
    "expiry": "WEEKLY",
    "legs": [
        {"strikeprice": 26000, "optionType": "CE", "action": "SELL"},  # listed first, placed second
        {"strikeprice": 26200, "optionType": "CE", "action": "BUY"},  # the hedge goes first
    ],
}


# -- payload variants ----------------------------------------------------------------------


def test_aliases_and_tradingview_strings_place_the_same_order(client, services):
    alias = {
        "secret": SECRET,
        "symbol": "NIFTY",
        "strike": "26000",
        "option_type": "CE",
        "expiry": "2026-11-23",
        "action": "{{strategy.order.action}}".replace("{{strategy.order.action}}", "buy"),
        "quantity": "65",
        "stop_loss": "80.5",
        "target": "140",
        "idempotency_key": "alias-1",
    }
    response = send_alert(client, alias)
    assert response.status_code == 200, response.json
    assert response.json["symbol"] == "NSE:NIFTY26NOV26000CE" and response.json["qty"] == 65


def test_lots_instead_of_qty(make_bridge):
    client = make_bridge(webhook_max_qty=3).client
    response = send_alert(client, seed_alert(qty=None, lots="2"))
    assert response.status_code == 200 and response.json["qty"] == 130 and response.json["lots"] == 2


def test_strategy_reaches_the_journal_and_the_order_tag(client, services, clock, paper):
    send_alert(client, seed_alert(strategy="ORB 15m"))
    [order] = paper.orders
    assert order.tag.startswith("ORB15m")
    assert services.journal.day(clock.now().date())[0]["strategy"] == "ORB 15m"


# -- strikes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice, option_type, strike",
    [
        ("ATM", "CE", 26000),
        ("ATM", "PE", 26000),
        ("ITM2", "CE", 25900),
        ("ITM2", "PE", 26100),
        ("OTM1", "CE", 26050),
        ("OTM3", "PE", 25850),
    ],
)
def test_relative_strikes_off_the_index_spot(client, services, choice, option_type, strike):
    # The paper broker quotes NSE:NIFTY50-INDEX at 26000.
    response = send_alert(client, seed_alert(strikeprice=choice, optionType=option_type, sl=None, tp=None))
    assert response.status_code == 200, response.json
    assert response.json["strike"] == strike and response.json["strike_choice"] == choice


def test_relative_strike_uses_the_fyers_index_quote(fyers, fake_fyers):
    client, _ = fyers()
    fake_fyers.set_ltp("NSE:NIFTY50-INDEX", 26130.35)
    response = send_alert(client, seed_alert(strikeprice="ATM"))
    assert response.status_code == 200, response.json
    assert response.json["strike"] == 26150
    assert any(c["path"] == "quotes" and "NIFTY50-INDEX" in c["query"].get("symbols", "") for c in fake_fyers.calls)


def test_nearest_strike_rounding(make_bridge, tmp_path):
    exact_client = make_bridge(state_dir=str(tmp_path / "a")).client
    assert send_alert(exact_client, seed_alert(strikeprice=26012.4)).status_code == 422
    client = make_bridge(state_dir=str(tmp_path / "b"), strike_rounding="nearest").client
    response = send_alert(client, seed_alert(strikeprice=26012.4))
    assert response.status_code == 200 and response.json["strike"] == 26000


@pytest.mark.parametrize(
    "expiry, expected",
    [
        ("WEEKLY", "2026-11-23"),
        ("NEXT_WEEKLY", "2026-12-01"),
        ("MONTHLY", "2026-11-23"),
        ("NEXT_MONTHLY", "2026-12-29"),
    ],
)
def test_expiry_selectors(client, expiry, expected):
    response = send_alert(client, seed_alert(expiry=expiry, idempotency_key=expiry))
    assert response.status_code == 200, response.json
    assert response.json["expiry"] == expected


# -- multi-leg -------------------------------------------------------------------------------


def test_straddle_places_two_orders_and_a_resend_places_none(fyers, fake_fyers):
    client, _ = fyers(webhook_max_qty=2)
    fake_fyers.set_ltp("NSE:NIFTY50-INDEX", 26010.0)
    response = send_alert(client, STRADDLE)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "placed" and len(response.json["legs"]) == 2
    orders = fake_fyers.placed_orders()
    assert [o["symbol"] for o in orders] == ["NSE:NIFTY26NOV26000CE", "NSE:NIFTY26NOV26000PE"]
    assert all(o["side"] == -1 and o["productType"] == "MARGIN" for o in orders)
    assert all(o["orderTag"].startswith("1:Straddle") for o in orders)
    again = send_alert(client, STRADDLE)
    assert again.json == response.json
    assert len(fake_fyers.placed_orders()) == 2


def test_spread_places_the_buy_leg_first(fyers, fake_fyers):
    client, _ = fyers()
    response = send_alert(client, SPREAD)
    assert response.status_code == 200, response.json
    assert [(o["symbol"], o["side"]) for o in fake_fyers.placed_orders()] == [
        ("NSE:NIFTY26NOV26200CE", 1),
        ("NSE:NIFTY26NOV26000CE", -1),
    ]
    assert [leg["side"] for leg in response.json["legs"]] == ["BUY", "SELL"]


def test_a_leg_that_cannot_resolve_places_no_leg(fyers, fake_fyers):
    client, _ = fyers()
    bad = json.loads(json.dumps(SPREAD))
    bad["legs"][0]["strikeprice"] = 26010  # not listed
    response = send_alert(client, bad)
    assert response.status_code == 422 and response.json["status"] == "contract_not_found"
    assert fake_fyers.count("orders/sync") == 0


def test_an_invalid_leg_names_its_field(client, paper):
    bad = json.loads(json.dumps(SPREAD))
    bad["legs"][1]["optionType"] = "XX"
    response = send_alert(client, bad)
    assert response.status_code == 400 and response.json["field"] == "legs[1].optionType"
    assert paper.orders == []


def test_a_leg_failing_after_another_stands_says_which(fyers, fake_fyers):
    client, _ = fyers()
    # The first order (the BUY hedge) passes; the second (the SELL) is rejected by Fyers.
    fake_fyers.add_fault("orders/sync", "latency", seconds=0)
    rejection = {"s": "error", "code": -99, "message": "RED:Margin Shortfall"}
    fake_fyers.add_fault("orders/sync", "status", status=400, body=rejection)
    response = send_alert(client, SPREAD)
    assert response.status_code == 422, response.json
    assert response.json["status"] == "partial"
    assert [(leg["side"], leg["status"]) for leg in response.json["legs"]] == [("BUY", "placed"), ("SELL", "failed")]
    assert "1 of 2" in response.json["message"] and "Margin Shortfall" in response.json["message"]
    [hedge] = fake_fyers.placed_orders()
    assert hedge["side"] == 1
    again = send_alert(client, SPREAD)  # the answer is final: a resend sends nothing
    assert again.json == response.json and fake_fyers.count("orders/sync") == 2


def test_a_leg_whose_outcome_is_unknown_is_pending_while_the_hedge_stands(fyers, fake_fyers):
    client, _ = fyers()
    fake_fyers.add_fault("orders/sync", "latency", seconds=0)
    fake_fyers.add_fault("orders/sync", "reset_before", times=None)
    fake_fyers.add_fault("quotes", "latency", seconds=0)
    response = send_alert(client, SPREAD)
    assert response.status_code == 202, response.json
    fake_fyers.clear_faults()
    assert [leg["status"] for leg in response.json["legs"]] == ["placed", "pending"]
    assert len(fake_fyers.placed_orders()) == 1
    again = send_alert(client, SPREAD)  # each leg has its own key: nothing is sent again
    assert again.status_code == 202 and fake_fyers.count("orders/sync") == 2


# -- exits and position rules ----------------------------------------------------------------


def test_exit_with_no_position_places_nothing_and_says_so(client, paper):
    response = send_alert(client, seed_alert(action="EXIT", idempotency_key="exit-0"))
    assert response.status_code == 200
    assert response.json["status"] == "nothing_to_close"
    assert "NSE:NIFTY26NOV26000CE" in response.json["message"]
    assert paper.orders == []


def test_exit_closes_the_position_and_never_opens_one(client, paper):
    send_alert(client, seed_alert(action="SELL", open_short=True, idempotency_key="open-short"))
    response = send_alert(client, seed_alert(action="EXIT", qty=None, idempotency_key="exit-1"))
    assert response.status_code == 200, response.json
    assert response.json["side"] == "BUY" and response.json["qty"] == 65 and response.json["closing"] is True
    assert [o.side for o in paper.orders] == [Side.SELL, Side.BUY]
    again = send_alert(client, seed_alert(action="EXIT", idempotency_key="exit-2"))
    assert again.json["status"] == "nothing_to_close"


def test_exit_of_a_whole_underlying(fyers, fake_fyers):
    client, _ = fyers(webhook_max_qty=2)
    send_alert(client, seed_alert(idempotency_key="a"))
    send_alert(
        client,
        seed_alert(strikeprice=26100, optionType="PE", action="SELL", open_short=True, qty=130, idempotency_key="b"),
    )
    response = send_alert(
        client, {"token": SECRET, "symbol": "NIFTY", "action": "EXIT", "scope": "underlying", "idempotency_key": "flat"}
    )
    assert response.status_code == 200, response.json
    closing = fake_fyers.placed_orders()[2:]
    assert sorted((o["symbol"], o["side"], o["qty"]) for o in closing) == [
        ("NSE:NIFTY26NOV26000CE", -1, 65),
        ("NSE:NIFTY26NOV26100PE", 1, 130),
    ]
    assert [leg["side"] for leg in response.json["legs"]] == ["BUY", "SELL"]  # buys first
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)


def test_require_short_for_buy(make_bridge):
    bridge = make_bridge(require_short_for_buy=True)
    client = bridge.client
    refused = send_alert(client, seed_alert(idempotency_key="b1"))
    assert refused.status_code == 422 and refused.json["rule"] == "REQUIRE_SHORT_FOR_BUY"
    assert send_alert(client, seed_alert(action="SELL", open_short=True, idempotency_key="s1")).status_code == 200
    assert send_alert(client, seed_alert(idempotency_key="b2")).status_code == 200  # covers the short
    assert len(bridge.paper.orders) == 2


# -- risk gates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, alert, rule",
    [
        ({}, seed_alert(qty=130), "WEBHOOK_MAX_QTY"),
        ({"allowed_underlyings": frozenset({"BANKNIFTY"})}, seed_alert(), "ALLOWED_UNDERLYINGS"),
        ({"max_orders_per_day": 1}, "second", "MAX_ORDERS_PER_DAY"),
        ({"max_open_lots": 1, "webhook_max_qty": 5}, "second", "MAX_OPEN_LOTS"),
    ],
)
def test_every_gate_refuses_with_422_and_places_nothing(make_bridge, overrides, alert, rule):
    bridge = make_bridge(**overrides)
    client = bridge.client
    if alert == "second":
        assert send_alert(client, seed_alert(idempotency_key="first")).status_code == 200
        alert = seed_alert(idempotency_key="second", strikeprice=26100)
    before = len(bridge.paper.orders)
    response = send_alert(client, alert)
    assert response.status_code == 422, response.json
    assert response.json["status"] == "risk_refused" and response.json["rule"] == rule
    assert len(bridge.paper.orders) == before


def test_kill_switch_refuses_entries_but_allows_exits(client, services):
    assert send_alert(client, seed_alert(action="SELL", open_short=True, idempotency_key="pos")).status_code == 200
    assert client.post("/admin/pause", json={"reason": "news"}, headers=admin_headers()).json["status"] == "paused"
    refused = send_alert(client, seed_alert(idempotency_key="blocked"))
    assert refused.status_code == 422 and refused.json["rule"] == "paused" and "news" in refused.json["message"]
    exit_ = send_alert(client, seed_alert(action="EXIT", idempotency_key="exit-while-paused"))
    assert exit_.status_code == 200 and exit_.json["closing"] is True
    assert client.get("/admin/status", headers=admin_headers()).json["paused"] is True
    client.post("/admin/resume", headers=admin_headers())
    assert send_alert(client, seed_alert(idempotency_key="after")).status_code == 200
    assert client.post("/admin/pause").status_code == 401


def test_a_refused_alert_does_not_use_up_the_daily_limit(make_bridge):
    bridge = make_bridge(max_orders_per_day=1)
    client, services = bridge.client, bridge.services
    assert send_alert(client, seed_alert(strikeprice=26010, idempotency_key="bad")).status_code == 422
    assert send_alert(client, seed_alert(idempotency_key="ok")).status_code == 200
    assert services.controls.orders_today() == 1


@pytest.mark.parametrize("limit", [None, 5])
def test_orders_today_counts_placed_entries_with_or_without_a_limit(make_bridge, limit):
    bridge = make_bridge(max_orders_per_day=limit)
    client, services = bridge.client, bridge.services
    assert send_alert(client, seed_alert(idempotency_key="one")).status_code == 200
    assert send_alert(client, seed_alert(strikeprice=26010, idempotency_key="bad")).status_code == 422
    assert send_alert(client, seed_alert(action="EXIT", idempotency_key="out")).status_code == 200
    assert send_alert(client, seed_alert(idempotency_key="two")).status_code == 200
    assert services.controls.orders_today() == 2  # entries placed; the refusal and the exit are not
    status = client.get("/admin/status", headers=admin_headers()).json
    assert status["orders_today"] == 2


def test_orders_above_the_freeze_quantity_are_sliced(fyers, fake_fyers):
    client, _ = fyers(webhook_max_qty=40, freeze_qty=(("NIFTY", 1800),))
    response = send_alert(client, seed_alert(qty=65 * 30))
    assert response.status_code == 200, response.json
    sent = [c for c in fake_fyers.calls if c["path"] == "orders/sync"][-1]["body"]
    assert sent["isSliceOrder"] is True and sent["qty"] == 1950
    assert response.json["sliced"] is True


# -- dry run ---------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["field", "endpoint"])
def test_dry_run_answers_the_exact_order_and_places_nothing(fyers, fake_fyers, via):
    client, services = fyers(max_orders_per_day=1)
    alert = seed_alert(productType="BO", sl=None, tp=None)
    if via == "field":
        dry = send_alert(client, {**alert, "dry_run": True})
    else:
        dry = send_alert(client, alert, path="/webhook/test")
    assert dry.status_code == 200, dry.json
    assert dry.json["status"] == "dry_run"
    assert fake_fyers.count("orders/sync") == 0
    assert services.controls.orders_today() == 0
    [would] = dry.json["orders"]
    live = send_alert(client, alert)  # the same key: the dry run claimed nothing
    assert live.status_code == 200, live.json
    [order] = fake_fyers.placed_orders()
    assert (would["symbol"], would["qty"], would["side"], would["product_type"]) == (
        order["symbol"],
        order["qty"],
        "BUY",
        order["productType"],
    )
    assert (would["ltp"], would["sl"], would["tp"]) == (live.json["ltp"], live.json["sl"], live.json["tp"])


def test_dry_run_still_authenticates_and_gates(client, services):
    assert send_alert(client, seed_alert(token="wrong"), path="/webhook/test").status_code == 401
    refused = send_alert(client, seed_alert(qty=130), path="/webhook/test")
    assert refused.status_code == 422 and refused.json["rule"] == "WEBHOOK_MAX_QTY"
