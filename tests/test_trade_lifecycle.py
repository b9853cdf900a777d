"""Owning the trade after the order, over real HTTP with the real SDK against the fake Fyers.

An INTRADAY entry goes out with its TP/SL legs; moving the price through the stop is told as a
stop hit with its P&L; a forged postback changes nothing until the book agrees; a rejection that
comes after acceptance reaches the journal and the trader; and the sweep alone reaches the same
journal as the postbacks alone.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from werkzeug.serving import make_server

from app.adapters.coalescing import POSITIONS_FRESH_FOR
from app.domain.contracts import IST
from tests.concurrency import together
from tests.conftest import ADMIN, browser_login, seed_alert, send_alert
from tests.test_login_binding import Phone

TRADE_OUTCOMES = {"filled", "partially_filled", "rejected_by_exchange", "order_cancelled", "order_expired",
                  "protected", "protection_failed", "stop_hit", "target_hit", "protection_cancelled"}


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def bridge(make_bridge, fyers_settings, fake_fyers, phone):
    built = make_bridge(settings=fyers_settings, channels=[phone], notify_on="all")
    assert browser_login(built.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    return built


def admin():
    return {"Authorization": f"Bearer {ADMIN}"}


def trade_records(bridge) -> list[dict]:
    day = bridge.services.journal.day(bridge.services.clock.now().astimezone(IST).date())
    return [r for r in day if str(r.get("outcome")) in TRADE_OUTCOMES]


def outcomes(bridge) -> list[str]:
    return [str(r["outcome"]) for r in trade_records(bridge)]


def sync(bridge) -> dict:
    answer = bridge.client.post("/sync", headers=admin())
    assert answer.status_code == 200, answer.json
    return answer.json


def enter(bridge, **overrides) -> dict:
    answer = send_alert(bridge.client, seed_alert(**overrides))
    assert answer.status_code == 200, answer.json
    return answer.json


def test_an_intraday_buy_with_sl_and_tp_carries_legs_at_fyers(bridge, fake_fyers):
    placed = enter(bridge)
    (order,) = fake_fyers.placed_orders()
    assert order["productType"] == "INTRADAY" and order["legType"] == 1
    ltp = Decimal(str(placed["ltp"]))
    assert Decimal(str(order["stopLoss"])) == ltp - Decimal(str(placed["sl"]))
    assert Decimal(str(order["takeProfit"])) == Decimal(str(placed["tp"])) - ltp
    assert placed["protection"]["mode"] == "legs" and placed["protection"]["stop_loss"] == placed["sl"]
    sync(bridge)
    assert outcomes(bridge) == ["filled", "protected"]


def test_a_price_through_the_stop_is_a_stop_hit_with_its_pnl(bridge, fake_fyers, phone):
    placed = enter(bridge)
    sync(bridge)
    fill = Decimal(str(fake_fyers.placed_orders()[0]["tradedPrice"]))
    stop_leg = next(r for r in fake_fyers.child_legs if r["type"] == 3)
    fake_fyers.set_ltp(placed["symbol"], float(stop_leg["stopPrice"]) - 0.5)
    sync(bridge)
    (hit,) = [r for r in trade_records(bridge) if str(r["outcome"]) == "stop_hit"]
    exit_price = Decimal(str(hit["trade"]["exit_price"]))
    assert exit_price == Decimal(str(stop_leg["stopPrice"])) - Decimal("0.5")
    assert Decimal(str(hit["trade"]["pnl"])) == (exit_price - fill) * 65
    told = [n for n in phone.received if n.kind == "stop_hit"]
    assert len(told) == 1 and "STOP HIT" in told[0].text and "-₹" in told[0].text
    sync(bridge)  # a second sweep tells nothing again
    assert [n.kind for n in phone.received].count("stop_hit") == 1


def test_a_forged_postback_changes_nothing_until_the_book_agrees(bridge, fake_fyers):
    placed = enter(bridge)
    sync(bridge)
    before = outcomes(bridge)
    leg = next(r for r in fake_fyers.child_legs if r["type"] == 3)
    forged = {**leg, "status": 2, "filledQty": 65, "tradedPrice": 1.0, "message": "TRADE CONFIRMED"}
    answer = bridge.client.post("/fyers/postback", json=forged)
    assert answer.status_code == 200
    assert outcomes(bridge) == before  # the book says the stop is pending: nothing believed
    assert bridge.client.post("/fyers/postback", data=b"not json").status_code == 200
    assert bridge.client.post("/fyers/postback", json={"id": "99999999999999", "status": 2}).json["status"] == "ignored"
    fake_fyers.set_ltp(placed["symbol"], float(leg["stopPrice"]) - 1)
    time.sleep(POSTBACK_SPACING)
    answer = bridge.client.post("/fyers/postback", json=forged)
    assert answer.status_code == 200
    assert outcomes(bridge)[-1] == "stop_hit"


POSTBACK_SPACING = 2.1  # the desk reads one order back at most every 2 s


def test_a_rejection_after_acceptance_reaches_the_journal_and_the_trader(make_bridge, fyers_settings, fake_fyers):
    phone = Phone()  # NOTIFY_ON=failures: a rejection is still sent
    built = make_bridge(settings=fyers_settings, channels=[phone])
    assert browser_login(built.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    fake_fyers.reject_after_accept("RED:Margin Shortfall")
    placed = enter(built)
    assert placed["status"] == "placed"
    sync(built)
    sync(built)
    (rejected,) = [r for r in trade_records(built) if str(r["outcome"]) == "rejected_by_exchange"]
    assert "Margin Shortfall" in rejected["trade"]["message"]
    (told,) = [n for n in phone.received if n.kind == "rejected_by_exchange"]
    assert "Margin Shortfall" in told.text


class Served:
    """The bridge's Flask app on a real port, so that the fake's postbacks can reach it."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/fyers/postback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


def wait_for(predicate, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded
        if predicate():
            return True
        time.sleep(0.05)
    return False


def run_day(bridge, fake_fyers, *, postbacks: bool) -> list[str]:
    """Enter, fill, hit the stop: told by postbacks alone, or by sweeps alone."""
    with Served(bridge.app) as served:
        fake_fyers.postback_urls = [served.url] if postbacks else []
        placed = enter(bridge)
        if not postbacks:
            sync(bridge)
        else:
            assert wait_for(lambda: outcomes(bridge)[-1:] == ["protected"]), outcomes(bridge)
        leg = next(r for r in fake_fyers.child_legs if r["type"] == 3)
        time.sleep(POSTBACK_SPACING if postbacks else 0)
        fake_fyers.set_ltp(placed["symbol"], float(leg["stopPrice"]) - 1)
        if not postbacks:
            sync(bridge)
        else:
            assert wait_for(lambda: "stop_hit" in outcomes(bridge)), outcomes(bridge)
        fake_fyers.postback_urls = []
    return outcomes(bridge)


@pytest.mark.timeout(60)
def test_the_sweep_alone_reaches_the_same_journal_as_postbacks_alone(make_bridge, fyers_settings, fake_fyers, tmp_path):
    journals = []
    for postbacks in (False, True):
        settings = fyers_settings.__class__(**{**vars(fyers_settings), "state_dir": str(tmp_path / f"p{postbacks}")})
        built = make_bridge(settings=settings)
        assert browser_login(built.client, fake_fyers).status_code == 200
        fake_fyers.reset()
        journals.append(run_day(built, fake_fyers, postbacks=postbacks))
    assert journals[0] == journals[1] == ["filled", "protected", "stop_hit"]


def test_orders_mode_places_a_stop_and_a_target_once_and_cancels_the_other(make_bridge, fyers_settings, fake_fyers):
    built = make_bridge(settings=fyers_settings, protection="orders")
    assert browser_login(built.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    placed = enter(built)
    (entry,) = fake_fyers.placed_orders()
    assert not entry.get("stopLoss") and "legType" not in entry  # nothing attached: the bridge's own orders follow
    assert placed["protection"]["mode"] == "orders"
    together(3, lambda _: built.client.application.test_client().post("/sync", headers=admin()))
    protection = fake_fyers.placed_orders()[1:]
    assert sorted(o["type"] for o in protection) == [1, 3]  # one limit target, one SL-M stop: each sent once
    stop = next(o for o in protection if o["type"] == 3)
    target = next(o for o in protection if o["type"] == 1)
    assert stop["stopPrice"] == placed["sl"] and target["limitPrice"] == placed["tp"]
    assert {o["side"] for o in protection} == {-1} and {o["qty"] for o in protection} == {65}
    fake_fyers.set_ltp(placed["symbol"], placed["tp"] + 1)
    sync(built)
    assert outcomes(built)[-1] == "target_hit"
    (stop_now,) = [o for o in fake_fyers.orders if o["id"] == stop["id"]]
    assert stop_now["status"] == 1  # the bridge cancelled the stop: no stop left on a flat position
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)


def test_protection_that_cannot_be_placed_closes_the_position_when_asked(make_bridge, fyers_settings, fake_fyers):
    phone = Phone()
    built = make_bridge(settings=fyers_settings, channels=[phone], protection="orders", protection_failure="exit")
    assert browser_login(built.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    enter(built)
    fake_fyers.reject_next_order("RED:Stop price is beyond the circuit", times=2)
    sync(built)
    assert "protection_failed" in outcomes(built)
    assert [n.kind for n in phone.received].count("protection_failed") >= 1
    assert any("CLOSED because it could not be protected" in n.text for n in phone.received)
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)


def test_positions_and_the_day_summary_use_fyers_figures(bridge, fake_fyers, phone):
    placed = enter(bridge)
    sync(bridge)
    fake_fyers.set_ltp(placed["symbol"], placed["ltp"] + 10)
    time.sleep(POSITIONS_FRESH_FOR)  # the sweep's positions read is shared that long
    view = bridge.client.get("/positions", headers=admin())
    assert view.status_code == 200
    (row,) = view.json["positions"]
    fyers_row = next(p for p in fake_fyers.positions if p["symbol"] == placed["symbol"])
    assert row["unrealized"] == fyers_row["unrealized_profit"] and row["pl"] == fyers_row["pl"]
    assert row["protection"][0]["mode"] == "legs" and view.json["pl"] == fyers_row["pl"]
    assert bridge.client.get("/positions").status_code == 401
    summary = bridge.client.post("/day-summary", headers=admin())
    assert summary.status_code == 200 and summary.json["trades"] == 1 and summary.json["open_positions"] == 1
    (told,) = [n for n in phone.received if n.kind == "day_summary"]
    assert "1 open position" in told.text and "429s 0" in told.text


def test_the_whole_lifecycle_on_the_paper_broker(make_bridge):
    built = make_bridge(notify_on="all")
    placed = enter(built)
    assert placed["protection"]["mode"] == "legs"
    assert sync(built)["followed"] == 1
    moved = built.client.post(
        "/admin/paper/price", json={"symbol": placed["symbol"], "price": placed["sl"] - 1}, headers=admin()
    )
    assert moved.status_code == 200 and moved.json["filled"], moved.json
    sync(built)
    assert outcomes(built) == ["filled", "protected", "stop_hit"]
    (hit,) = [r for r in trade_records(built) if str(r["outcome"]) == "stop_hit"]
    assert Decimal(str(hit["trade"]["pnl"])) == (Decimal(str(placed["sl"] - 1)) - Decimal(str(placed["ltp"]))) * 65
    assert sync(built)["followed"] == 0  # closed: nothing left to follow, no broker call
