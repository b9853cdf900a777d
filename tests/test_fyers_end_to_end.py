"""BROKER=fyers end to end: the real SDK over HTTP against the fake Fyers server."""

from __future__ import annotations

import json
import logging
import time

import pytest

from app.domain.orders import order_tag
from tests.conftest import (
    ADMIN,
    APP_SECRET,
    MARKET_MORNING,
    PIN,
    SECRET,
    admin_headers,
    at_fyers,
    browser_login,
    login_link,
    path_of,
    seed_alert,
    send_alert,
    stored_tokens,
)


def orders_at(fake):
    return fake.placed_orders()


def test_login_then_alert_places_exactly_one_correct_order(fyers_client, fake_fyers):
    page = browser_login(fyers_client, fake_fyers)
    assert page.status_code == 200
    assert "Logged in until" in page.text
    response = send_alert(fyers_client, seed_alert())
    assert response.status_code == 200, response.json
    [order] = orders_at(fake_fyers)
    assert order["symbol"] == "NSE:NIFTY26NOV26000CE" == response.json["symbol"]
    assert order["qty"] == 65 and order["side"] == 1
    assert order["productType"] == "INTRADAY" and order["type"] == 2
    # The tag is fixed by the key and the instant it was claimed (the test clock).
    assert order["orderTag"] == "1:" + order_tag(f"alert-123@{MARKET_MORNING.timestamp()}")
    assert order["orderTag"][2:].isalnum() and len(order["orderTag"]) <= 32
    assert response.json["order_id"] == order["id"]
    assert response.json["ltp"] == fake_fyers.ltp("NSE:NIFTY26NOV26000CE")
    again = send_alert(fyers_client, seed_alert())
    assert again.json == response.json
    assert len(orders_at(fake_fyers)) == 1


@pytest.mark.parametrize("product", ["CO", "BO"])
def test_cover_and_bracket_orders_send_point_distances(logged_in, fake_fyers, product):
    response = send_alert(logged_in, seed_alert(productType=product, sl=None, tp=None))
    assert response.status_code == 200, response.json
    body = response.json
    [order] = orders_at(fake_fyers)
    sent = fake_fyers.calls[-1]["body"] if fake_fyers.calls[-1]["path"] == "orders/sync" else [
        c for c in fake_fyers.calls if c["path"] == "orders/sync"
    ][-1]["body"]
    assert "orderTag" not in sent
    assert sent["stopLoss"] == pytest.approx(round(body["ltp"] - body["sl"], 2))
    if product == "BO":
        assert sent["takeProfit"] == pytest.approx(round(body["tp"] - body["ltp"], 2))
    else:
        assert sent["takeProfit"] == 0
    assert order["productType"] == product


def test_sell_sends_side_minus_one(logged_in, fake_fyers):
    response = send_alert(logged_in, seed_alert(action="sell", open_short=True, idempotency_key="s-1"))
    assert response.status_code == 200
    assert orders_at(fake_fyers)[0]["side"] == -1


@pytest.mark.timeout(30)
def test_hung_broker_is_answered_within_three_seconds(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "hang")
    started = time.monotonic()
    response = send_alert(logged_in, seed_alert())
    elapsed = time.monotonic() - started
    fake_fyers.release_hangs()
    assert elapsed < 3.0
    assert response.status_code == 202
    assert response.json["status"] == "pending"
    assert orders_at(fake_fyers) == []


@pytest.mark.timeout(30)
def test_hung_quotes_answer_503_within_three_seconds(logged_in, fake_fyers):
    fake_fyers.add_fault("quotes", "hang", times=None)
    started = time.monotonic()
    response = send_alert(logged_in, seed_alert())
    elapsed = time.monotonic() - started
    fake_fyers.release_hangs()
    assert elapsed < 3.0
    assert response.status_code == 503
    assert fake_fyers.count("orders/sync") == 0


def test_accept_then_drop_then_three_resends_place_one_order(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    answers = [send_alert(logged_in, seed_alert()) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert len(orders_at(fake_fyers)) == 1
    assert fake_fyers.count("orders/sync") == 1
    assert {a.json["order_id"] for a in answers} == {orders_at(fake_fyers)[0]["id"]}


def test_accept_then_drop_without_key_is_found_by_tag(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    response = send_alert(logged_in, seed_alert(idempotency_key=None))
    assert response.status_code == 200
    assert fake_fyers.count("orders/sync") == 1


def test_code_201_is_looked_up_never_resent(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "code_201")
    response = send_alert(logged_in, seed_alert())
    assert response.status_code in (200, 202)
    assert fake_fyers.count("orders/sync") == 1
    send_alert(logged_in, seed_alert())
    assert fake_fyers.count("orders/sync") == 1
    assert len(orders_at(fake_fyers)) == 1


def test_pending_is_settled_by_the_next_resend(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "code_201", hidden_reads=1000)
    first = send_alert(logged_in, seed_alert())
    assert first.status_code == 202 and first.json["status"] == "pending"
    assert fake_fyers.count("orders/sync") == 1  # ambiguous: looked up, never re-sent
    fake_fyers.settle()  # the order shows up in the book
    second = send_alert(logged_in, seed_alert())
    assert second.status_code == 200, second.json
    assert second.json["status"] == "placed"
    assert second.json["order_id"] == orders_at(fake_fyers)[0]["id"]
    assert fake_fyers.count("orders/sync") == 1 and len(orders_at(fake_fyers)) == 1
    third = send_alert(logged_in, seed_alert())
    assert third.json == second.json


def test_pending_is_settled_by_reconcile(logged_in, fake_fyers, fyers_services):
    fake_fyers.add_fault("orders/sync", "drop_after_accept", hidden_reads=1000)
    first = send_alert(logged_in, seed_alert())
    assert first.status_code == 202
    fake_fyers.settle()
    settled = logged_in.post("/reconcile", headers=admin_headers())
    assert settled.json["settled"] == [{"alert_id": first.json["alert_id"], "status": "placed"}]
    assert send_alert(logged_in, seed_alert()).json["status"] == "placed"
    assert fake_fyers.count("orders/sync") == 1


def test_rate_limit_is_paced_and_retried(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "rate_limit", retry_after=0.3)
    response = send_alert(logged_in, seed_alert())
    assert response.status_code == 200, response.json
    assert fake_fyers.count("orders/sync") == 2
    assert len(orders_at(fake_fyers)) == 1


def test_connection_reset_mid_order_is_looked_up_not_resent(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "reset_before")
    response = send_alert(logged_in, seed_alert())
    # A reset may come after the request left, so it is ambiguous: looked up, not re-sent.
    assert response.status_code == 202
    assert fake_fyers.count("orders/sync") == 1
    assert orders_at(fake_fyers) == []


def test_refused_connection_is_503_and_nothing_placed(logged_in, fake_fyers, fyers_services):
    fake_fyers.stop()
    response = send_alert(logged_in, seed_alert())
    assert response.status_code == 503
    assert response.json["status"] == "broker_unavailable"


def test_quote_5xx_is_retried(logged_in, fake_fyers):
    fake_fyers.add_fault("quotes", "status", status=502)
    response = send_alert(logged_in, seed_alert())
    assert response.status_code == 200
    assert fake_fyers.count("quotes") == 2


def test_rejected_order_is_422_with_fyers_message_and_not_retried(logged_in, fake_fyers):
    fake_fyers.reject_next_order("RED:Margin Shortfall")
    response = send_alert(logged_in, seed_alert())
    assert response.status_code == 422
    assert response.json["status"] == "rejected"
    assert "Margin Shortfall" in response.json["message"]
    assert fake_fyers.count("orders/sync") == 1
    again = send_alert(logged_in, seed_alert())
    assert again.status_code == 422 and fake_fyers.count("orders/sync") == 1


def test_expired_token_is_503_login_required_and_nothing_sent(logged_in, fake_fyers):
    fake_fyers.expire_tokens()
    first = send_alert(logged_in, seed_alert())
    assert first.status_code == 503
    assert first.json["status"] == "login_required"
    calls = len(fake_fyers.calls)
    second = send_alert(logged_in, seed_alert(idempotency_key="after-expiry"))
    assert second.status_code == 503 and second.json["status"] == "login_required"
    assert len(fake_fyers.calls) == calls  # nothing sent to Fyers until the next login
    assert fake_fyers.count("orders/sync") == 0
    assert browser_login(logged_in, fake_fyers).status_code == 200
    assert send_alert(logged_in, seed_alert()).status_code == 200


def test_alert_before_any_login_is_503(fyers_client, fake_fyers):
    response = send_alert(fyers_client, seed_alert())
    assert response.status_code == 503 and response.json["status"] == "login_required"
    assert fake_fyers.calls == []


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/auth-url"),
        ("POST", "/generate-token"),
        ("POST", "/refresh-token"),
        ("GET", "/token-status"),
        ("POST", "/reconcile"),
        ("GET", "/orders"),
    ],
)
@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {ADMIN}", "Bearer", f"Bearer {ADMIN}x", ADMIN]
)
def test_operator_endpoints_need_the_admin_token(fyers_client, method, path, header):
    headers = {"Authorization": header} if header else {}
    response = fyers_client.open(path, method=method, headers=headers)
    assert response.status_code == 401
    assert response.json["status"] == "unauthorized"


def test_forged_state_is_refused(fyers_client, fake_fyers):
    code = fake_fyers.issue_auth_code()
    response = fyers_client.get(f"/auth/callback?auth_code={code}&state=forged-state-value")
    assert response.status_code == 400
    assert "Login failed" in response.text
    assert fyers_client.get("/token-status", headers=admin_headers()).json["logged_in"] is False


def test_reused_state_is_refused(fyers_client, fake_fyers):
    callback = at_fyers(fyers_client.get(path_of(login_link(fyers_client))))
    assert fyers_client.get(callback).status_code == 200
    replay = fyers_client.get(callback)
    assert replay.status_code == 400


def test_auth_url_redirects_a_browser(fyers_client):
    response = fyers_client.get("/auth-url?redirect=1", headers=admin_headers())
    assert response.status_code == 302
    # Through the login link, which marks this browser, on to Fyers.
    onward = fyers_client.get(path_of(response.headers["Location"]))
    assert onward.status_code == 302
    assert "generate-authcode" in onward.headers["Location"]


def test_generate_token_with_a_body_code(fyers_client, fake_fyers):
    response = fyers_client.post(
        "/generate-token", json={"auth_code": fake_fyers.issue_auth_code()}, headers=admin_headers()
    )
    assert response.status_code == 200, response.json
    assert response.json["logged_in"] is True
    assert "access_token" not in json.dumps(response.json)


def test_generate_token_with_a_bad_code_is_refused(fyers_client):
    response = fyers_client.post("/generate-token", json={"auth_code": "not-a-code"}, headers=admin_headers())
    assert response.status_code == 422
    assert response.json["status"] == "login_failed"


def test_refresh_token_refreshes_when_fyers_allows(logged_in, fake_fyers):
    response = logged_in.post("/refresh-token", headers=admin_headers())
    assert response.status_code == 200
    assert response.json["status"] == "refreshed"
    assert send_alert(logged_in, seed_alert()).status_code == 200


def test_refresh_token_says_login_required_with_a_link(logged_in, fake_fyers):
    fake_fyers.refresh_enabled = False
    response = logged_in.post("/refresh-token", headers=admin_headers())
    assert response.status_code == 200
    assert response.json["status"] == "login_required"
    assert response.json["login_url"].startswith("https://bridge.test/auth/start?t=")


def test_refresh_token_with_nothing_stored(fyers_client):
    response = fyers_client.post("/refresh-token", headers=admin_headers())
    assert response.json["status"] == "login_required"
    assert response.json["login_url"]


def test_readiness_follows_the_login(fyers_client, fake_fyers):
    not_ready = fyers_client.get("/readyz")
    assert not_ready.status_code == 503
    browser_login(fyers_client, fake_fyers)
    ready = fyers_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["broker"] == "fyers"
    assert "XY12345" not in ready.text and "TEST USER" not in ready.text  # no profile data


def test_no_sdk_log_files_and_no_secrets_in_logs(
    make_bridge, fyers_settings, fake_fyers, tmp_path, monkeypatch, caplog
):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    bridge = make_bridge(settings=fyers_settings)
    client, services = bridge.client, bridge.services
    browser_login(client, fake_fyers)
    send_alert(client, seed_alert())
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    send_alert(client, seed_alert(idempotency_key="second"))
    client.post("/refresh-token", headers=admin_headers())
    fake_fyers.expire_tokens()
    send_alert(client, seed_alert(idempotency_key="third"))
    services.broker.close()
    assert not (tmp_path / "fyersApi.log").exists() and not (tmp_path / "fyersRequests.log").exists()
    stored = stored_tokens(services.store.get("tokens/tokens.json").data)
    text = "\n".join(
        r.getMessage() + " " + json.dumps(getattr(r, "json_fields", {}), default=str) for r in caplog.records
    )
    for secret in (stored["access_token"], stored["refresh_token"], SECRET, ADMIN, APP_SECRET, PIN):
        assert secret not in text


def test_tagless_cover_order_is_reconciled_by_contract_side_and_qty(logged_in, fake_fyers):
    fake_fyers.add_fault("orders/sync", "drop_after_accept")
    response = send_alert(logged_in, seed_alert(productType="CO", sl=None, tp=None))
    assert response.status_code == 200, response.json
    assert response.json["order_id"] == orders_at(fake_fyers)[0]["id"]
    assert fake_fyers.count("orders/sync") == 1
