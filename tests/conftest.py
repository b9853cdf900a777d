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
