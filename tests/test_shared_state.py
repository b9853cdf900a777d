"""Two service processes sharing one fake-gcs-server and the fake Fyers: exactly-once across instances."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse

import pytest
import requests

from tests.concurrency import together
from tests.conftest import ADMIN, APP_SECRET, PIN, SECRET, browser_session, path_of, seed_alert, stored_tokens
from tests.service_process import ServiceProcess, fyers_env

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def two_processes(tmp_path, fake_fyers, fake_gcs, gcs_bucket, **env):
    """Two service processes on one fake-gcs bucket against one fake Fyers; stopped afterwards."""
    env = fyers_env(fake_fyers, GCS_BUCKET_NAME=gcs_bucket, STORAGE_EMULATOR_HOST=fake_gcs.url, **env)
    started = []
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            started.append(ServiceProcess(env, folder).start())
        yield started
    finally:
        for service in started:
            service.stop()


@pytest.fixture
def instances(tmp_path, fake_fyers, fake_gcs, gcs_bucket):
    yield from two_processes(tmp_path, fake_fyers, fake_gcs, gcs_bucket, CLAIM_LEASE_SECONDS="3.5")


def login_through(service: ServiceProcess) -> None:
    """The operator's login through one instance, in one browser (its cookies kept)."""
    browser = browser_session()
    login_url = requests.get(f"{service.base}/auth-url", headers=ADMIN_HEADERS, timeout=5).json()["login_url"]
    started = browser.get(service.base + path_of(login_url), allow_redirects=False, timeout=5)
    location = requests.get(started.headers["Location"], allow_redirects=False, timeout=5).headers["Location"]
    query = urllib.parse.urlsplit(location).query
    page = browser.get(f"{service.base}/auth/callback?{query}", timeout=10)
    assert page.status_code == 200, page.text


def post(service: ServiceProcess, alert: dict) -> requests.Response:
    return requests.post(
        f"{service.base}/webhook", data=json.dumps(alert), headers={"Content-Type": "text/plain"}, timeout=10
    )


def test_login_through_one_instance_is_used_by_the_other(instances, fake_fyers):
    a, b = instances
    assert post(b, seed_alert()).json()["status"] == "login_required"
    login_through(a)
    response = post(b, seed_alert(idempotency_key="after-login"))
    assert response.status_code == 200, response.text
    assert len(fake_fyers.placed_orders()) == 1
    assert requests.get(f"{b.base}/readyz", timeout=5).status_code == 200


def test_fifty_concurrent_posts_over_two_instances_place_one_order(instances, fake_fyers):
    login_through(instances[0])

    def send(i):
        response = post(instances[i % 2], seed_alert(idempotency_key="burst-50"))
        return response.status_code, response.json()

    answers = together(50, send)
    assert len(answers) == 50
    [order] = fake_fyers.placed_orders()
    assert fake_fyers.count("orders/sync") == 1
    for status, body in answers:
        assert status in (200, 409), body
        if status == 200:
            assert body["order_id"] == order["id"]
    assert sum(1 for status, _ in answers if status == 200) >= 1


def test_keyless_alert_resent_to_the_other_instance_places_one_order(instances, fake_fyers):
    a, b = instances
    login_through(a)
    alert = seed_alert(idempotency_key=None)
    first = post(a, alert)
    resent = post(b, alert)
    assert first.status_code == resent.status_code == 200
    assert resent.json()["order_id"] == first.json()["order_id"]
    assert len(fake_fyers.placed_orders()) == 1


@pytest.mark.timeout(90)
@pytest.mark.parametrize("broker_had_it", [True, False], ids=["order-reached-fyers", "order-lost"])
def test_instance_killed_mid_order_then_resends_to_the_other_place_one_order(
    instances, fake_fyers, broker_had_it
):
    a, b = instances
    login_through(a)
    fake_fyers.add_fault("orders/sync", "hang", accept=broker_had_it)
    alert = seed_alert(idempotency_key="killed-mid-order")
    in_flight = threading.Thread(target=lambda: _swallow(lambda: post(a, alert)))
    in_flight.start()
    for _ in range(100):  # until A's order call is at the broker
        if fake_fyers.count("orders/sync") >= 1:
            break
        time.sleep(0.05)
    assert fake_fyers.count("orders/sync") == 1
    a.kill()
    fake_fyers.release_hangs()
    in_flight.join(timeout=15)

    # TradingView's resends (5 s apart in life, compressed here) reach instance B.
    answers = []
    for _ in range(20):
        response = post(b, alert)
        answers.append(response.status_code)
        if response.status_code == 200:
            break
        assert response.status_code == 409, response.text  # A's claim, until its lease ends
        time.sleep(0.5)
    assert answers[-1] == 200, answers
    assert len(fake_fyers.placed_orders()) == 1
    final = post(b, alert)
    assert final.status_code == 200 and final.json()["order_id"] == fake_fyers.placed_orders()[0]["id"]
    if broker_had_it:
        assert fake_fyers.count("orders/sync") == 1  # found in the book, not sent again


def test_no_token_or_secret_in_any_journal_object(instances, fake_fyers, gcs_bucket):
    from google.cloud import storage

    a, b = instances
    login_through(a)
    post(a, seed_alert())
    post(b, seed_alert(token="wrong-secret"))
    post(b, seed_alert(qty=64, idempotency_key="bad"))
    journal = requests.get(f"{a.base}/orders", headers=ADMIN_HEADERS, timeout=10).json()
    assert journal["count"] == 2  # the wrong secret is counted, not journaled
    client = storage.Client()
    bucket = client.bucket(gcs_bucket)
    tokens = stored_tokens(json.loads(bucket.blob("tokens/tokens.json").download_as_bytes()))
    secrets = [tokens["access_token"], tokens["refresh_token"], SECRET, ADMIN, APP_SECRET, PIN]
    for blob in client.list_blobs(bucket, prefix="journal/"):
        text = blob.download_as_text()
        for secret in secrets:
            assert secret not in text, blob.name


def _swallow(call):
    try:
        call()
    except requests.RequestException:
        pass
