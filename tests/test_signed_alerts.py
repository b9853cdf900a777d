"""Signed alerts (WEBHOOK_HMAC_SECRET): the time is signed with the body, replays are refused or replayed,
an unsigned Idempotency-Key header is ignored, and WEBHOOK_AUTH=hmac turns the body's secret off.

Signatures are built here from the documented scheme (docs/alerts.md), not with the app's own code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import pytest

from app.settings import ConfigError, Settings
from tests.conftest import MARKET_MORNING, SECRET, answered, seed_alert, send_alert

HMAC_KEY = "hmac-key-5f1c9e0a7b3d"
NOW = int(MARKET_MORNING.timestamp())  # the tests' fixed clock, in unix seconds
TOLERANCE = 30  # WEBHOOK_SIGNATURE_TOLERANCE_SECONDS's default
IGNORED = (
    "the Idempotency-Key header was ignored: the X-Signature does not cover it, so a signed alert's key"
    " is its body's idempotency_key, or the body itself"
)


def x_signature(body: bytes, t: int, key: str = HMAC_KEY) -> str:
    """`t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as docs/alerts.md tells a sender to sign."""
    return f"t={t},v1={hmac.new(key.encode(), f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"


def post(client, body: bytes, **headers):
    return answered(client.post("/webhook", data=body, content_type="application/json", headers=headers))


def signed_body(**overrides) -> bytes:
    """The seed alert without its token: only the signature can authenticate it."""
    return json.dumps(seed_alert(token=None, **overrides)).encode()


@pytest.fixture
def signing(make_bridge):
    return make_bridge(webhook_hmac_secret=HMAC_KEY)


def test_a_signed_alert_is_placed_without_the_token(signing):
    body = signed_body()
    ok = post(signing.client, body, **{"X-Signature": x_signature(body, NOW)})
    assert ok.status_code == 200, ok.json
    assert IGNORED not in ok.json.get("warnings", [])  # no header sent, nothing to say
    zeros = post(signing.client, body, **{"X-Signature": f"t={NOW},v1={'0' * 64}"})
    assert zeros.status_code == 401
    tampered = body.replace(b"26000", b"26100")
    refused = post(signing.client, tampered, **{"X-Signature": x_signature(body, NOW)})
    assert refused.status_code == 401
    assert len(signing.paper.orders) == 1


def test_a_replayed_signed_request_older_than_the_window_is_refused(signing, clock):
    body = signed_body(idempotency_key=None)
    headers = {"X-Signature": x_signature(body, NOW)}
    assert post(signing.client, body, **headers).status_code == 200
    clock.instant = MARKET_MORNING + timedelta(seconds=TOLERANCE)
    replay = post(signing.client, body, **headers)
    assert replay.status_code == 401 and replay.json["status"] == "unauthorized"
    assert "30 s old" in replay.json["message"] and "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS" in replay.json["message"]
    # Long after: the duplicate window has passed too, and the signature alone still refuses it.
    clock.instant = MARKET_MORNING + timedelta(hours=2)
    assert post(signing.client, body, **headers).status_code == 401
    assert len(signing.paper.orders) == 1


def test_the_unsigned_sha256_form_is_refused_because_it_can_be_replayed(signing):
    body = signed_body()
    unsigned_time = "sha256=" + hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()
    refused = post(signing.client, body, **{"X-Signature": unsigned_time, "Idempotency-Key": "fresh-1"})
    assert refused.status_code == 401 and "can be replayed" in refused.json["message"]
    assert signing.paper.orders == []


def test_a_future_timestamp_is_refused(signing):
    body = signed_body()
    for ahead in (TOLERANCE, TOLERANCE + 1, 3600):
        refused = post(signing.client, body, **{"X-Signature": x_signature(body, NOW + ahead)})
        assert refused.status_code == 401 and "in the future" in refused.json["message"], ahead
    assert signing.paper.orders == []


@pytest.mark.parametrize("body_key", ["signed-key-1", None])
def test_a_replay_inside_the_window_is_caught_by_the_key(signing, clock, body_key):
    """The worst case: signed as far ahead as allowed, replayed as late as allowed, 58 s later."""
    body = signed_body(idempotency_key=body_key)
    headers = {"X-Signature": x_signature(body, NOW + TOLERANCE - 1)}
    first = post(signing.client, body, **headers)
    assert first.status_code == 200, first.json
    clock.instant = MARKET_MORNING + timedelta(seconds=2 * TOLERANCE - 2)
    replay = post(signing.client, body, **headers)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json["order_id"] == first.json["order_id"]
    clock.instant = MARKET_MORNING + timedelta(seconds=2 * TOLERANCE - 1)
    assert post(signing.client, body, **headers).status_code == 401  # its signature is now too old
    assert len(signing.paper.orders) == 1


@pytest.mark.parametrize("body_key", [None, "signed-key-2"])
def test_an_unsigned_idempotency_key_header_does_not_get_a_fresh_key(signing, body_key):
    body = signed_body(idempotency_key=body_key)
    signature = x_signature(body, NOW)
    first = post(signing.client, body, **{"X-Signature": signature, "Idempotency-Key": "header-a"})
    assert first.status_code == 200, first.json
    assert IGNORED in first.json["warnings"]
    again = post(signing.client, body, **{"X-Signature": signature, "Idempotency-Key": "header-b"})
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json["order_id"] == first.json["order_id"] and IGNORED in again.json["warnings"]
    assert len(signing.paper.orders) == 1


def test_a_body_secret_alert_still_takes_its_idempotency_key_header(signing):
    """Unsigned alerts (TradingView's) keep today's rule: the header is their key when the body has none."""
    first = send_alert(signing.client, seed_alert(idempotency_key=None), headers={"Idempotency-Key": "tv-1"})
    second = send_alert(signing.client, seed_alert(idempotency_key=None), headers={"Idempotency-Key": "tv-2"})
    assert first.status_code == second.status_code == 200 and IGNORED not in first.json.get("warnings", [])
    assert second.headers.get("Idempotent-Replayed") is None
    assert len(signing.paper.orders) == 2


def test_hmac_only_mode_refuses_a_body_secret_alert(make_bridge):
    bridge = make_bridge(webhook_hmac_secret=HMAC_KEY, webhook_auth="hmac")
    refused = send_alert(bridge.client, seed_alert())  # the right token, in the body
    assert refused.status_code == 401 and "WEBHOOK_AUTH=hmac" in refused.json["message"]
    assert bridge.paper.orders == []
    body = signed_body()
    assert post(bridge.client, body, **{"X-Signature": x_signature(body, NOW)}).status_code == 200
    assert len(bridge.paper.orders) == 1


@pytest.mark.parametrize(
    "header, says",
    [
        (f"v1={'a' * 64}", "no timestamp"),
        (f"t={NOW}", "no v1 signature"),
        (f"t=soon,v1={'a' * 64}", "whole number"),
        (f"t={NOW},t={NOW},v1={'a' * 64}", "whole number"),
        (f"t={NOW},v1={'a' * 64}", "does not match"),
        ("wrong-key", "no timestamp"),
        ("", "no timestamp"),
    ],
)
def test_a_refusal_names_what_was_wrong_and_never_the_key(signing, caplog, header, says):
    caplog.set_level(logging.DEBUG)
    refused = post(signing.client, signed_body(), **{"X-Signature": header})
    assert refused.status_code == 401 and says in refused.json["message"], refused.json
    assert HMAC_KEY not in refused.get_data(as_text=True) and HMAC_KEY not in caplog.text
    assert signing.paper.orders == []


def test_a_signature_with_another_key_or_time_does_not_match(signing):
    body = signed_body()
    other_key = post(signing.client, body, **{"X-Signature": x_signature(body, NOW, key="not-the-key")})
    _, v1 = x_signature(body, NOW - 5).split(",")
    moved_time = post(signing.client, body, **{"X-Signature": f"t={NOW},{v1}"})
    for refused in (other_key, moved_time):
        assert refused.status_code == 401 and "does not match" in refused.json["message"]
    assert signing.paper.orders == []


@pytest.mark.parametrize(
    "env, error",
    [
        ({"WEBHOOK_AUTH": "hmac"}, "WEBHOOK_HMAC_SECRET is required with WEBHOOK_AUTH=hmac"),
        ({"WEBHOOK_AUTH": "secret", "WEBHOOK_HMAC_SECRET": HMAC_KEY}, "WEBHOOK_AUTH=secret ignores signatures"),
        ({"WEBHOOK_AUTH": "signed"}, "WEBHOOK_AUTH must be one of"),
        ({"WEBHOOK_HMAC_SECRET": HMAC_KEY, "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS": "31"}, "at most half of"),
        (
            {"WEBHOOK_HMAC_SECRET": HMAC_KEY, "DUPLICATE_WINDOW_SECONDS": "30"},
            "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS must be at most half",
        ),
        ({"WEBHOOK_SIGNATURE_TOLERANCE_SECONDS": "2"}, "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS must be between"),
    ],
)
def test_signing_settings_are_checked_at_start(env, error):
    with pytest.raises(ConfigError, match=error):
        Settings.from_env({"WEBHOOK_SECRET_TOKEN": SECRET, **env})


def test_signing_defaults_keep_todays_behaviour():
    settings = Settings.from_env({"WEBHOOK_HMAC_SECRET": HMAC_KEY})
    assert (settings.webhook_auth, settings.webhook_signature_tolerance_seconds) == ("either", TOLERANCE)
    assert HMAC_KEY not in repr(settings)
    assert Settings.from_env({"WEBHOOK_AUTH": "HMAC", "WEBHOOK_HMAC_SECRET": HMAC_KEY}).webhook_auth == "hmac"
