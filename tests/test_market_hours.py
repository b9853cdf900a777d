"""Market hours with a fixed clock: sessions, holidays, the broker's word, AMO, the queue, staleness."""

from __future__ import annotations

import json
import threading
from datetime import datetime, time, timedelta, timezone

import pytest

from app.adapters.symbol_master import synthetic_master_csv
from app.domain.calendar import TradingCalendar
from app.domain.contracts import IST
from app.domain.session import TradingSession
from tests.conftest import admin_headers, browser_login, fyers_settings_for, seed_alert, send_alert

SESSION = TradingSession(time(9, 15), time(15, 40))

WEDNESDAY_10 = datetime(2026, 11, 18, 10, 0, tzinfo=IST)
WEDNESDAY_16 = datetime(2026, 11, 18, 16, 0, tzinfo=IST)
WEDNESDAY_18 = datetime(2026, 11, 18, 18, 0, tzinfo=IST)
THURSDAY_0900 = datetime(2026, 11, 19, 9, 0, tzinfo=IST)
THURSDAY_0920 = datetime(2026, 11, 19, 9, 20, tzinfo=IST)
SATURDAY_11 = datetime(2026, 11, 21, 11, 0, tzinfo=IST)
HOLIDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=IST)  # Guru Nanak Jayanti, an NSE holiday


@pytest.fixture
def market(fyers, clock):
    def build(instant, **overrides):
        clock.instant = WEDNESDAY_10  # log in while the market is open
        client, services = fyers(market_hours_check=True, **overrides)
        clock.instant = instant
        return client, services

    return build


def test_a_weekday_during_market_hours_places(market, fake_fyers):
    client, _ = market(WEDNESDAY_10)
    assert send_alert(client, seed_alert()).status_code == 200
    assert len(fake_fyers.placed_orders()) == 1


@pytest.mark.parametrize(
    "instant, why",
    [(WEDNESDAY_16, "after the 15:40 close"), (THURSDAY_0900, "before the 09:15 open"),
     (SATURDAY_11, "weekend"), (HOLIDAY_11, "NSE holiday")],
)
def test_closed_market_is_refused_by_default(market, fake_fyers, instant, why):
    client, _ = market(instant)
    response = send_alert(client, seed_alert(expiry="MONTHLY"))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "market_closed" and why in response.json["message"]
    assert fake_fyers.count("orders/sync") == 0


def test_the_broker_reporting_closed_on_a_trading_day_wins(market, fake_fyers):
    client, _ = market(WEDNESDAY_10)
    fake_fyers.market_open = False
    response = send_alert(client, seed_alert())
    assert response.status_code == 422 and "Fyers reports" in response.json["message"]
    assert fake_fyers.count("orders/sync") == 0


def test_amo_inside_the_window_is_placed_offline(market, fake_fyers):
    client, _ = market(WEDNESDAY_18, market_closed_policy="amo")
    fake_fyers.market_open = False
    response = send_alert(client, seed_alert())
    assert response.status_code == 200, response.json
    assert response.json["amo"] is True
    [order] = fake_fyers.orders
    assert order["offlineOrder"] is True


def test_amo_outside_the_window_is_refused(market, fake_fyers):
    client, _ = market(THURSDAY_0900, market_closed_policy="amo")
    response = send_alert(client, seed_alert())
    assert response.status_code == 422 and "AMO" in response.json["message"]
    assert fake_fyers.count("orders/sync") == 0


@pytest.mark.timeout(60)
def test_queued_alert_is_placed_once_by_two_concurrent_drains(market, fake_fyers, clock):
    client, services = market(WEDNESDAY_18, market_closed_policy="queue")
    queued = send_alert(client, seed_alert())
    assert queued.status_code == 202 and queued.json["status"] == "queued"
    assert queued.json["runs_at"].startswith("2026-11-19T09:15")
    [entry] = client.get("/queue", headers=admin_headers()).json["queue"]
    assert "token" not in entry["payload"]
    assert send_alert(client, seed_alert()).json["status"] == "queued"  # a resend: the same answer

    # Scheduler at 09:15: two calls at once (two instances) drain it exactly once.
    clock.instant = THURSDAY_0920
    app = client.application
    results, barrier = [], threading.Barrier(2)

    def drain():
        drain_client = app.test_client()
        barrier.wait(timeout=10)
        results.append(drain_client.post("/process-queue", headers=admin_headers()).json["processed"])

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(fake_fyers.placed_orders()) == 1
    assert client.get("/queue", headers=admin_headers()).json["queue"] == []
    after = send_alert(client, seed_alert())  # the original key now tells what happened
    assert after.status_code == 200 and after.json["status"] == "placed"


def test_a_queued_alert_is_checked_again_and_can_be_cancelled(market, fake_fyers, clock):
    client, _ = market(WEDNESDAY_18, market_closed_policy="queue")
    first = send_alert(client, seed_alert(idempotency_key="q1"))
    send_alert(client, seed_alert(idempotency_key="q2", strikeprice=26100))
    assert client.delete(f"/queue/{first.json['queue_id']}", headers=admin_headers()).status_code == 200
    assert client.delete("/queue/nope", headers=admin_headers()).status_code == 404
    clock.instant = THURSDAY_0900  # still closed: it stays queued
    processed = client.post("/process-queue", headers=admin_headers()).json["processed"]
    assert processed[0]["status"] == "still_queued"
    clock.instant = THURSDAY_0920 + timedelta(days=8)  # past its 18-hour age limit
    expired = client.post("/process-queue", headers=admin_headers()).json["processed"]
    assert expired[0]["status"] == "stale"
    assert fake_fyers.count("orders/sync") == 0


def test_a_stale_alert_is_refused(make_bridge, clock):
    bridge = make_bridge(max_alert_age_seconds=60)
    client = bridge.client
    now = clock.now().astimezone(timezone.utc)
    old = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = (now - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = send_alert(client, seed_alert(timenow=old))
    assert stale.status_code == 422 and stale.json["status"] == "stale"
    assert stale.json["rule"] == "MAX_ALERT_AGE_SECONDS"
    assert send_alert(client, seed_alert(time=fresh, idempotency_key="fresh")).status_code == 200
    bad = send_alert(client, seed_alert(timenow="yesterday", idempotency_key="bad"))
    assert bad.status_code == 400 and bad.json["field"] == "timenow"
    assert len(bridge.paper.orders) == 1


def test_weekly_moves_on_at_the_1540_close_on_expiry_day(client, clock):
    clock.instant = datetime(2026, 11, 23, 15, 39, tzinfo=IST)
    assert send_alert(client, seed_alert(idempotency_key="a")).json["expiry"] == "2026-11-23"
    clock.instant = datetime(2026, 11, 23, 15, 40, tzinfo=IST)  # the 23rd's contracts stopped at 15:40
    response = send_alert(client, seed_alert(idempotency_key="b"))
    assert response.status_code == 200 and response.json["expiry"] == "2026-12-01"


def test_calendar_sessions():
    calendar = TradingCalendar({datetime(2026, 11, 24).date()}, SESSION)
    assert calendar.state(WEDNESDAY_10).open
    assert calendar.state(datetime(2026, 11, 18, 15, 39, tzinfo=IST)).open
    at_close = calendar.state(datetime(2026, 11, 18, 15, 40, tzinfo=IST))
    assert not at_close.open and at_close.reason == "market closed: after the 15:40 close IST"
    between = datetime(2026, 11, 18, 15, 50, tzinfo=IST)  # closed, and before the AMO window
    assert not calendar.state(between).open and not calendar.state(between).amo_window
    assert calendar.state(datetime(2026, 11, 18, 15, 55, tzinfo=IST)).amo_window
    assert calendar.state(WEDNESDAY_16).amo_window
    assert calendar.state(WEDNESDAY_18).amo_window and not calendar.state(THURSDAY_0900).amo_window
    assert calendar.state(HOLIDAY_11).amo_window
    assert calendar.next_open(datetime(2026, 11, 23, 16, 0, tzinfo=IST)) == datetime(2026, 11, 25, 9, 15, tzinfo=IST)


def test_the_calendar_follows_the_session_it_is_given():
    # Whatever the master states: a 15:30 close (as before 3 Aug 2026) closes at 15:30.
    earlier = TradingCalendar((), TradingSession(time(9, 15), time(15, 30)))
    state = earlier.state(datetime(2026, 11, 18, 15, 35, tzinfo=IST))
    assert not state.open and "after the 15:30 close" in state.reason
    assert earlier.state(datetime(2026, 11, 18, 15, 45, tzinfo=IST)).amo_window


# -- the 15:40 close, end to end: the session comes from the master ----------------------

EXPIRY_TUESDAY_1535 = datetime(2026, 12, 1, 15, 35, tzinfo=IST)  # a NIFTY weekly expiry, a trading day
EXPIRY_TUESDAY_1545 = datetime(2026, 12, 1, 15, 45, tzinfo=IST)
AFTER_THE_HOLIDAY_0916 = datetime(2026, 11, 25, 9, 16, tzinfo=IST)  # Tuesday 24 Nov was a holiday
TODAYS_WEEKLY = "NSE:NIFTY26D0126000CE"


@pytest.fixture(params=["paper", "fyers"])
def bridge_at(request, tmp_path, clock, make_bridge):
    """A bridge with the market-hours check on, built and logged in at `instant`: paper or the fake Fyers."""
    built = []

    def build(instant, **overrides):
        clock.instant = instant
        state_dir = tmp_path / f"var{len(built)}"
        built.append(state_dir)
        if request.param == "paper":
            return make_bridge(state_dir=str(state_dir), market_hours_check=True, **overrides).client
        fake = request.getfixturevalue("fake_fyers")
        fake.access_token_ttl = 400 * 86400  # the fixed clock runs ahead of the fake's real one
        client = make_bridge(settings=fyers_settings_for(fake, state_dir, market_hours_check=True, **overrides)).client
        assert browser_login(client, fake).status_code == 200
        return client

    build.broker = request.param
    return build


def entry_and_exit(client):
    entry = send_alert(client, seed_alert(idempotency_key="entry-1"))
    exit_ = send_alert(client, seed_alert(action="EXIT", qty=None, sl=None, tp=None, idempotency_key="exit-1"))
    return entry, exit_


def test_at_1535_on_expiry_day_a_weekly_entry_and_an_exit_trade_that_days_contract(bridge_at):
    client = bridge_at(EXPIRY_TUESDAY_1535)
    entry, exit_ = entry_and_exit(client)
    assert entry.status_code == 200, entry.json
    assert (entry.json["symbol"], entry.json["expiry"]) == (TODAYS_WEEKLY, "2026-12-01")
    assert exit_.status_code == 200, exit_.json
    # The entry is protected (PROTECTION=legs): its exit is Fyers's exit-position call, "closed".
    assert TODAYS_WEEKLY in json.dumps(exit_.json) and exit_.json["status"] == "closed"


def test_at_1545_on_expiry_day_both_are_refused_as_closed(bridge_at, request):
    client = bridge_at(EXPIRY_TUESDAY_1545)
    if bridge_at.broker == "fyers":
        request.getfixturevalue("fake_fyers").market_open = False  # as Fyers says after the close
    for response in entry_and_exit(client):
        assert response.status_code == 422, response.json
        assert response.json["status"] == "market_closed"
        assert "after the 15:40 close" in response.json["message"]
    if bridge_at.broker == "fyers":
        assert request.getfixturevalue("fake_fyers").count("orders/sync") == 0


def test_at_1545_an_amo_waits_for_the_window_15_minutes_after_the_close(bridge_at, clock):
    client = bridge_at(EXPIRY_TUESDAY_1545, market_closed_policy="amo")
    early = send_alert(client, seed_alert(idempotency_key="amo-early"))
    assert early.status_code == 422 and "AMO" in early.json["message"], early.json
    clock.instant = datetime(2026, 12, 1, 15, 55, tzinfo=IST)
    amo = send_alert(client, seed_alert(idempotency_key="amo-on-time"))
    assert amo.status_code == 200 and amo.json["amo"] is True, amo.json
    assert amo.json["expiry"] == "2026-12-08"  # the 1st's contracts stopped at 15:40


def test_at_1545_with_the_queue_policy_both_are_queued_for_the_next_open(bridge_at):
    client = bridge_at(EXPIRY_TUESDAY_1545, market_closed_policy="queue")
    for response in entry_and_exit(client):
        assert response.status_code == 202 and response.json["status"] == "queued", response.json
        assert response.json["runs_at"].startswith("2026-12-02T09:15")


def test_at_0916_after_a_holiday_the_weekly_trades(bridge_at):
    client = bridge_at(AFTER_THE_HOLIDAY_0916)
    response = send_alert(client, seed_alert())
    assert response.status_code == 200, response.json
    assert response.json["expiry"] == "2026-12-01"


# -- marketStatus, as Fyers really answers it ---------------------------------------------


def test_an_alert_costs_at_most_one_market_status_call_per_30_seconds(market, fake_fyers):
    # The fake answers like the reference's sample: `code` and `marketStatus`, no top-level `s`.
    client, _ = market(WEDNESDAY_10)
    for key in ("a", "b", "c"):
        assert send_alert(client, seed_alert(idempotency_key=key)).status_code == 200
    assert fake_fyers.count("marketStatus") == 1
    assert len(fake_fyers.placed_orders()) == 3


def test_a_market_status_answer_that_says_nothing_is_kept_like_any_other(market, fake_fyers):
    client, _ = market(WEDNESDAY_10)
    fake_fyers.market_status_rows = [{"exchange": 10, "segment": 10, "market_type": "NORMAL", "status": "OPEN"}]
    for key in ("a", "b", "c"):
        assert send_alert(client, seed_alert(idempotency_key=key)).status_code == 200  # the calendar decides
    assert fake_fyers.count("marketStatus") == 1


@pytest.mark.parametrize("status", ["CLOSE", "CLOSED", "POSTCLOSE_START", "POSTCLOSE_CLOSED", "PREOPEN_CLOSED"])
def test_fyers_saying_closed_in_any_of_its_words_wins(market, fake_fyers, status):
    client, _ = market(WEDNESDAY_10)
    fake_fyers.market_status_rows = [
        {"exchange": 10, "segment": 11, "market_type": "AUCTION", "status": "OPEN"},  # not the normal market
        {"exchange": 10, "segment": 11, "market_type": "NORMAL", "status": status},
    ]
    response = send_alert(client, seed_alert())
    assert response.status_code == 422 and "Fyers reports" in response.json["message"], response.json
    assert fake_fyers.count("orders/sync") == 0


def _bridge_over_master(make_bridge, tmp_path, csv_text):
    """A paper bridge with the market-hours check on, over a master file holding `csv_text`."""
    path = tmp_path / "NSE_FO.csv"
    path.write_text(csv_text)
    return make_bridge(symbol_master_url=str(path), market_hours_check=True).client


def test_the_market_closes_when_the_masters_session_says(make_bridge, tmp_path, clock):
    clock.instant = datetime(2026, 11, 18, 15, 35, tzinfo=IST)
    text = synthetic_master_csv(clock.instant.date()).replace("0915-1540|", "0915-1530|")
    response = send_alert(_bridge_over_master(make_bridge, tmp_path, text), seed_alert())
    assert response.status_code == 422 and "after the 15:30 close" in response.json["message"], response.json


def test_a_master_stating_no_session_falls_back_to_1540_with_a_warning(make_bridge, tmp_path, clock, caplog):
    clock.instant = datetime(2026, 11, 18, 15, 35, tzinfo=IST)
    text = synthetic_master_csv(clock.instant.date()).replace("0915-1540|1815-1915:", "")
    with caplog.at_level("WARNING"):
        client = _bridge_over_master(make_bridge, tmp_path, text)
    assert any(getattr(record, "event", "") == "session_assumed" for record in caplog.records)
    assert send_alert(client, seed_alert()).status_code == 200
    clock.instant = datetime(2026, 11, 18, 15, 40, tzinfo=IST)
    closed = send_alert(client, seed_alert(idempotency_key="later"))
    assert closed.status_code == 422 and "after the 15:40 close" in closed.json["message"]
