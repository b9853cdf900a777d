"""Strategy positions against the fake Fyers: each strategy owns its contracts.

TradingView strategies say long, short or flat with a size; the bridge works out the orders from
the strategy's own book: flat closes the contracts it holds (not today's ATM), a reversal closes
then opens in one alert, a SELL of an option it does not hold needs an explicit choice, a position
closed by hand is reconciled, and two strategies on one underlying leave each other alone.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.adapters.coalescing import POSITIONS_FRESH_FOR
from app.deadline import Deadline
from app.domain.books import RECONCILE_GRACE
from app.domain.orders import Position
from tests.conftest import ADMIN, SECRET, seed_alert, send_alert

SPOT = "NSE:NIFTY50-INDEX"


def intent(position: str, key: str, strategy: str = "trend1", **extra) -> dict:
    alert = {
        "token": SECRET, "strategy": strategy, "symbol": "NIFTY", "position": position, "strikeprice": "ATM",
        "expiry": "WEEKLY", "productType": "INTRADAY", "idempotency_key": key,
    }
    if position != "flat":
        alert["qty"] = "65"  # {{strategy.market_position_size}} arrives as a string
    alert.update(extra)
    return alert


def orders_at(fake) -> list[dict]:
    return fake.placed_orders()


def exits_at(fake) -> list[dict]:
    return [c.body for c in fake.calls if (c.path, c.method) == ("positions", "DELETE")]


def open_rows(fake) -> dict[str, int]:
    return {p["symbol"]: p["netQty"] for p in fake.positions if p["netQty"]}


def legs_of(answer) -> list[dict]:
    return answer.json.get("legs") or [answer.json]


@pytest.fixture
def client(fyers):
    client, _ = fyers()
    return client


def test_long_then_flat_closes_the_held_contract_after_atm_has_moved(client, fake_fyers):
    long = send_alert(client, intent("long", "l1"))
    assert long.status_code == 200, long.json
    held = long.json["symbol"]
    assert held.endswith("CE")  # a long buys the CE
    fake_fyers.set_ltp(SPOT, long.json["strike"] + 300)  # ATM has moved 300 points
    flat = send_alert(client, intent("flat", "f1"))
    assert flat.status_code == 200, flat.json
    assert [leg["symbol"] for leg in legs_of(flat)] == [held]  # its own ticker, not today's ATM
    assert open_rows(fake_fyers) == {}
    again = send_alert(client, intent("flat", "f2"))
    assert again.status_code == 200 and again.json["status"] == "nothing_to_close", again.json
    assert len(exits_at(fake_fyers)) == 1


@pytest.mark.parametrize("max_lots", [1, 2])
def test_a_reversal_closes_the_long_and_opens_the_short_side_in_one_alert(fyers, fake_fyers, max_lots):
    client, _ = fyers(webhook_max_qty=max_lots)  # the reversal's exit and entry are counted apart
    assert send_alert(client, intent("long", "l1")).status_code == 200
    ce = next(iter(open_rows(fake_fyers)))
    # TradingView's reversal order is 130 contracts; the position it ends in is short 65.
    reverse = send_alert(client, intent("short", "s1", action="sell"))
    assert reverse.status_code == 200, reverse.json
    legs = legs_of(reverse)
    assert [leg["side"] for leg in legs] == ["SELL", "BUY"]  # the exit first, then the entry
    assert legs[0]["symbol"] == ce and legs[1]["symbol"].endswith("PE")  # short buys a PE by default
    assert open_rows(fake_fyers) == {legs[1]["symbol"]: 65}
    # A resend of the reversal places nothing twice.
    sent = len(orders_at(fake_fyers)) + len(exits_at(fake_fyers))
    replay = send_alert(client, intent("short", "s1", action="sell"))
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert len(orders_at(fake_fyers)) + len(exits_at(fake_fyers)) == sent


@pytest.mark.parametrize(
    ("opt_in", "expected"),
    [({}, 422), ({"open_short": True}, 200), ({"settings": {"allow_short_options": True}}, 200)],
)
def test_a_sell_of_an_option_the_strategy_does_not_hold_needs_an_explicit_choice(fyers, fake_fyers, opt_in, expected):
    client, _ = fyers(**opt_in.get("settings", {}))
    alert = seed_alert(action="SELL", strategy="trend1", idempotency_key="sell-1", sl=None, tp=None)
    if "open_short" in opt_in:
        alert["open_short"] = True
    answer = send_alert(client, alert)
    assert answer.status_code == expected, answer.json
    if expected == 422:
        assert answer.json["rule"] == "NAKED_SHORT" and orders_at(fake_fyers) == []
        assert "open_short" in answer.json["message"]


def test_a_sell_of_a_held_contract_is_allowed(client, fake_fyers):
    assert send_alert(client, seed_alert(strategy="trend1", idempotency_key="buy-1")).status_code == 200
    sell = send_alert(client, seed_alert(action="SELL", strategy="trend1", idempotency_key="sell-1", sl=None, tp=None))
    assert sell.status_code == 200, sell.json


def test_short_can_sell_a_call_when_opted_in(fyers, fake_fyers):
    client, _ = fyers()
    refused = send_alert(client, intent("short", "s1", short_as="sell_ce"))
    assert refused.status_code == 422 and refused.json["rule"] == "NAKED_SHORT"
    opened = send_alert(client, intent("short", "s2", short_as="sell_ce", open_short=True))
    assert opened.status_code == 200 and opened.json["side"] == "SELL" and opened.json["symbol"].endswith("CE")


def test_a_position_closed_by_hand_is_reconciled_and_the_next_flat_places_nothing(fyers, fake_fyers, clock):
    client, services = fyers()
    long = send_alert(client, intent("long", "l1"))
    held = long.json["symbol"]
    services.broker.exit_position(Position(held, 65, "INTRADAY"), Deadline(5))  # the trader, in Fyers's app
    clock.instant += RECONCILE_GRACE + timedelta(seconds=1)  # a fresh holding's fill gets time to show
    time.sleep(POSITIONS_FRESH_FOR)
    synced = client.post("/sync", headers={"Authorization": f"Bearer {ADMIN}"})
    assert synced.status_code == 200 and synced.json["books"], synced.json
    flat = send_alert(client, intent("flat", "f1"))
    assert flat.status_code == 200 and flat.json["status"] == "nothing_to_close", flat.json
    assert len(exits_at(fake_fyers)) == 1  # the hand's exit only


def test_two_strategies_on_one_underlying_leave_each_other_alone(client, fake_fyers):
    a = send_alert(client, intent("long", "a1", strategy="alpha")).json["symbol"]
    fake_fyers.set_ltp(SPOT, 26180.0)
    b = send_alert(client, intent("long", "b1", strategy="beta")).json["symbol"]
    assert a != b
    flat = send_alert(client, intent("flat", "a2", strategy="alpha"))
    assert flat.status_code == 200, flat.json
    assert [leg["symbol"] for leg in legs_of(flat)] == [a]
    assert open_rows(fake_fyers) == {b: 65}


def test_a_resize_adds_lots_of_the_held_contract(fyers, fake_fyers):
    client, _ = fyers(webhook_max_qty=2)
    held = send_alert(client, intent("long", "l1")).json["symbol"]
    fake_fyers.set_ltp(SPOT, 26180.0)
    bigger = send_alert(client, intent("long", "l2", qty="130"))
    assert bigger.status_code == 200, bigger.json
    assert bigger.json["symbol"] == held and bigger.json["qty"] == 65  # 65 more of the held contract
    smaller = send_alert(client, intent("long", "l3", qty="65"))
    assert smaller.status_code == 200 and smaller.json["side"] == "SELL" and smaller.json["qty"] == 65
    assert open_rows(fake_fyers) == {held: 65}
