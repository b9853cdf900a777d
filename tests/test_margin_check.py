"""Margin before sending: an entry the account cannot fund is refused before any order leaves.

Against the fake Fyers over real HTTP with the real SDK (its multiorder margin calculator, called
through the SDK's own HTTP helper), and the paper broker with PAPER_FUNDS.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from app import create_app
from app.bootstrap import bootstrap
from tests.conftest import seed_alert, send_alert
from tests.test_alert_language import SPREAD  # the two-leg spread, its sold leg listed first

CONTRACT = "NSE:NIFTY26NOV26000CE"  # seed_alert's contract on the test clock
LOT = 65


def margin_calls(fake):
    return [c for c in fake.calls if c.path == "multiorder/margin"]


def margin_warnings(body):
    """The answer's margin warnings (an alert without `timenow` carries an age warning too)."""
    return [w for w in body.get("warnings", []) if w.startswith("margin")]


def premium(fake, symbol, qty=LOT):
    """What the fake's margin calculator asks for a market buy: the LTP times the quantity."""
    return Decimal(str(fake.ltp(symbol))) * qty


def test_an_entry_the_account_cannot_fund_is_refused_before_sending(fyers, fake_fyers):
    client, services = fyers()
    fake_fyers.funds_available = 1000.0
    response = send_alert(client, seed_alert())
    assert response.status_code == 422, response.json
    body = response.json
    needed = premium(fake_fyers, CONTRACT)
    assert (body["status"], body["rule"]) == ("risk_refused", "margin")
    assert Decimal(body["shortfall"]) == needed - 1000
    assert Decimal(body["margin_required"]) == needed and Decimal(body["margin_available"]) == 1000
    assert f"short by Rs {needed - 1000:.2f}" in body["message"]
    assert fake_fyers.count("orders/sync") == 0 and fake_fyers.orders == []
    assert len(margin_calls(fake_fyers)) == 1
    # The refusal is final under the key: a resend neither asks again nor sends.
    again = send_alert(client, seed_alert())
    assert again.status_code == 422 and len(margin_calls(fake_fyers)) == 1 and fake_fyers.orders == []


def test_a_fundable_entry_is_asked_about_once_then_placed(fyers, fake_fyers):
    client, _ = fyers()
    fake_fyers.funds_available = float(premium(fake_fyers, CONTRACT))  # exactly enough
    response = send_alert(client, seed_alert())
    assert response.status_code == 200, response.json
    assert margin_warnings(response.json) == []
    [asked] = margin_calls(fake_fyers)
    assert asked.body == {
        "data": [
            {
                "symbol": CONTRACT,
                "qty": LOT,
                "side": 1,
                "type": 2,
                "productType": "INTRADAY",
                "limitPrice": 0,
                "stopLoss": 0,
                "stopPrice": 0,
                "takeProfit": 0,
            }
        ]
    }
    paths = [c.path for c in fake_fyers.calls]
    assert paths.index("multiorder/margin") < paths.index("orders/sync")
    assert len(fake_fyers.placed_orders()) == 1


def test_exits_are_never_margin_checked(fyers, fake_fyers):
    client, _ = fyers()
    assert send_alert(client, seed_alert(idempotency_key="open")).status_code == 200
    fake_fyers.funds_available = 0.0
    closed = send_alert(client, seed_alert(action="EXIT", qty=None, sl=None, tp=None, idempotency_key="close"))
    assert closed.status_code == 200, closed.json
    assert closed.json["status"] == "closed"
    assert len(margin_calls(fake_fyers)) == 1  # the entry's only


def test_margin_check_false_does_not_ask(fyers, fake_fyers):
    client, _ = fyers(margin_check=False)
    fake_fyers.funds_available = 0.0
    response = send_alert(client, seed_alert())
    assert response.status_code == 200, response.json
    assert margin_calls(fake_fyers) == [] and len(fake_fyers.placed_orders()) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "reset_before"},
        # An answer without the figures says nothing: not read as "no margin needed".
        {"kind": "status", "status": 200, "body": {"s": "ok", "code": 200, "message": "", "data": {}}},
    ],
    ids=["503", "reset", "no-figures"],
)
def test_a_margin_calculator_that_cannot_say_lets_the_order_go_with_a_warning(fyers, fake_fyers, fault):
    client, _ = fyers()
    fake_fyers.funds_available = 0.0  # would refuse, had the calculator answered
    fake_fyers.add_fault("multiorder/margin", fault.pop("kind"), times=None, **fault)
    response = send_alert(client, seed_alert())
    assert response.status_code == 200, response.json
    [warning] = margin_warnings(response.json)
    assert warning.startswith("margin not checked: ")
    assert len(fake_fyers.placed_orders()) == 1


def test_a_hedge_is_asked_about_once_buys_first(fyers, fake_fyers):
    client, _ = fyers()
    hedge, short = "NSE:NIFTY26NOV26200CE", CONTRACT
    # Enough for the hedged spread (the buy first), far from enough for a naked short.
    hedged = premium(fake_fyers, hedge) + Decimal(str(fake_fyers.hedged_sell_margin_per_lot))
    assert hedged + 1000 < Decimal(str(fake_fyers.sell_margin_per_lot))
    fake_fyers.funds_available = float(hedged + 1000)
    response = send_alert(client, SPREAD)
    assert response.status_code == 200, response.json
    [asked] = margin_calls(fake_fyers)
    assert [(row["symbol"], row["side"]) for row in asked.body["data"]] == [(hedge, 1), (short, -1)]
    assert [o["symbol"] for o in fake_fyers.placed_orders()] == [hedge, short]


def test_the_paper_broker_refuses_an_entry_above_paper_funds(settings, clock):
    services = bootstrap(dataclasses.replace(settings, paper_funds=Decimal(100_000)), clock=clock)
    client = create_app(services=services).test_client()
    try:
        # A short lot needs Rs 1,800 a contract on paper: 65 x 1,800 = 1,17,000 > 1,00,000.
        refused = send_alert(client, seed_alert(action="SELL", open_short=True, sl=None, tp=None))
        assert refused.status_code == 422, refused.json
        assert refused.json["rule"] == "margin" and Decimal(refused.json["shortfall"]) == 17_000
        bought = send_alert(client, seed_alert(idempotency_key="buy-1"))
        assert bought.status_code == 200, bought.json
        assert margin_warnings(bought.json) == []
        # What the long holds is no longer free: PAPER_FUNDS less its premium.
        held = Decimal(str(bought.json["ltp"])) * LOT
        margin = services.broker.margin([], None)
        assert margin.available == 100_000 - held
    finally:
        services.broker.close()


@pytest.mark.parametrize(
    "row, code",
    [
        ({"qty": LOT, "side": 1, "type": 2, "productType": "INTRADAY"}, -50),  # no symbol
        ({"symbol": CONTRACT, "qty": 60, "side": 1, "type": 2, "productType": "INTRADAY"}, -50),  # not whole lots
        ({"symbol": CONTRACT, "qty": LOT, "side": 1, "type": 2}, -50),  # no productType
        ({"symbol": "NSE:NIFTY50-INDEX", "qty": LOT, "side": 1, "type": 2, "productType": "INTRADAY"}, -300),
    ],
    ids=["symbol", "qty", "productType", "index"],
)
def test_the_fake_calculator_checks_each_row_as_the_reference_lists_it(fake_fyers, row, code):
    import requests

    token = fake_fyers.issue_token()
    answer = requests.post(
        f"{fake_fyers.api_base}/multiorder/margin",
        json={"data": [row]},
        headers={"Authorization": f"{fake_fyers.app_id}:{token}"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["code"] == code and answer.json()["s"] == "error"
