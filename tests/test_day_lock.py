"""The day's money, against the fake Fyers with moving prices: loss and profit lines lock new entries.

A loss past MAX_DAILY_LOSS (Fyers's own `pl`, realized plus unrealized) refuses the next entry
with a 422 naming the rule while exits stay allowed; LOCK_ACTION=close flattens the bridge's
book once, however many instances sweep together; the lock lifts the next day, or by an admin.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.domain.contracts import IST
from tests.concurrency import together
from tests.conftest import ADMIN, browser_login, seed_alert, send_alert
from tests.test_login_binding import Phone

SYMBOL = "NSE:NIFTY26NOV26000CE"  # seed_alert's contract on the test clock


def admin():
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def locked_bridge(make_bridge, fyers_settings, fake_fyers, phone):
    def build(**overrides):
        built = make_bridge(settings=fyers_settings, channels=[phone], max_daily_loss=Decimal(1000), **overrides)
        assert browser_login(built.client, fake_fyers).status_code == 200
        fake_fyers.reset()
        return built

    return build


def enter(bridge, key: str, **overrides):
    return send_alert(bridge.client, seed_alert(idempotency_key=key, **overrides))


def lose(fake, placed, rupees_per_contract: float):
    """Move the contract's price against the long position, staying above its stop."""
    fake.set_ltp(placed["symbol"], placed["ltp"] - rupees_per_contract)


def exits_at(fake) -> list:
    return [c for c in fake.calls if (c.path, c.method) == ("positions", "DELETE")]


def test_a_loss_past_the_line_refuses_the_next_entry_and_allows_exits(locked_bridge, fake_fyers, phone):
    bridge = locked_bridge()
    first = enter(bridge, "first")
    assert first.status_code == 200, first.json
    lose(fake_fyers, first.json, 20)  # 20 x 65 = Rs 1,300 down: past Rs 1,000
    refused = enter(bridge, "second", strikeprice=26100)
    assert refused.status_code == 422, refused.json
    assert refused.json["rule"] == "MAX_DAILY_LOSS" and "-₹1,300.00" in refused.json["message"]
    assert len(fake_fyers.placed_orders()) == 1  # nothing sent for the refused entry
    (told,) = [n for n in phone.received if n.kind == "day_locked"]
    assert "MAX_DAILY_LOSS" in told.text
    again = enter(bridge, "third", strikeprice=26200)
    assert again.status_code == 422 and again.json["rule"] == "MAX_DAILY_LOSS"  # the lock holds, told once
    assert [n.kind for n in phone.received].count("day_locked") == 1
    out = send_alert(bridge.client, seed_alert(action="EXIT", qty=None, sl=None, tp=None, idempotency_key="out"))
    assert out.status_code == 200, out.json  # exits stay allowed


def test_a_loss_within_the_line_trades_on(locked_bridge, fake_fyers):
    bridge = locked_bridge()
    first = enter(bridge, "first")
    lose(fake_fyers, first.json, 10)  # Rs 650 down
    assert enter(bridge, "second", strikeprice=26100).status_code == 200


def test_the_sweep_locks_and_closes_the_book_once_across_two_instances(
    make_bridge, fyers_settings, fake_fyers, phone
):
    one = make_bridge(settings=fyers_settings, channels=[phone], max_daily_loss=Decimal(1000), lock_action="close")
    assert browser_login(one.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    two = make_bridge(settings=fyers_settings, max_daily_loss=Decimal(1000), lock_action="close")  # same state
    a = enter(one, "a").json
    enter(two, "b", strikeprice=26100)
    lose(fake_fyers, a, 25)
    answers = together(2, lambda i: (one, two)[i].app.test_client().post("/sync", headers=admin()))
    assert all(a.status_code == 200 for a in answers), [a.json for a in answers]
    assert sum(1 for a in answers if a.json["day"].get("closed")) == 1  # one instance closed the book
    assert sorted(c.body["id"] for c in exits_at(fake_fyers)) == [
        f"{SYMBOL}-INTRADAY", "NSE:NIFTY26NOV26100CE-INTRADAY"
    ]
    assert all(p["netQty"] == 0 for p in fake_fyers.positions)
    for bridge in (one, two):
        assert bridge.client.post("/sync", headers=admin()).status_code == 200
    assert len(exits_at(fake_fyers)) == 2  # later sweeps close nothing again
    assert [n.kind for n in phone.received].count("day_locked") == 1


def test_a_profit_lock_and_the_trail(locked_bridge, fake_fyers):
    bridge = locked_bridge(daily_profit_lock=Decimal(2000))
    first = enter(bridge, "first")
    fake_fyers.set_ltp(first.json["symbol"], first.json["ltp"] + 35)  # +Rs 2,275
    refused = enter(bridge, "second", strikeprice=26100)
    assert refused.status_code == 422 and refused.json["rule"] == "DAILY_PROFIT_LOCK"


def test_the_trail_locks_in_profit_after_it_was_reached(locked_bridge, fake_fyers):
    bridge = locked_bridge(profit_trail_from=Decimal(1500), profit_trail_keep=Decimal(500))
    first = enter(bridge, "first")
    fake_fyers.set_ltp(first.json["symbol"], first.json["ltp"] + 30)  # +Rs 1,950: the trail is armed
    assert enter(bridge, "second", strikeprice=26100).status_code == 200
    fake_fyers.set_ltp(first.json["symbol"], first.json["ltp"] + 5)  # back to about +Rs 325 on the first
    fake_fyers.set_ltp("NSE:NIFTY26NOV26100CE", fake_fyers.ltp("NSE:NIFTY26NOV26100CE"))
    refused = enter(bridge, "third", strikeprice=26200)
    assert refused.status_code == 422 and refused.json["rule"] == "PROFIT_TRAIL", refused.json


def test_the_lock_lifts_the_next_day_and_by_an_admin(locked_bridge, fake_fyers, clock, phone):
    bridge = locked_bridge()
    first = enter(bridge, "first")
    lose(fake_fyers, first.json, 20)
    assert enter(bridge, "second", strikeprice=26100).status_code == 422
    status = bridge.client.get("/admin/status", headers=admin()).json
    assert "MAX_DAILY_LOSS" in str(status)
    lifted = bridge.client.post("/admin/unlock", headers=admin())
    assert lifted.status_code == 200 and lifted.json["status"] == "lifted"
    assert bridge.client.post("/admin/unlock").status_code == 401
    assert enter(bridge, "third", strikeprice=26100).status_code == 200  # lifted for the rest of the day
    assert any(n.kind == "day_lock_lifted" for n in phone.received)
    day = bridge.services.journal.day(clock.now().astimezone(IST).date())
    locks = [str(r["outcome"]) for r in day if str(r["alert_id"]).startswith("lock-")]
    assert locks == ["day_locked", "day_lock_lifted"]
    # A lock written yesterday no longer applies today.
    lose(fake_fyers, first.json, 25)
    bridge.services.controls.swap_switch(
        lambda data: {**(data or {}), "paused": True, "rule": "MAX_DAILY_LOSS", "reason": "yesterday",
                      "day": (clock.now().astimezone(IST).date() - timedelta(days=1)).isoformat(), "lifted": None}
    )
    refused = enter(bridge, "fourth", strikeprice=26200)
    assert refused.json.get("rule") == "MAX_DAILY_LOSS" and "yesterday" not in refused.json["message"]


def test_the_console_shows_the_lock_and_resuming_lifts_it(locked_bridge, fake_fyers, phone):
    bridge = locked_bridge()
    first = enter(bridge, "first")
    lose(fake_fyers, first.json, 20)
    assert enter(bridge, "second", strikeprice=26100).status_code == 422
    client = bridge.app.test_client()
    https = "https://bridge.test"  # the console's cookie is Secure
    assert client.post("/console/login", data={"admin_token": ADMIN}, base_url=https).status_code == 303
    page = client.get("/console", base_url=https).get_data(as_text=True)
    assert "Day LOCKED by MAX_DAILY_LOSS" in page
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/console/resume", data={"csrf_token": csrf}, base_url=https).status_code == 303
    assert any(n.kind == "day_lock_lifted" and "the console" in n.text for n in phone.received)
    assert enter(bridge, "third", strikeprice=26200).status_code == 200
