"""POST /admin/test-alert: the smoke test after a deploy, from a laptop that ALLOWED_SOURCE_IPS refuses.

The admin token opens it (not the webhook secret, not the scheduler's OIDC token); the sender
allowlist does not apply; it is POST /webhook/test's dry run, so nothing is placed, claimed or
counted, and a later real alert with the same body is placed as if the smoke test never ran.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from app.domain.contracts import IST
from app.settings import TRADINGVIEW_IPS
from tests.clock import FixedClock
from tests.conftest import ADMIN, SECRET, admin_headers, seed_alert
from tests.fakes.google_certs import FakeGoogleCerts

LAPTOP = "203.0.113.9"  # TEST-NET-3: the trader's laptop, outside TradingView's addresses
TRADINGVIEW = TRADINGVIEW_IPS[0]
# The smoke test of the deploy guide: an alert as TradingView sends it, without its token; one lot, whatever its size.
GUIDE_ALERT = {
    "symbol": "NIFTY",
    "strikeprice": "ATM",
    "optionType": "CE",
    "expiry": "WEEKLY",
    "action": "BUY",
    "lots": 1,
}
SCHEDULER = "bridge-scheduler@my-project.iam.gserviceaccount.com"
SERVICE_URL = "https://fyers-alert-bridge-abc123-el.a.run.app"
# Fyers's endpoints that place, change or close anything.
ORDER_ENDPOINTS = {"orders/sync", "gtt/orders/sync", "positions"}


def post(client, path: str, alert, headers=None, address: str = LAPTOP):
    """POST an alert (a dict, or a raw body) from `address`, its body read whole."""
    body = alert if isinstance(alert, (bytes, str)) else json.dumps(alert)
    response = client.post(
        path, data=body, content_type="application/json", headers=headers or {}, environ_base={"REMOTE_ADDR": address}
    )
    response.get_data()
    return response


def smoke(client, alert=None, headers=None, address: str = LAPTOP):
    """The smoke test with the admin token (or `headers`)."""
    return post(client, "/admin/test-alert", alert or seed_alert(token=None), headers or admin_headers(), address)


@pytest.fixture
def allowlisted(make_bridge):
    """A paper bridge that takes alerts from TradingView's addresses only."""
    return make_bridge(allowed_source_ips=TRADINGVIEW_IPS)


def test_from_the_laptop_webhook_test_is_403_and_the_smoke_test_answers_the_whole_path(allowlisted):
    client = allowlisted.client
    assert post(client, "/webhook/test", seed_alert()).status_code == 403
    response = smoke(client, seed_alert(token=None))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "dry_run" and body["smoke"] is True and body["paper"] is True
    [order] = body["orders"]
    assert order["status"] == "would_place" and order["symbol"].startswith("NSE:NIFTY")
    assert (order["expiry"], order["strike"], order["option_type"]) == ("2026-11-23", 26000.0, "CE")
    assert order["ltp"] > 0  # priced from the broker's quote
    would = f"BUY 65 {order['symbol']} (LTP {order['ltp']})"
    assert body["live"] == f"a live alert would have placed 1 paper order(s): {would}"
    assert allowlisted.paper.orders == [] and allowlisted.services.controls.orders_today() == 0
    assert SECRET not in response.get_data(as_text=True)


def test_the_deploy_guide_s_alert_passes(allowlisted):
    response = smoke(allowlisted.client, GUIDE_ALERT)
    assert response.status_code == 200, response.json
    [order] = response.json["orders"]
    assert order["strike_choice"] and order["lots"] == 1 and allowlisted.paper.orders == []
    # qty counts contracts, not lots: "qty": 1 is refused, naming the field, as TradingView's alert would be.
    in_contracts = {k: v for k, v in GUIDE_ALERT.items() if k != "lots"}
    refused = smoke(allowlisted.client, {**in_contracts, "qty": 1})
    assert refused.status_code == 400 and refused.json["field"] == "qty", refused.json


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {SECRET}"},  # the webhook secret is not the admin token
        {"Authorization": ADMIN},  # no scheme
    ],
    ids=["none", "wrong", "webhook-secret", "no-scheme"],
)
def test_without_the_admin_token_401(allowlisted, headers):
    response = smoke(allowlisted.client, seed_alert(), headers=headers or {"X-Nothing": "1"})
    assert response.status_code == 401 and response.json["status"] == "unauthorized"
    assert allowlisted.paper.orders == []


def test_the_webhook_secret_in_the_body_alone_does_not_open_it(allowlisted):
    response = post(allowlisted.client, "/admin/test-alert", seed_alert(), address=TRADINGVIEW)
    assert response.status_code == 401


def test_the_scheduler_s_oidc_token_does_not_open_it(make_bridge):
    google = FakeGoogleCerts().start()
    try:
        bridge = make_bridge(
            scheduler_service_account=SCHEDULER, scheduler_audience=SERVICE_URL, scheduler_certs_url=google.url
        )
        token = google.key.id_token(audience=SERVICE_URL, email=SCHEDULER)
        scheduler = {"Authorization": f"Bearer {token}"}
        assert bridge.client.post("/process-queue", headers=scheduler).status_code == 200  # the token is good
        response = smoke(bridge.client, headers=scheduler)
        assert response.status_code == 401 and bridge.paper.orders == []
    finally:
        google.stop()


def test_it_claims_nothing_a_real_alert_with_the_same_body_is_placed(allowlisted):
    client = allowlisted.client
    keyed, keyless = seed_alert(), seed_alert(idempotency_key=None)
    for alert in (keyed, keyless):
        assert smoke(client, {**alert, "token": SECRET}).status_code == 200
        live = post(client, "/webhook", alert, address=TRADINGVIEW)
        assert live.status_code == 200 and live.json["status"] == "placed", live.json
        assert "Idempotent-Replayed" not in live.headers
    assert len(allowlisted.paper.orders) == 2


def test_a_body_token_a_live_alert_would_fail_is_said_never_echoed(allowlisted):
    response = smoke(allowlisted.client, seed_alert(token="not-the-secret-4242"))
    assert response.status_code == 200
    assert any("would be refused (401)" in warning for warning in response.json["warnings"])
    assert response.json["live"].startswith("a live alert with this body would have been refused (401)")
    assert "not-the-secret-4242" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides",
    [{"optionType": "XE"}, {"qty": "two"}, {"qty": 130}, {"expiry": "someday"}, {"symbol": "NOPE"}, {"sl": -5}],
    ids=["option-type", "qty-text", "qty-over-max", "expiry", "symbol", "sl"],
)
def test_a_bad_field_gets_the_same_answer_as_webhook_test(make_bridge, overrides):
    client = make_bridge().client  # no allowlist: /webhook/test answers too
    tested = post(client, "/webhook/test", seed_alert(**overrides))
    smoked = smoke(client, seed_alert(token=None, **overrides))
    assert 400 <= tested.status_code < 500 and smoked.status_code == tested.status_code, (tested.json, smoked.json)
    ours = ("alert_id", "smoke", "live")  # each run has its own alert id; smoke and live are the smoke test's
    assert {k: v for k, v in smoked.json.items() if k not in ours} == {
        k: v for k, v in tested.json.items() if k not in ours
    }
    assert smoked.json.get("field") or smoked.json.get("rule") or smoked.json.get("underlying")
    assert smoked.json["smoke"] is True and smoked.json["live"].startswith("a live alert would have been refused")


def test_a_body_that_is_not_json_is_400_naming_the_body(allowlisted):
    response = smoke(allowlisted.client, b"{not json")
    assert response.status_code == 400 and response.json["field"] == "body"


def test_with_the_market_closed_the_live_line_says_so(make_bridge):
    evening = FixedClock(datetime(2026, 11, 18, 20, 0, tzinfo=IST))
    bridge = make_bridge(clock=evening, market_hours_check=True)
    response = smoke(bridge.client)
    assert response.status_code == 200 and response.json["status"] == "dry_run"
    assert response.json["live"].startswith("a live alert would have been refused now, market closed")
    assert "MARKET_CLOSED_POLICY=reject" in response.json["live"]


def test_on_fyers_it_quotes_and_places_nothing(fyers, fake_fyers):
    client, services = fyers(allowed_source_ips=TRADINGVIEW_IPS)
    assert post(client, "/webhook/test", seed_alert()).status_code == 403
    before = len(fake_fyers.calls)
    response = smoke(client)
    assert response.status_code == 200, response.json
    [order] = response.json["orders"]
    assert order["ltp"] > 0 and order["expiry"] == "2026-11-23" and "paper" not in response.json
    assert response.json["live"].startswith("a live alert would have placed 1 order(s): BUY 65 NSE:NIFTY")
    called = fake_fyers.calls[before:]
    assert any(call.path == "quotes" for call in called)
    assert [c.path for c in called if c.path in ORDER_ENDPOINTS and c.method != "GET"] == []
    assert fake_fyers.orders == [] and services.controls.orders_today() == 0
