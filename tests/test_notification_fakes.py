"""The notification fakes: the real Pub/Sub PublisherClient against FakePubSub, and HttpReceiver.

Facts about the real client that these tests pin down:
- the default batch (max_latency 0.01 s) already sends within ~10 ms; BatchSettings(max_messages=1)
  makes every publish its own Publish RPC at once;
- the default publish retry covers UNAVAILABLE / DEADLINE_EXCEEDED / ... for 600 s with a
  60 s per-attempt timeout, and a plain float `timeout=` does NOT bound it (api_core falls back
  to the full timeout once less than 1 s remains). Bound a publish with `retry=None,
  timeout=T` or a `Retry(timeout=T)` plus a per-attempt `timeout`;
- closing the transport while a publish is still in flight kills the client's commit thread
  with "Cannot invoke RPC on closed channel!" (an unhandled thread exception), so every test
  lets its futures resolve before the client is closed.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest
import requests
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import pubsub_v1

from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.pubsub import FakePubSub

pytestmark = pytest.mark.timeout(30)

TOPIC = "projects/test-project/topics/alerts"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def fake_pubsub(monkeypatch):
    fake = FakePubSub().start()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake.host)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    yield fake
    fake.stop()


def close_publisher(client: pubsub_v1.PublisherClient) -> None:
    client.stop()  # flushes nothing here: every test already resolved its futures
    client.transport.close()


@pytest.fixture
def publisher(fake_pubsub):
    client = pubsub_v1.PublisherClient()
    yield client
    close_publisher(client)


def bounded_retry(total: float) -> gretry.Retry:
    """The publish retry a caller that must not wait for ever can pass: gives up after `total` s."""
    return gretry.Retry(
        initial=0.1,
        maximum=0.5,
        multiplier=2,
        timeout=total,
        predicate=gretry.if_exception_type(
            gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.Aborted, gexc.InternalServerError
        ),
    )


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


# -- FakePubSub ---------------------------------------------------------------------------


def test_fake_host_is_a_local_free_port(fake_pubsub):
    host, port = fake_pubsub.host.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0


def test_real_publisher_client_publishes_to_the_fake(fake_pubsub, publisher):
    first = publisher.publish(TOPIC, b'{"event": "order_placed"}', kind="order", alert_id="alert-123")
    second = publisher.publish(TOPIC, b"second")

    assert first.result(timeout=5) == "1"
    assert second.result(timeout=5) == "2"
    assert fake_pubsub.messages == [
        (TOPIC, b'{"event": "order_placed"}', {"kind": "order", "alert_id": "alert-123"}),
        (TOPIC, b"second", {}),
    ]


def test_batch_settings_max_messages_one_sends_each_message_at_once(fake_pubsub):
    client = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(max_messages=1))
    try:
        ids = [client.publish(TOPIC, f"m{i}".encode()).result(timeout=5) for i in range(3)]
    finally:
        close_publisher(client)

    assert ids == ["1", "2", "3"]
    assert fake_pubsub.publish_calls == 3
    assert [data for _, data, _ in fake_pubsub.messages] == [b"m0", b"m1", b"m2"]


def test_get_topic_and_create_topic(fake_pubsub, publisher):
    assert publisher.get_topic(topic=TOPIC, timeout=5).name == TOPIC
    created = publisher.create_topic(name="projects/test-project/topics/fresh", timeout=5)
    assert created.name == "projects/test-project/topics/fresh"
    with pytest.raises(gexc.AlreadyExists):
        publisher.create_topic(name="projects/test-project/topics/fresh", timeout=5, retry=None)


def test_hung_publish_times_out_and_stop_releases_it(fake_pubsub, publisher):
    fake_pubsub.hang = True
    future = publisher.publish(TOPIC, b"stuck")

    with pytest.raises(TimeoutError):  # concurrent.futures.TimeoutError is TimeoutError on 3.11
        future.result(timeout=1)
    assert fake_pubsub.publish_calls == 1

    started = time.monotonic()
    fake_pubsub.stop()
    # The released RPC is answered FAILED_PRECONDITION, which the client does not retry.
    with pytest.raises(gexc.FailedPrecondition):
        future.result(timeout=5)
    assert time.monotonic() - started < 3
    assert fake_pubsub.messages == []


def test_hung_publish_clears_when_hang_is_lifted(fake_pubsub, publisher):
    fake_pubsub.hang = True
    future = publisher.publish(TOPIC, b"late")
    with pytest.raises(TimeoutError):
        future.result(timeout=0.5)

    fake_pubsub.hang = False
    assert future.result(timeout=5) == "1"
    assert fake_pubsub.messages == [(TOPIC, b"late", {})]


def test_hung_publish_is_bounded_by_a_single_attempt_deadline(fake_pubsub, publisher):
    fake_pubsub.hang = True
    started = time.monotonic()
    future = publisher.publish(TOPIC, b"x", retry=None, timeout=1.0)

    with pytest.raises(gexc.DeadlineExceeded):
        future.result(timeout=10)
    assert time.monotonic() - started < 5
    assert fake_pubsub.messages == []


def test_hung_publish_is_bounded_by_retry_timeout(fake_pubsub):
    options = pubsub_v1.types.PublisherOptions(retry=bounded_retry(2.0), timeout=1.0)
    client = pubsub_v1.PublisherClient(publisher_options=options)
    fake_pubsub.hang = True
    try:
        started = time.monotonic()
        with pytest.raises(gexc.RetryError):
            client.publish(TOPIC, b"x").result(timeout=10)
        assert time.monotonic() - started < 6
    finally:
        close_publisher(client)
    assert fake_pubsub.publish_calls >= 2  # the per-attempt deadline was retried
    assert fake_pubsub.messages == []


def test_fail_with_non_retryable_code_fails_at_once(fake_pubsub, publisher):
    fake_pubsub.fail_with = grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(gexc.PermissionDenied):
        publisher.publish(TOPIC, b"x").result(timeout=5)
    assert fake_pubsub.publish_calls == 1

    fake_pubsub.fail_with = None
    assert publisher.publish(TOPIC, b"y").result(timeout=5) == "1"
    assert fake_pubsub.messages == [(TOPIC, b"y", {})]


def test_fail_with_unavailable(fake_pubsub, publisher):
    fake_pubsub.fail_with = grpc.StatusCode.UNAVAILABLE

    with pytest.raises(gexc.ServiceUnavailable):
        publisher.publish(TOPIC, b"once", retry=None).result(timeout=5)
    assert fake_pubsub.publish_calls == 1

    # The default retry would keep going for 600 s; a bounded one retries, then gives up.
    with pytest.raises(gexc.RetryError) as raised:
        publisher.publish(TOPIC, b"retried", retry=bounded_retry(1.5), timeout=1.0).result(timeout=10)
    assert isinstance(raised.value.cause, gexc.ServiceUnavailable)
    assert fake_pubsub.publish_calls > 2
    assert fake_pubsub.messages == []


def test_client_and_fake_leave_no_threads_behind(monkeypatch):
    before = {t.ident for t in threading.enumerate()}
    with FakePubSub() as fake:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake.host)
        monkeypatch.setenv("NO_GCE_CHECK", "true")
        client = pubsub_v1.PublisherClient()
        assert client.publish(TOPIC, b"x").result(timeout=5) == "1"
        close_publisher(client)

    deadline = time.monotonic() + 5
    while True:
        leftover = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not leftover or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert leftover == []


# -- HttpReceiver -------------------------------------------------------------------------


def test_receiver_records_a_json_post(receiver):
    assert receiver.url.startswith("http://127.0.0.1:")
    response = requests.post(
        f"{receiver.url}/hooks/alert?source=test", json={"a": 1}, headers={"X-Trace": "t-1"}, timeout=5
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [request] = receiver.requests
    assert request["method"] == "POST"
    assert request["path"] == "/hooks/alert"
    assert request["query"] == {"source": "test"}
    assert request["headers"]["X-Trace"] == "t-1"
    assert request["json"] == {"a": 1}
    assert request["body"] == '{"a": 1}'


def test_receiver_records_raw_text_and_get(receiver):
    requests.post(f"{receiver.url}/raw", data="not json", headers={"Content-Type": "text/plain"}, timeout=5)
    requests.get(f"{receiver.url}/health", timeout=5)

    raw, get = receiver.requests
    assert raw["json"] is None and raw["body"] == "not json"
    assert (get["method"], get["path"], get["body"]) == ("GET", "/health", "")


def test_receiver_answers_the_configured_status(receiver):
    receiver.status = 500
    response = requests.post(f"{receiver.url}/hook", json={}, timeout=5)
    assert response.status_code == 500
    assert response.json()["ok"] is False
    assert len(receiver.requests) == 1


def test_receiver_hang_makes_the_client_time_out_and_stop_releases():
    server = HttpReceiver().start()
    try:
        server.hang = True
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(f"{server.url}/hook", json={"late": True}, timeout=0.5)
        assert server.wait_for_requests(1)[0]["json"] == {"late": True}  # recorded while held
    finally:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3


def test_receiver_hang_lifted_answers_the_held_request(receiver):
    receiver.hang = True
    result = {}

    def call():
        result["response"] = requests.post(f"{receiver.url}/hook", json={}, timeout=10)

    caller = threading.Thread(target=call)
    caller.start()
    receiver.wait_for_requests(1)
    receiver.hang = False
    caller.join(timeout=10)
    assert result["response"].status_code == 200


def test_receiver_is_a_fake_telegram_bot_api(receiver):
    base = f"{receiver.url}/bot123456:ABC-def"
    first = requests.post(
        f"{base}/sendMessage", json={"chat_id": -1001, "text": "Order placed", "parse_mode": "HTML"}, timeout=5
    )
    second = requests.post(f"{base}/sendMessage", data={"chat_id": "42", "text": "form body"}, timeout=5)
    other = requests.post(f"{base}/getMe", json={}, timeout=5)

    assert first.json() == {
        "ok": True,
        "result": {
            "message_id": 1,
            "date": first.json()["result"]["date"],
            "chat": {"id": -1001},
            "text": "Order placed",
        },
    }
    assert second.json()["result"]["message_id"] == 2
    assert second.json()["result"]["chat"] == {"id": "42"}
    assert other.json() == {"ok": True}
    assert receiver.telegram_messages() == [
        {"chat_id": -1001, "text": "Order placed", "parse_mode": "HTML", "token": "123456:ABC-def"},
        {"chat_id": "42", "text": "form body", "token": "123456:ABC-def"},
    ]


def test_telegram_error_status(receiver):
    receiver.status = 429
    response = requests.post(f"{receiver.url}/botT/sendMessage", json={"chat_id": 1, "text": "x"}, timeout=5)
    assert response.status_code == 429
    assert response.json() == {"ok": False, "error_code": 429, "description": "fake error 429"}
    assert receiver.telegram_messages() == [{"chat_id": 1, "text": "x", "token": "T"}]
