"""Notifications: Pub/Sub (real client, gRPC fake), an HTTP webhook and Telegram, all bounded."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ADMIN, APP_SECRET, PIN, SECRET, admin_headers, browser_login, seed_alert, send_alert
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.pubsub import FakePubSub

TOPIC = "projects/test-project/topics/trader-alerts"
BOT_TOKEN = "123456:telegram-bot-secret"


@pytest.fixture
def pubsub(monkeypatch):
    fake = FakePubSub().start()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake.host)
    yield fake
    fake.hang = False
    fake.stop()


def _receiver():
    receiver = HttpReceiver().start()
    yield receiver
    receiver.hang = False
    receiver.stop()


webhook_receiver = pytest.fixture(_receiver, name="webhook_receiver")
telegram = pytest.fixture(_receiver, name="telegram")  # the fake Bot API is the same server


def make_client(make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, **overrides):
    bridge = make_bridge(
        settings=fyers_settings,
        notification_topic=TOPIC,
        notification_url=f"{webhook_receiver.url}/hooks/secret-path-abc",
        telegram_bot_token=BOT_TOKEN,
        telegram_chat_id="42",
        telegram_api_base_url=telegram.url,
        **overrides,
    )
    return bridge.client, bridge.services


@pytest.fixture
def notified(make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, fake_fyers):
    client, services = make_client(make_bridge, fyers_settings, pubsub, webhook_receiver, telegram)
    assert browser_login(client, fake_fyers).status_code == 200
    yield client
    services.notifications.close()
    services.broker.close()


def assert_no_secrets(*texts):
    for text in texts:
        for secret in (SECRET, ADMIN, APP_SECRET, PIN, BOT_TOKEN, "secret-path-abc"):
            assert secret not in text
        assert "eyJ" not in text  # no token (JWT) either


def test_a_failed_order_notifies_every_channel_once(notified, fake_fyers, pubsub, webhook_receiver, telegram):
    fake_fyers.reject_next_order("RED:Margin Shortfall")
    response = send_alert(notified, seed_alert())
    assert response.status_code == 422
    [(topic, data, attributes)] = pubsub.messages
    message = json.loads(data)
    assert topic == TOPIC and attributes == {"kind": "order_failed"}
    assert message["kind"] == "order_failed" and "Margin Shortfall" in message["text"]
    [posted] = webhook_receiver.requests
    assert posted["method"] == "POST" and posted["json"]["kind"] == "order_failed"
    [sent] = telegram.telegram_messages()
    assert sent["chat_id"] == "42" and sent["token"] == BOT_TOKEN
    assert "FAILED" in sent["text"] and "NSE:NIFTY26NOV26000CE" in sent["text"]
    assert_no_secrets(data.decode(), json.dumps(posted["json"]), sent["text"])


def test_a_placed_order_notifies_nobody_by_default(notified, pubsub, webhook_receiver, telegram):
    assert send_alert(notified, seed_alert()).status_code == 200
    assert pubsub.messages == [] and webhook_receiver.requests == [] and telegram.telegram_messages() == []


def test_notify_on_all_reports_every_order(make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, fake_fyers):
    client, services = make_client(make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, notify_on="all")
    try:
        browser_login(client, fake_fyers)
        assert send_alert(client, seed_alert()).status_code == 200
        [sent] = telegram.telegram_messages()
        assert sent["text"].startswith("Order placed")
        assert len(pubsub.messages) == 1 and len(webhook_receiver.requests) == 1
    finally:
        services.notifications.close()
        services.broker.close()


def test_login_required_message_carries_the_login_link(notified, fake_fyers, telegram, pubsub):
    fake_fyers.expire_tokens()
    response = send_alert(notified, seed_alert())
    assert response.status_code == 503
    [sent] = telegram.telegram_messages()
    assert "login required" in sent["text"].lower()
    # The bridge's login link (it marks the phone's browser, then goes on to Fyers), not Fyers's URL.
    assert "https://bridge.test/auth/start?t=" in sent["text"] and "state=" not in sent["text"]
    assert json.loads(pubsub.messages[0][1])["link"].startswith("https://bridge.test/auth/start?t=")


def test_refresh_job_that_needs_a_login_notifies_with_the_link(notified, fake_fyers, telegram):
    fake_fyers.refresh_enabled = False
    response = notified.post("/refresh-token", headers=admin_headers())
    assert response.json["status"] == "login_required"
    [sent] = telegram.telegram_messages()
    assert response.json["login_url"] in sent["text"]


@pytest.mark.timeout(60)
def test_dead_or_hanging_channels_never_delay_the_answer_past_three_seconds(
    make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, fake_fyers
):
    # The product's own budget is shortened so that the bound below has a wide margin.
    client, services = make_client(
        make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, alert_deadline_seconds=1.5
    )
    try:
        browser_login(client, fake_fyers)
        pubsub.hang = webhook_receiver.hang = telegram.hang = True
        fake_fyers.add_fault("orders/sync", "hang")  # the worst case: the broker hangs too
        started = time.monotonic()
        response = send_alert(client, seed_alert())
        elapsed = time.monotonic() - started
        assert response.status_code == 202
        assert elapsed < 3.0
        results = services.notifications.recent()[0]["channels"]
        assert set(results) == {"pubsub", "http", "telegram"}
        assert all(result != "sent" for result in results.values())
    finally:
        fake_fyers.release_hangs()
        pubsub.hang = webhook_receiver.hang = telegram.hang = False
        services.notifications.close()
        services.broker.close()


def test_unreachable_channels_do_not_fail_the_order(
    make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, fake_fyers
):
    client, services = make_client(make_bridge, fyers_settings, pubsub, webhook_receiver, telegram, notify_on="all")
    try:
        browser_login(client, fake_fyers)
        pubsub.fail_with = __import__("grpc").StatusCode.UNAVAILABLE
        webhook_receiver.status = 500
        telegram.stop()
        response = send_alert(client, seed_alert())
        assert response.status_code == 200 and response.json["status"] == "placed"
        assert len(fake_fyers.placed_orders()) == 1
    finally:
        services.notifications.close()
        services.broker.close()
