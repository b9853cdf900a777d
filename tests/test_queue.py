"""The queue never loses an alert: every entry ends placed, failed, expired or cancelled, once.

MARKET_CLOSED_POLICY=queue with the market-hours check on, against the fake Fyers through the
real SDK. Alerts are queued in the evening (20:00 IST) and drained at 09:15:30 the next
trading morning, far from the close so that these tests do not depend on it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from app.deadline import Deadline
from app.domain.alert import parse_message
from app.domain.contracts import IST
from app.services.record import AlertRecord
from tests.conftest import admin_headers, browser_login, seed_alert

WEDNESDAY_10 = datetime(2026, 11, 18, 10, 0, tzinfo=IST)
TUESDAY_20 = datetime(2026, 11, 17, 20, 0, tzinfo=IST)
WEDNESDAY_20 = datetime(2026, 11, 18, 20, 0, tzinfo=IST)
THURSDAY_OPEN = datetime(2026, 11, 19, 9, 15, 30, tzinfo=IST)  # the Scheduler's drain


@pytest.fixture
def bridge(make_bridge, fyers_settings, clock, fake_fyers):
    """Build the service with the queue policy; log in (at 10:00 Wednesday) unless told not to."""

    def build(login: bool = True, **overrides):
        clock.instant = WEDNESDAY_10
        built = make_bridge(
            settings=fyers_settings, market_hours_check=True, market_closed_policy="queue", **overrides
        )
        if login:
            assert browser_login(built.client, fake_fyers).status_code == 200
        return built.client, built.services

    return build


def queue_alert(client, **overrides) -> str:
    response = client.post("/webhook", data=json.dumps(seed_alert(**overrides)), content_type="application/json")
    assert response.status_code == 202 and response.json["status"] == "queued", response.json
    return response.json["queue_id"]


def drain(client) -> list[dict]:
    response = client.post("/process-queue", headers=admin_headers())
    assert response.status_code == 200, response.json
    return response.json["processed"]


def listing(client) -> dict:
    response = client.get("/queue", headers=admin_headers())
    assert response.status_code == 200
    return response.json


def queue_notifications(services) -> list[str]:
    return sorted(n["kind"] for n in services.notifications.recent() if n["kind"].startswith("queue_"))


def test_a_drain_at_the_open_without_login_keeps_the_alert_and_the_next_places_it_once(bridge, fake_fyers, clock):
    client, services = bridge(login=False)
    clock.instant = WEDNESDAY_20
    queue_id = queue_alert(client)

    clock.instant = THURSDAY_OPEN  # nobody has logged in to Fyers yet today
    [first] = drain(client)
    assert first["status"] == "login_required" and first["http_status"] == 503, first
    [entry] = listing(client)["queue"]
    assert entry["id"] == queue_id and entry["state"] == "queued"
    assert entry["attempts"] == 1 and entry["last_reason"].startswith("login_required: ")
    assert fake_fyers.count("orders/sync") == 0

    clock.instant = THURSDAY_OPEN + timedelta(minutes=3)
    assert browser_login(client, fake_fyers).status_code == 200
    [second] = drain(client)
    assert second["status"] == "placed" and second["attempts"] == 2, second
    assert drain(client) == []  # nothing left: a third drain places nothing
    [order] = fake_fyers.placed_orders()
    assert fake_fyers.count("orders/sync") == 1
    shown = listing(client)
    assert shown["queue"] == []
    [ended] = shown["ended"]
    assert ended["state"] == "placed" and ended["attempts"] == 2
    assert ended["answer"]["order_id"] == order["id"]
    resend = client.post("/webhook", data=json.dumps(seed_alert()), content_type="application/json")
    assert resend.status_code == 200 and resend.json["order_id"] == order["id"]  # the key tells what happened
    assert queue_notifications(services) == ["queue_placed"]


@pytest.mark.parametrize(
    "path, fault",
    [("quotes", {"kind": "status", "status": 503}), ("quotes", {"kind": "reset_before"})],
    ids=["http-503", "connection-reset"],
)
def test_a_drain_that_finds_fyers_down_puts_the_entry_back(bridge, fake_fyers, clock, path, fault):
    client, services = bridge()
    clock.instant = WEDNESDAY_20
    queue_alert(client)
    clock.instant = THURSDAY_OPEN
    fake_fyers.add_fault(path, times=None, **fault)
    [first] = drain(client)
    assert first["http_status"] == 503 and first["status"] == "broker_unavailable", first
    [entry] = listing(client)["queue"]
    assert entry["state"] == "queued" and entry["attempts"] == 1
    assert entry["last_reason"].startswith("broker_unavailable: ")
    assert fake_fyers.placed_orders() == []

    fake_fyers.clear_faults()
    clock.instant += timedelta(minutes=5)  # the Scheduler's 09:20 retry
    [second] = drain(client)
    assert second["status"] == "placed", second
    assert len(fake_fyers.placed_orders()) == 1
    assert [e["state"] for e in listing(client)["ended"]] == ["placed"]
    assert queue_notifications(services) == ["queue_placed"]


@pytest.mark.parametrize("died", ["after_taking", "after_claiming", "after_placing"])
def test_an_entry_a_dead_worker_left_processing_is_taken_over_and_the_book_decides(bridge, fake_fyers, clock, died):
    client, services = bridge()
    clock.instant = WEDNESDAY_20
    queue_alert(client)
    clock.instant = THURSDAY_OPEN
    [waiting] = services.queue.waiting()
    # Another instance's drain: it takes the entry, maybe claims its key and places the
    # order, and then dies; nothing after that step runs (no answer, journal or end).
    dead = services.queue.take(waiting["id"], "dead-instance")
    if died != "after_taking":
        claim = services.alerts.ledger.claim(f"queue:{dead.id}", dead.entry["alert_id"])
    if died == "after_placing":
        message = parse_message(dead.entry["payload"], default_product_type="INTRADAY")
        record = AlertRecord(dead.entry["alert_id"])
        services.alerts.execution.run(message, dead.entry["alert_id"], Deadline(2.5), record, claim)
        assert len(fake_fyers.placed_orders()) == 1
    [held] = listing(client)["queue"]
    assert held["state"] == "processing" and held["worker"] == "dead-instance"

    assert drain(client) == []  # inside its lease, the worker may still be alive
    clock.instant += timedelta(seconds=services.settings.claim_lease_seconds + 2)
    [result] = drain(client)
    assert result["taken_over_from"] == "dead-instance"
    assert result["status"] == "placed" and result["attempts"] == 2, result
    [order] = fake_fyers.placed_orders()  # the dead worker's, or the only one placed after it
    assert fake_fyers.count("orders/sync") == 1
    [ended] = listing(client)["ended"]
    assert ended["state"] == "placed" and ended["answer"]["order_id"] == order["id"]
    assert drain(client) == [] and len(fake_fyers.orders) == 1
    assert queue_notifications(services) == ["queue_placed"]


def test_each_end_sends_one_notification(bridge, fake_fyers, clock):
    client, services = bridge()
    clock.instant = TUESDAY_20
    too_old = queue_alert(client, idempotency_key="q-old", strikeprice=25900)
    clock.instant = WEDNESDAY_20
    refused = queue_alert(client, idempotency_key="q-refused", strikeprice=26100)
    clock.instant = WEDNESDAY_20 + timedelta(minutes=1)
    placed = queue_alert(client, idempotency_key="q-placed")
    clock.instant = WEDNESDAY_20 + timedelta(minutes=2)
    cancelled = queue_alert(client, idempotency_key="q-cancelled", strikeprice=26200)

    assert client.delete(f"/queue/{cancelled}", headers=admin_headers()).status_code == 200
    assert client.delete(f"/queue/{cancelled}", headers=admin_headers()).status_code == 409  # already ended
    assert client.delete("/queue/nope", headers=admin_headers()).status_code == 404
    clock.instant = THURSDAY_OPEN
    fake_fyers.reject_next_order("RED:Margin Shortfall")  # the oldest runnable entry's order
    processed = {p["queue_id"]: p for p in drain(client)}
    assert processed[too_old]["status"] == "stale"
    assert processed[refused]["http_status"] == 422 and processed[refused]["status"] == "rejected"
    assert processed[placed]["status"] == "placed"

    ends = {e["id"]: e["state"] for e in listing(client)["ended"]}
    assert ends == {too_old: "expired", refused: "failed", placed: "placed", cancelled: "cancelled"}
    assert listing(client)["queue"] == []
    assert queue_notifications(services) == ["queue_cancelled", "queue_expired", "queue_failed", "queue_placed"]
    assert drain(client) == []  # an ended entry is never run (or notified) again
    assert queue_notifications(services) == ["queue_cancelled", "queue_expired", "queue_failed", "queue_placed"]
    assert fake_fyers.count("orders/sync") == 2 and len(fake_fyers.placed_orders()) == 1
    again = client.post("/webhook", data=json.dumps(seed_alert(idempotency_key="q-cancelled", strikeprice=26200)),
                        content_type="application/json")
    assert again.json["status"] == "cancelled"  # a resend of the cancelled alert is told so


def test_ended_entries_are_listed_for_a_week(bridge, fake_fyers, clock):
    client, _ = bridge()
    clock.instant = WEDNESDAY_20
    cancelled = queue_alert(client)
    assert client.delete(f"/queue/{cancelled}", headers=admin_headers()).status_code == 200
    clock.instant += timedelta(days=6)
    assert [e["id"] for e in listing(client)["ended"]] == [cancelled]
    clock.instant += timedelta(days=2)
    assert listing(client)["ended"] == []
    drain(client)
    assert listing(client) == {"status": "ok", "queue": [], "ended": []}


@pytest.mark.parametrize("deadline, outcome", [(0.7, "pending"), (2.5, "placed")])
def test_the_drain_gives_each_alert_alert_deadline_seconds(bridge, fake_fyers, clock, deadline, outcome):
    client, _ = bridge(alert_deadline_seconds=deadline)
    clock.instant = WEDNESDAY_20
    queue_alert(client)
    clock.instant = THURSDAY_OPEN
    # Fyers answers the order after 1.1 s: inside a 2.5 s budget, but not inside 0.7 s.
    fake_fyers.add_fault("orders/sync", "latency", seconds=1.1)
    [result] = drain(client)
    assert result["status"] == outcome, result
    assert [e["state"] for e in listing(client)["ended"]] == ["placed"]  # sent: the reconciler follows a pending one
