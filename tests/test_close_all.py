"""Issue 19, item 2: close everything, once; and the timed square-off.

Over real HTTP with the real SDK against the fake Fyers: positions are opened by alerts (each
INTRADAY entry carries its TP/SL legs at Fyers), then close-all cancels the bridge's working
orders and exits its positions. Run twice, run by two threads together, run by two instances
sharing one state store: one set of exits and cancels at Fyers.
"""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest
import requests

from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.orders import OrderRequest, Side
from app.settings import ConfigError, Settings
from tests.clock import FixedClock
from tests.concurrency import together
from tests.conftest import ADMIN, APP_ID, browser_login, send_alert
from tests.test_login_binding import Phone

HTTPS = "https://bridge.test"  # the console's cookie is Secure
SQUARE_OFF = time(15, 15)


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def bridge(make_bridge, fyers_settings, fake_fyers, phone):
    built = make_bridge(settings=fyers_settings, channels=[phone], square_off_at=SQUARE_OFF)
    assert browser_login(built.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    return built


def admin():
    return {"Authorization": f"Bearer {ADMIN}"}


def enter(bridge, key: str, strike: int = 26000) -> dict:
    answer = send_alert(bridge.client, idempotency_key=key, strikeprice=strike)
    assert answer.status_code == 200, answer.json
    return answer.json


def open_at_fyers(fake) -> list[dict]:
    return [p for p in fake.positions if p["netQty"]]


def working_at_fyers(fake) -> list[dict]:
    return [o for o in fake.orders + fake.child_legs if o["status"] in (4, 6)]


def sent(fake) -> tuple[int, int, int]:
    """Exits, cancels and new orders the fake has received."""
    return fake.count("positions", "DELETE"), fake.count("orders/sync", "DELETE"), fake.count("orders/sync", "POST")


def close_all(client, **body):
    return client.post("/admin/close-all", json={"confirm": True, **body}, headers=admin())


def exit_at_fyers_by_hand(fake, position_id: str) -> None:
    """The trader closes a position in Fyers's own app, leaving its legs working (no pending_orders_cancel)."""
    headers = {"Authorization": f"{APP_ID}:{fake.issue_token()}"}
    answer = requests.delete(f"{fake.api_base}/positions", json={"id": position_id}, headers=headers, timeout=5)
    assert answer.json()["s"] == "ok", answer.text


def test_close_all_cancels_orphaned_orders_and_exits_open_positions_once(bridge, fake_fyers, phone):
    kept = enter(bridge, "keep-1", 26000)
    closed_by_hand = enter(bridge, "hand-1", 26100)
    exit_at_fyers_by_hand(fake_fyers, f"{closed_by_hand['symbol']}-INTRADAY")
    orphans = sorted(o["id"] for o in working_at_fyers(fake_fyers) if o["symbol"] == closed_by_hand["symbol"])
    assert len(orphans) == 2  # its stop and target legs still work: either could open a naked position
    before = sent(fake_fyers)

    answer = close_all(bridge.client)

    assert answer.status_code == 200, answer.json
    summary = answer.json
    assert summary["status"] == "ok" and summary["scope"] == "bridge" and summary["errors"] == []
    assert sorted(summary["cancelled"]) == orphans
    assert [(e["position_id"], e["status"]) for e in summary["exits"]] == [(f"{kept['symbol']}-INTRADAY", "closed")]
    assert open_at_fyers(fake_fyers) == [] and working_at_fyers(fake_fyers) == []
    # One exit call; the kept position's legs went with it (pending_orders_cancel), not one by one.
    assert sent(fake_fyers) == (before[0] + 1, before[1] + 2, before[2])
    (told,) = [n for n in phone.received if n.kind == "close_all"]
    assert "CLOSE ALL" in told.text and kept["symbol"] in told.text
    day = bridge.services.journal.day(bridge.services.clock.now().astimezone(IST).date())
    assert [str(r["outcome"]) for r in day].count("close_all") == 1

    again = close_all(bridge.client)

    assert again.status_code == 200 and again.json["exits"] == [] and again.json["cancelled"] == []
    assert sent(fake_fyers) == (before[0] + 1, before[1] + 2, before[2])


def test_two_runs_together_send_one_set_of_exits(bridge, fake_fyers):
    enter(bridge, "race-1", 26000)
    enter(bridge, "race-2", 26100)
    before = sent(fake_fyers)
    closer = bridge.services.closer

    results = together(2, lambda i: closer.run("bridge", Deadline(20), f"race {i}"))

    assert not [r for r in results if isinstance(r, Exception)], results
    exits = [e for r in results for e in r["exits"]]
    assert sorted(e["status"] for e in exits) == ["closed", "closed"]
    assert sent(fake_fyers)[0] == before[0] + 2 and sent(fake_fyers)[2] == before[2]
    assert open_at_fyers(fake_fyers) == []


def test_two_instances_sharing_the_state_send_one_set_of_exits(bridge, make_bridge, fyers_settings, fake_fyers):
    enter(bridge, "inst-1", 26000)
    other = make_bridge(settings=fyers_settings, store=bridge.services.store)
    before = sent(fake_fyers)
    closers = [bridge.services.closer, other.services.closer]

    together(2, lambda i: closers[i].run("bridge", Deadline(20), "two instances"))

    assert sent(fake_fyers)[0] == before[0] + 1
    assert open_at_fyers(fake_fyers) == []


def test_a_pending_exit_is_not_sent_again_while_its_position_is_unchanged(bridge, fake_fyers):
    placed = enter(bridge, "slow-1")
    fake_fyers.leave_next_exit_unfilled()
    first = close_all(bridge.client).json
    assert [e["status"] for e in first["exits"]] == ["pending"]
    exits_sent = sent(fake_fyers)[0]

    second = close_all(bridge.client).json

    assert second["exits"] == [] and sent(fake_fyers)[0] == exits_sent
    assert [(s["position_id"], s["status"]) for s in second["skipped"]] == [(f"{placed['symbol']}-INTRADAY", "pending")]


def test_a_position_reopened_after_its_close_is_closed_again(bridge, fake_fyers):
    enter(bridge, "again-1")
    assert [e["status"] for e in close_all(bridge.client).json["exits"]] == ["closed"]
    enter(bridge, "again-2")  # the strategy enters the same contract again, the same size

    second = close_all(bridge.client).json

    assert [e["status"] for e in second["exits"]] == ["closed"] and open_at_fyers(fake_fyers) == []


def test_scope_all_also_closes_a_position_the_bridge_did_not_open(bridge, fake_fyers):
    placed = enter(bridge, "mine-1", 26000)
    theirs = placed["symbol"].replace("26000CE", "26000PE")
    bridge.services.broker.place_order(OrderRequest(theirs, 65, Side.BUY, "INTRADAY", tag=None), Deadline(5))
    assert len(open_at_fyers(fake_fyers)) == 2

    ours = close_all(bridge.client).json
    assert [e["position_id"] for e in ours["exits"]] == [f"{placed['symbol']}-INTRADAY"]
    assert [p["symbol"] for p in open_at_fyers(fake_fyers)] == [theirs]

    everything = close_all(bridge.client, scope="all").json

    assert [e["position_id"] for e in everything["exits"]] == [f"{theirs}-INTRADAY"]
    assert open_at_fyers(fake_fyers) == []


@pytest.mark.parametrize(
    "body, field",
    [
        (None, "confirm"),
        ({}, "confirm"),
        ({"confirm": "yes"}, "confirm"),
        ({"scope": "everything", "confirm": True}, "scope"),
    ],
)
def test_close_all_must_be_confirmed_and_scoped(bridge, fake_fyers, body, field):
    enter(bridge, "safe-1")
    answer = bridge.client.post("/admin/close-all", json=body, headers=admin())
    assert answer.status_code == 400 and answer.json["field"] == field, answer.json
    if field == "scope":
        assert answer.json["scope"] == "everything" and "everything" in answer.json["message"]
    assert len(open_at_fyers(fake_fyers)) == 1 and fake_fyers.count("positions", "DELETE") == 0


def test_close_all_needs_the_admin_token(bridge):
    assert bridge.client.post("/admin/close-all", json={"confirm": True}).status_code == 401


@pytest.mark.parametrize(
    "at, status",
    [
        (datetime(2026, 11, 18, 15, 14, tzinfo=IST), "not_yet"),
        (datetime(2026, 11, 24, 15, 30, tzinfo=IST), "not_a_trading_day"),  # an NSE holiday (a Tuesday)
        (datetime(2026, 11, 21, 15, 30, tzinfo=IST), "not_a_trading_day"),  # a Saturday
        (datetime(2026, 11, 18, 15, 15, tzinfo=IST), "ok"),
    ],
)
def test_the_square_off_runs_after_its_time_on_trading_days(make_bridge, fyers_settings, fake_fyers, at, status):
    clock = FixedClock(datetime(2026, 11, 18, 10, 0, tzinfo=IST))
    built = make_bridge(settings=fyers_settings, clock=clock, square_off_at=SQUARE_OFF, market_hours_check=True)
    assert browser_login(built.client, fake_fyers).status_code == 200
    fake_fyers.reset()
    enter(built, "sq-1")
    clock.instant = at

    answer = built.client.post("/square-off", headers=admin())

    assert answer.status_code == 200 and answer.json["status"] == status, answer.json
    assert len(open_at_fyers(fake_fyers)) == (0 if status == "ok" else 1)
    if status == "ok":
        assert answer.json["reason"] == "square-off"


def test_the_square_off_is_refused_when_not_configured(fyers):
    client, _ = fyers()
    answer = client.post("/square-off", headers=admin())
    assert answer.status_code == 409 and "SQUARE_OFF_AT" in answer.json["message"]


def test_the_console_asks_before_it_closes_everything(bridge, fake_fyers):
    placed = enter(bridge, "console-1")
    client = bridge.client
    assert client.post("/console/login", data={"admin_token": ADMIN}, base_url=HTTPS).status_code == 303
    console = client.get("/console", base_url=HTTPS).get_data(as_text=True)
    assert 'action="/console/close-all"' in console

    page = client.get("/console/close-all", base_url=HTTPS)

    assert page.status_code == 200 and len(open_at_fyers(fake_fyers)) == 1  # asking sends nothing
    text = page.get_data(as_text=True)
    assert f"{placed['symbol']}-INTRADAY" in text and "Yes, close everything" in text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    forged = client.post("/console/close-all", data={"csrf_token": "forged"}, base_url=HTTPS)
    assert forged.status_code == 403 and len(open_at_fyers(fake_fyers)) == 1

    done = client.post("/console/close-all", data={"csrf_token": csrf}, base_url=HTTPS)

    assert done.status_code == 303 and done.headers["Location"].endswith("/console")
    assert open_at_fyers(fake_fyers) == []


def test_the_confirmation_page_needs_a_console_session(bridge):
    assert bridge.client.get("/console/close-all", base_url=HTTPS).status_code == 303
    assert bridge.client.post("/console/close-all", data={}, base_url=HTTPS).status_code == 401


def test_close_all_on_the_paper_broker(paper_bridge):
    assert send_alert(paper_bridge.client, idempotency_key="paper-1").status_code == 200
    paper = paper_bridge.services.broker
    assert [p for p in paper.positions(Deadline(1)) if p.net_qty]

    summary = close_all(paper_bridge.client).json

    assert [e["status"] for e in summary["exits"]] == ["closed"]
    assert not [p for p in paper.positions(Deadline(1)) if p.net_qty]
    assert close_all(paper_bridge.client).json["exits"] == []


@pytest.mark.parametrize("value", ["25:00", "15:60", "3pm", "15.15", "1515"])
def test_square_off_at_is_a_time_of_day(value):
    assert Settings.from_env({"SQUARE_OFF_AT": "15:15"}).square_off_at == time(15, 15)
    assert Settings.from_env({}).square_off_at is None
    with pytest.raises(ConfigError, match="SQUARE_OFF_AT must be a time of day as HH:MM"):
        Settings.from_env({"SQUARE_OFF_AT": value})
