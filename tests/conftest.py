"""Shared fixtures: settings over a temp directory, a fixed clock, the bridge built for a test and its client."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime

import pytest

os.environ.setdefault("NO_GCE_CHECK", "true")

from app import create_app  # noqa: E402
from app.adapters.paper_broker import PaperBroker  # noqa: E402
from app.bootstrap import Services, bootstrap  # noqa: E402
from app.domain.contracts import IST  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.clock import FixedClock  # noqa: E402

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


def send_alert(client, payload=None, *, content_type="application/json", headers=None, path="/webhook", **overrides):
    """POST an alert as TradingView does: `payload` (a dict, or a raw body), else the seed alert with `overrides`."""
    if payload is None:
        payload = seed_alert(**overrides)
    elif overrides:
        raise TypeError("overrides change the seed alert; pass them without a payload")
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return answered(client.post(path, data=body, content_type=content_type, headers=headers or {}))


def answered(response):
    """The response with its body read, as a real client would, so any work the bridge does after
    writing the answer (an order waiting for a rate-limit slot) runs before the test goes on."""
    response.get_data()
    return response


@dataclasses.dataclass
class Bridge:
    """A bridge built for a test through the real wiring: its services, its app and a client."""

    services: Services
    app: object  # the Flask app
    client: object  # its test client
    paper: PaperBroker | None  # the paper broker beneath the coalescing wrapper, whose book tests read


def build_bridge(settings: Settings, *, clock=None, broker=None, store=None, channels=None) -> Bridge:
    """Wire a bridge through the real bootstrap, with fakes plugged in; the caller closes its broker."""
    if broker is None and settings.broker == "paper":
        broker = PaperBroker()
    services = bootstrap(settings, clock=clock, broker=broker, store=store, channels=channels)
    app = create_app(services=services)
    return Bridge(services, app, app.test_client(), broker if isinstance(broker, PaperBroker) else None)


@pytest.fixture
def make_bridge(settings, clock):
    """Build bridges: settings overrides, or other `settings`, `clock`, `broker`, `store`, `channels`."""
    built: list[Bridge] = []

    def build(*, settings=settings, clock=clock, broker=None, store=None, channels=None, **overrides) -> Bridge:
        bridge = build_bridge(
            dataclasses.replace(settings, **overrides), clock=clock, broker=broker, store=store, channels=channels
        )
        built.append(bridge)
        return bridge

    yield build
    for bridge in built:
        bridge.services.broker.close()


@pytest.fixture
def clock():
    return FixedClock(MARKET_MORNING)


@pytest.fixture
def settings(tmp_path):
    return Settings(webhook_secret_token=SECRET, state_dir=str(tmp_path / "var"), admin_token="admin-test-token")


@pytest.fixture
def paper_bridge(make_bridge):
    return make_bridge()


@pytest.fixture
def services(paper_bridge):
    return paper_bridge.services


@pytest.fixture
def paper(paper_bridge):
    """The paper broker's own book: every order the bridge placed."""
    return paper_bridge.paper


@pytest.fixture
def app(paper_bridge):
    return paper_bridge.app


@pytest.fixture
def client(paper_bridge):
    return paper_bridge.client


# -- Fyers: the real SDK against the fake Fyers server ------------------------------------

ADMIN = "admin-test-token"
APP_ID = "TESTAPP-100"
APP_SECRET = "TESTSECRET-abcdef"
PIN = "864209"  # long enough never to turn up by chance inside an id or a timestamp
REDIRECT_URI = "https://bridge.test/auth/callback"
TOKEN_KEY = "dGVzdC10b2tlbi1rZXktMDEyMzQ1Njc4OWFiY2RlZiE="  # TOKEN_ENCRYPTION_KEY: 32 bytes, base64


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
        token_encryption_key=overrides.pop("token_encryption_key", TOKEN_KEY),
        **overrides,
    )


def stored_tokens(document: dict, key: str = TOKEN_KEY, name: str = "tokens/tokens.json") -> dict | None:
    """The tokens sealed in a stored session document (for tests that search for them elsewhere)."""
    from app.adapters.token_cipher import AesGcmTokenCipher

    return AesGcmTokenCipher(key).open(document.get("sealed"), name)


@pytest.fixture
def fyers_settings(tmp_path, fake_fyers):
    return fyers_settings_for(fake_fyers, tmp_path / "var")


@pytest.fixture
def fyers_bridge(make_bridge, fyers_settings):
    return make_bridge(settings=fyers_settings)


@pytest.fixture
def fyers_services(fyers_bridge):
    return fyers_bridge.services


@pytest.fixture
def fyers_client(fyers_bridge):
    return fyers_bridge.client


@pytest.fixture
def fyers(make_bridge, fyers_settings, fake_fyers):
    """Build logged-in bridges on BROKER=fyers against the fake; keyword overrides change the settings."""

    def build(**overrides):
        bridge = make_bridge(settings=fyers_settings, **overrides)
        assert browser_login(bridge.client, fake_fyers).status_code == 200
        return bridge.client, bridge.services

    return build


def admin_headers():
    return {"Authorization": f"Bearer {ADMIN}"}


def browser_login(client, fake):
    """The operator's daily login in one browser (the test client keeps its cookies): the login
    link, which marks the browser and sends it to Fyers; Fyers's page; the redirect to our callback."""
    return client.get(at_fyers(client.get(path_of(login_link(client)))))


def login_link(client) -> str:
    """The login link `/auth-url` gives (the bridge's single-use start link)."""
    return client.get("/auth-url", headers=admin_headers()).json["login_url"]


def path_of(url: str) -> str:
    """The path and query of a URL: where a test client (or a local server) is asked for it."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def at_fyers(started) -> str:
    """Follow the start link's redirect through Fyers's login (the fake): the callback's path and query."""
    import urllib.parse

    import requests

    assert started.status_code == 302, started.status_code
    answer = requests.get(started.headers["Location"], allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urllib.parse.urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return f"{location.path}?{location.query}"


class LoopbackBrowser:
    """A browser for a service process on 127.0.0.1: keeps the cookies it is set, Secure ones
    included, as Chrome does on loopback (requests' own jar never sends a Secure cookie over http)."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def get(self, url: str, **kwargs):
        """GET with this browser's cookies; keep the ones the answer sets."""
        import requests

        response = requests.get(url, cookies=dict(self.cookies), **kwargs)
        self.cookies.update(response.cookies.get_dict())
        return response


def browser_session() -> LoopbackBrowser:
    """A fresh browser (no cookies) for the real-process tests."""
    return LoopbackBrowser()


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

_KNOWN_SECRETS = (SECRET, ADMIN, APP_SECRET, PIN, TOKEN_KEY)
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
