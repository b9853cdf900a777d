"""Shared fixtures: settings over a temp directory, a fixed clock, the app and its client."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

os.environ.setdefault("NO_GCE_CHECK", "true")

from app import create_app  # noqa: E402
from app.bootstrap import bootstrap  # noqa: E402
from app.domain.contracts import IST  # noqa: E402
from app.ports import FixedClock  # noqa: E402
from app.settings import Settings  # noqa: E402

SECRET = "test-secret-0123456789"
# Wednesday 18 Nov 2026, 10:00 IST: NSE is open; Tuesday 24 Nov is a holiday, so
# the next NIFTY expiry (weekly and monthly) is Monday 23 Nov.
MARKET_MORNING = datetime(2026, 11, 18, 10, 0, tzinfo=IST)


def seed_alert(**overrides):
    """The seed payload of DESIGN.md §4, with the test secret."""
    alert = {
        "token": SECRET,
        "symbol": "NIFTY",
        "strikeprice": 26000,
        "optionType": "CE",
        "expiry": "WEEKLY",
        "action": "BUY",
        "qty": 65,
        "productType": "INTRADAY",
        "sl": 80.5,
        "tp": 140,
        "idempotency_key": "alert-123",
    }
    alert.update(overrides)
    return {k: v for k, v in alert.items() if v is not None}


@pytest.fixture
def clock():
    return FixedClock(MARKET_MORNING)


@pytest.fixture
def settings(tmp_path):
    return Settings(webhook_secret_token=SECRET, state_dir=str(tmp_path / "var"), admin_token="admin-test-token")


@pytest.fixture
def services(settings, clock):
    return bootstrap(settings, clock)


@pytest.fixture
def app(services):
    return create_app(services=services)


@pytest.fixture
def client(app):
    return app.test_client()


# -- Fyers: the real SDK against the fake Fyers server ------------------------------------

ADMIN = "admin-test-token"
APP_ID = "TESTAPP-100"
APP_SECRET = "TESTSECRET-abcdef"
PIN = "864209"  # long enough never to turn up by chance inside an id or a timestamp
REDIRECT_URI = "https://bridge.test/auth/callback"


@pytest.fixture
def fake_fyers():
    from tests.fakes.fake_fyers import FakeFyers

    fake = FakeFyers(app_id=APP_ID, secret_id=APP_SECRET, pin=PIN, redirect_uri=REDIRECT_URI)
    fake.start()
    yield fake
    fake.stop()


def fyers_settings_for(fake, state_dir, redirect_uri: str = REDIRECT_URI, **overrides) -> Settings:
    """Settings for BROKER=fyers against a fake Fyers server."""
    return Settings(
        broker="fyers",
        webhook_secret_token=SECRET,
        admin_token=ADMIN,
        fyers_app_id=APP_ID,
        fyers_secret_id=APP_SECRET,
        fyers_redirect_uri=redirect_uri,
        fyers_pin=PIN,
        fyers_api_base_url=fake.api_base,
        fyers_data_base_url=fake.data_base,
        symbol_master_url="synthetic",
        state_dir=str(state_dir),
        **overrides,
    )


@pytest.fixture
def fyers_settings(tmp_path, fake_fyers):
    return fyers_settings_for(fake_fyers, tmp_path / "var")


@pytest.fixture
def fyers_services(fyers_settings, clock):
    services = bootstrap(fyers_settings, clock)
    yield services
    services.broker.close()


@pytest.fixture
def fyers_client(fyers_services):
    return create_app(services=fyers_services).test_client()


@pytest.fixture
def fyers(fyers_settings, clock, fake_fyers):
    """Build logged-in bridges on BROKER=fyers against the fake; keyword overrides change the settings."""
    import dataclasses

    built = []

    def build(**overrides):
        services = bootstrap(dataclasses.replace(fyers_settings, **overrides), clock)
        client = create_app(services=services).test_client()
        assert browser_login(client, fake_fyers).status_code == 200
        built.append(services)
        return client, services

    yield build
    for services in built:
        services.broker.close()


def admin_headers():
    return {"Authorization": f"Bearer {ADMIN}"}


def browser_login(client, fake):
    """The operator's daily login: auth URL, Fyers's page, the redirect to our callback."""
    import urllib.parse

    import requests

    login_url = client.get("/auth-url", headers=admin_headers()).json["login_url"]
    at_fyers = requests.get(login_url, allow_redirects=False, timeout=5)
    assert at_fyers.status_code == 302
    location = urllib.parse.urlsplit(at_fyers.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return client.get(f"/auth/callback?{location.query}")


@pytest.fixture
def logged_in(fyers_client, fake_fyers):
    response = browser_login(fyers_client, fake_fyers)
    assert response.status_code == 200, response.text
    return fyers_client


# -- Google Cloud Storage: the real client against fake-gcs-server -------------------------


@pytest.fixture(scope="session")
def fake_gcs():
    from tests.fakes.gcs import FakeGcs

    server = FakeGcs().start()
    yield server
    server.stop()


@pytest.fixture
def gcs_bucket(fake_gcs, monkeypatch):
    """A fresh bucket on the fake; STORAGE_EMULATOR_HOST points the real client at it."""
    import uuid

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.url)
    name = f"bridge-{uuid.uuid4().hex[:12]}"
    fake_gcs.create_bucket(name)
    return name


# -- No secret anywhere: every test's log output and notifications are searched -------------

import re as _re  # noqa: E402

_KNOWN_SECRETS = (SECRET, ADMIN, APP_SECRET, PIN)
_JWT = _re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


@pytest.fixture(autouse=True)
def no_secret_in_logs_or_notifications(request, capsys):
    """Fails any test whose logs (as the bridge's handlers wrote them) or notifications leak."""
    yield
    out, err = capsys.readouterr()
    texts = {"stdout": out, "stderr": err}
    for name, value in getattr(request.node, "funcargs", {}).items():
        notifications = getattr(value, "notifications", None)
        if notifications is not None and hasattr(notifications, "recent"):
            texts[f"{name} notifications"] = repr(notifications.recent())
    for where, text in texts.items():
        for secret in _KNOWN_SECRETS:
            assert secret not in text, f"a secret leaked into {where}"
        assert not _JWT.search(text), f"a token leaked into {where}"
    # Put the output back so pytest still shows it for a failing test.
    print(out, end="")
    print(err, end="", file=__import__("sys").stderr)
