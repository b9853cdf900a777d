"""The Fyers tokens at rest: sealed with TOKEN_ENCRYPTION_KEY, useless to a bucket reader, one login after a rotation.

Real parts: the official SDK against the fake Fyers, the real GCS client against fake-gcs-server.
The autouse fixture in conftest.py also fails any test whose output carries the test key or a JWT.
"""

from __future__ import annotations

import json
import logging
import re

import pytest

from app.adapters.token_cipher import AesGcmTokenCipher
from app.bootstrap import bootstrap
from app.settings import ConfigError, Settings
from tests.conftest import TOKEN_KEY, admin_headers, browser_login, fyers_settings_for, seed_alert, send_alert

TOKENS = "tokens/tokens.json"
OTHER_KEY = "YW5vdGhlci10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU="  # a rotated key: 32 other bytes
JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
LIVE_ENV = {
    "BROKER": "fyers",
    "WEBHOOK_SECRET_TOKEN": "webhook-secret-0123456789",
    "ADMIN_TOKEN": "admin-token-0123456789",
    "FYERS_APP_ID": "APP-100",
    "FYERS_SECRET_ID": "fyers-secret-0123456789",
    "FYERS_REDIRECT_URI": "https://bridge.example/auth/callback",
}


def token_status(client) -> dict:
    return client.get("/token-status", headers=admin_headers()).json


def test_the_tokens_object_in_the_bucket_is_not_plaintext(make_bridge, fyers_settings, fake_fyers, gcs_bucket):
    from google.cloud import storage

    bridge = make_bridge(settings=fyers_settings, gcs_bucket_name=gcs_bucket)
    assert browser_login(bridge.client, fake_fyers).status_code == 200
    raw = storage.Client().bucket(gcs_bucket).blob(TOKENS).download_as_text()
    document = json.loads(raw)
    tokens = AesGcmTokenCipher(TOKEN_KEY).open(document["sealed"], TOKENS)
    assert tokens["access_token"] and tokens["refresh_token"]
    for secret in (tokens["access_token"], tokens["refresh_token"], TOKEN_KEY):
        assert secret not in raw
    assert not JWT_LIKE.search(raw), "something that looks like a JWT is stored in clear"
    # In clear: only what the operator and the expiry check need, and the key's fingerprint.
    assert set(document) == {"sealed", "expires_at", "saved_at", "source", "valid"}
    assert set(document["sealed"]) == {"alg", "key_id", "nonce", "ciphertext"}
    assert document["source"] == "login" and document["sealed"]["alg"] == "AES-256-GCM"
    # ...and the sealed session is the one the bridge trades with.
    assert send_alert(bridge.client, seed_alert()).status_code == 200
    assert len(fake_fyers.placed_orders()) == 1


def test_a_bridge_with_another_key_sees_no_session_then_one_login_works(
    make_bridge, fyers_settings, fake_fyers, caplog
):
    caplog.set_level(logging.WARNING)
    old = make_bridge(settings=fyers_settings)
    assert browser_login(old.client, fake_fyers).status_code == 200
    rotated = make_bridge(settings=fyers_settings, token_encryption_key=OTHER_KEY)  # same state store

    status = token_status(rotated.client)
    assert status["logged_in"] is False and "another TOKEN_ENCRYPTION_KEY" in status["reason"]
    answer = send_alert(rotated.client, seed_alert())
    assert answer.json["status"] == "login_required", answer.json
    assert fake_fyers.placed_orders() == []
    token_status(rotated.client)
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "token_session_unusable"]
    assert len(warnings) == 1, "one warning per stored session, not one per read"

    assert browser_login(rotated.client, fake_fyers).status_code == 200
    assert token_status(rotated.client)["logged_in"] is True
    assert send_alert(rotated.client, seed_alert(idempotency_key="after-rotation")).status_code == 200
    assert len(fake_fyers.placed_orders()) == 1
    # The old key no longer opens the new session: an instance started on it asks for a login, never crashes.
    assert token_status(make_bridge(settings=fyers_settings).client)["logged_in"] is False


def test_a_plaintext_session_from_before_encryption_is_no_session(make_bridge, fyers_settings, fake_fyers):
    bridge = make_bridge(settings=fyers_settings)
    legacy_token = fake_fyers.issue_token()  # valid at Fyers: only the bridge's refusal stops it
    bridge.services.store.create(
        TOKENS,
        {
            "access_token": legacy_token,
            "refresh_token": fake_fyers.issue_refresh_token(),
            "expires_at": 4102444800.0,
            "saved_at": 0.0,
            "source": "login",
            "valid": True,
        },
    )
    status = token_status(bridge.client)
    assert status["logged_in"] is False and "predates token encryption" in status["reason"]
    assert send_alert(bridge.client, seed_alert()).json["status"] == "login_required"
    assert bridge.client.post("/refresh-token", headers=admin_headers()).json["status"] == "login_required"
    assert fake_fyers.placed_orders() == []

    assert browser_login(bridge.client, fake_fyers).status_code == 200
    stored = bridge.services.store.get(TOKENS).data
    assert "access_token" not in stored and legacy_token not in json.dumps(stored)


def test_an_altered_session_is_no_session(make_bridge, fyers_settings, fake_fyers):
    bridge = make_bridge(settings=fyers_settings)
    assert browser_login(bridge.client, fake_fyers).status_code == 200
    store = bridge.services.store
    found = store.get(TOKENS)
    sealed = found.data["sealed"]
    flipped = ("A" if sealed["ciphertext"][5] != "A" else "B").join(
        (sealed["ciphertext"][:5], sealed["ciphertext"][6:])
    )
    assert store.replace(TOKENS, {**found.data, "sealed": {**sealed, "ciphertext": flipped}}, found.generation)
    fresh = make_bridge(settings=fyers_settings)  # no cached session
    status = token_status(fresh.client)
    assert status["logged_in"] is False and "cannot be decrypted" in status["reason"]


def test_a_sealed_value_opens_only_under_its_key_and_in_its_document():
    cipher = AesGcmTokenCipher(TOKEN_KEY)
    sealed = cipher.seal({"access_token": "a.b.c"}, TOKENS)
    assert cipher.open(sealed, TOKENS) == {"access_token": "a.b.c"}
    assert cipher.open(sealed, "tokens/other.json") is None
    assert AesGcmTokenCipher(OTHER_KEY).open(sealed, TOKENS) is None
    assert cipher.key_id != AesGcmTokenCipher(OTHER_KEY).key_id and cipher.key_id not in TOKEN_KEY
    # Standard base64 (openssl rand -base64 32) names the same key as the URL-safe form.
    standard = TOKEN_KEY.replace("-", "+").replace("_", "/")
    assert AesGcmTokenCipher(standard).open(sealed, TOKENS) == {"access_token": "a.b.c"}


def test_the_key_is_required_with_fyers_and_the_error_says_how_to_make_one():
    with pytest.raises(ConfigError, match=r"TOKEN_ENCRYPTION_KEY is required with BROKER=fyers.*os\.urandom\(32\)"):
        Settings.from_env(LIVE_ENV)
    assert Settings.from_env({**LIVE_ENV, "TOKEN_ENCRYPTION_KEY": TOKEN_KEY}).token_encryption_key == TOKEN_KEY
    assert Settings.from_env({}).token_encryption_key is None  # paper: no Fyers tokens to protect


@pytest.mark.parametrize("bad", ["c2hvcnQta2V5", "not base64 at all!", TOKEN_KEY + "AAAA"])
def test_a_malformed_key_is_refused_without_repeating_it(bad):
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY must be 32 random bytes in base64") as refused:
        Settings.from_env({**LIVE_ENV, "TOKEN_ENCRYPTION_KEY": bad})
    assert bad not in str(refused.value)


def test_settings_built_in_code_without_a_key_do_not_start(fake_fyers, tmp_path):
    settings = fyers_settings_for(fake_fyers, tmp_path / "var", token_encryption_key=None)
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY is required"):
        bootstrap(settings)


def test_the_key_is_a_secret_the_redactor_knows():
    settings = Settings.from_env({**LIVE_ENV, "TOKEN_ENCRYPTION_KEY": TOKEN_KEY})
    assert TOKEN_KEY in settings.secrets() and TOKEN_KEY not in repr(settings)
