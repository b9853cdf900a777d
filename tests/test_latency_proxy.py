"""The bench's storage latency proxy: the real GCS client through it, every round trip counted by object."""

from __future__ import annotations

import time

from app.adapters.gcs_state import GcsStateStore
from bench.latency_proxy import LatencyProxy


def test_every_storage_request_goes_through_the_proxy_and_is_counted(fake_gcs, gcs_bucket, monkeypatch):
    with LatencyProxy(fake_gcs.url, delay=0.001) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        store = GcsStateStore(gcs_bucket)
        started = time.time()
        generation = store.create("idempotency/k1", {"state": "claimed"})
        assert generation is not None
        assert store.replace("idempotency/k1", {"state": "done"}, generation) is not None
        assert store.get("idempotency/k1").data == {"state": "done"}
        assert store.get("journal/absent") is None
        assert store.list("idempotency/") == ["idempotency/k1"]
        seen = proxy.between(started, time.time(), gcs_bucket)

    # Besides one request per store call, the client reads the bucket's metadata ("bucket") at times.
    calls = [s for s in seen if s.kind() != "bucket"]
    assert [s.kind() for s in calls] == [
        "write idempotency", "write idempotency", "read idempotency", "read journal", "list"]
    assert [s.object for s in calls[:3]] == ["idempotency/k1"] * 3
    assert proxy.requests_between(started, time.time(), "another-bucket") == 0
