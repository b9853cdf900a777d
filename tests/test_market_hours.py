"""Market hours with a fixed clock: sessions, holidays, the broker's word, AMO, the queue, staleness."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from app import create_app
from app.bootstrap import bootstrap
from app.domain.calendar import TradingCalendar
from app.domain.contracts import IST
from tests.conftest import admin_headers, browser_login, seed_alert

WEDNESDAY_10 = datetime(2026, 11, 18, 10, 0, tzinfo=IST)
WEDNESDAY_16 = datetime(2026, 11, 18, 16, 0, tzinfo=IST)
WEDNESDAY_18 = datetime(2026, 11, 18, 18, 0, tzinfo=IST)
THURSDAY_0900 = datetime(2026, 11, 19, 9, 0, tzinfo=IST)
THURSDAY_0920 = datetime(2026, 11, 19, 9, 20, tzinfo=IST)
SATURDAY_11 = datetime(2026, 11, 21, 11, 0, tzinfo=IST)
HOLIDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=IST)  # Guru Nanak Jayanti, an NSE holiday


@pytest.fixture
def market(fyers_settings, clock, fake_fyers):
    built = []

    def build(instant, **overrides):
        clock.instant = WEDNESDAY_10  # log in while the market is open
        settings = dataclasses.replace(fyers_settings, market_hours_check=True, **overrides)
        services = bootstrap(settings, clock)
        client = create_app(services=services).test_client()
        assert browser_login(client, fake_fyers).status_code == 200
        clock.instant = instant
        built.append(services)
        return client, services

    yield build
    for services in built:
        services.broker.close()


def post(client, payload):
    return client.post("/webhook", data=json.dumps(payload), content_type="application/json")


def test_a_weekday_during_market_hours_places(market, fake_fyers):
    client, _ = market(WEDNESDAY_10)
    assert post(client, seed_alert()).status_code == 200
    assert len(fake_fyers.placed_orders()) == 1


@pytest.mark.parametrize(
    "instant, why",
    [(WEDNESDAY_16, "after the 15:30 close"), (THURSDAY_0900, "before the 09:15 open"),
     (SATURDAY_11, "weekend"), (HOLIDAY_11, "NSE holiday")],
)
def test_closed_market_is_refused_by_default(market, fake_fyers, instant, why):
    client, _ = market(instant)
    response = post(client, seed_alert(expiry="MONTHLY"))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "market_closed" and why in response.json["message"]
    assert fake_fyers.count("orders/sync") == 0


def test_the_broker_reporting_closed_on_a_trading_day_wins(market, fake_fyers):
    client, _ = market(WEDNESDAY_10)
    fake_fyers.market_open = False
    response = post(client, seed_alert())
    assert response.status_code == 422 and "Fyers reports" in response.json["message"]
    assert fake_fyers.count("orders/sync") == 0


def test_amo_inside_the_window_is_placed_offline(market, fake_fyers):
    client, _ = market(WEDNESDAY_18, market_closed_policy="amo")
    fake_fyers.market_open = False
    response = post(client, seed_alert())
    assert response.status_code == 200, response.json
    assert response.json["amo"] is True
    [order] = fake_fyers.orders
    assert order["offlineOrder"] is True


def test_amo_outside_the_window_is_refused(market, fake_fyers):
    client, _ = market(THURSDAY_0900, market_closed_policy="amo")
    response = post(client, seed_alert())
    assert response.status_code == 422 and "AMO" in response.json["message"]
    assert fake_fyers.count("orders/sync") == 0


@pytest.mark.timeout(60)
def test_queued_alert_is_placed_once_by_two_concurrent_drains(market, fake_fyers, clock):
    client, services = market(WEDNESDAY_18, market_closed_policy="queue")
    queued = post(client, seed_alert())
    assert queued.status_code == 202 and queued.json["status"] == "queued"
    assert queued.json["runs_at"].startswith("2026-11-19T09:15")
    [entry] = client.get("/queue", headers=admin_headers()).json["queue"]
    assert "token" not in entry["payload"]
    assert post(client, seed_alert()).json["status"] == "queued"  # a resend: the same answer

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
    after = post(client, seed_alert())  # the original key now tells what happened
    assert after.status_code == 200 and after.json["status"] == "placed"


def test_a_queued_alert_is_checked_again_and_can_be_cancelled(market, fake_fyers, clock):
    client, _ = market(WEDNESDAY_18, market_closed_policy="queue")
    first = post(client, seed_alert(idempotency_key="q1"))
    post(client, seed_alert(idempotency_key="q2", strikeprice=26100))
    assert client.delete(f"/queue/{first.json['queue_id']}", headers=admin_headers()).status_code == 200
    assert client.delete("/queue/nope", headers=admin_headers()).status_code == 404
    clock.instant = THURSDAY_0900  # still closed: it stays queued
    processed = client.post("/process-queue", headers=admin_headers()).json["processed"]
    assert processed[0]["status"] == "still_queued"
    clock.instant = THURSDAY_0920 + timedelta(days=8)  # past its 18-hour age limit
    expired = client.post("/process-queue", headers=admin_headers()).json["processed"]
    assert expired[0]["status"] == "stale"
    assert fake_fyers.count("orders/sync") == 0


def test_a_stale_alert_is_refused(tmp_path, clock):
    from app.settings import Settings
    from tests.conftest import SECRET

    settings = Settings(webhook_secret_token=SECRET, state_dir=str(tmp_path), max_alert_age_seconds=60)
    services = bootstrap(settings, clock)
    client = create_app(services=services).test_client()
    now = clock.now().astimezone(timezone.utc)
    old = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = (now - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = post(client, seed_alert(timenow=old))
    assert stale.status_code == 422 and stale.json["status"] == "stale"
    assert stale.json["rule"] == "MAX_ALERT_AGE_SECONDS"
    assert post(client, seed_alert(time=fresh, idempotency_key="fresh")).status_code == 200
    bad = post(client, seed_alert(timenow="yesterday", idempotency_key="bad"))
    assert bad.status_code == 400 and bad.json["field"] == "timenow"
    assert len(services.broker.orders) == 1


def test_weekly_moves_on_after_1530_on_expiry_day(client, clock):
    clock.instant = datetime(2026, 11, 23, 15, 31, tzinfo=IST)  # the 23rd's contracts stopped at 15:30
    response = post(client, seed_alert())
    assert response.status_code == 200 and response.json["expiry"] == "2026-12-01"


def test_calendar_sessions():
    calendar = TradingCalendar({datetime(2026, 11, 24).date()})
    assert calendar.state(WEDNESDAY_10).open
    between = datetime(2026, 11, 18, 15, 35, tzinfo=IST)  # closed, and before the AMO window
    assert not calendar.state(between).open and not calendar.state(between).amo_window
    assert calendar.state(WEDNESDAY_16).amo_window
    assert calendar.state(WEDNESDAY_18).amo_window and not calendar.state(THURSDAY_0900).amo_window
    assert calendar.state(HOLIDAY_11).amo_window
    assert calendar.next_open(datetime(2026, 11, 23, 16, 0, tzinfo=IST)) == datetime(2026, 11, 25, 9, 15, tzinfo=IST)
