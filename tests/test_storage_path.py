"""The state store on an alert's path: one round trip (the claim) before the order, few writes after it, no reads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.adapters.local_state import LocalStateStore, memory_file_system
from app.adapters.paper_broker import PaperBroker
from app.ports import StateStore
from app.services.controls import TradingControls
from tests.conftest import seed_alert, send_alert

HOLD = 2.0  # seconds the claim waits for a call that should run beside it (only a failure waits this long)


class CountingStore(StateStore):
    """Wraps a real store; records every operation in order, and where the order left."""

    def __init__(self, inner: StateStore):
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self.hold_claim_for: str | None = None  # a key prefix the claim waits to see started beside it
        self.overlapped: bool | None = None
        self._started: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def note(self, operation: str, key: str) -> None:
        """Record one operation (or the ORDER leaving)."""
        with self._lock:
            self.calls.append((operation, key))
            prefix = key.split("/", 1)[0] + "/"
            self._started.setdefault(prefix, threading.Event()).set()

    def get(self, key):
        self.note("get", key)
        return self.inner.get(key)

    def create(self, key, data):
        self.note("create", key)
        if key.startswith("idempotency/") and self.hold_claim_for is not None:
            with self._lock:
                started = self._started.setdefault(self.hold_claim_for, threading.Event())
            self.overlapped = started.wait(HOLD)  # set only by a call issued while the claim is in flight
            self.hold_claim_for = None
        return self.inner.create(key, data)

    def replace(self, key, data, generation):
        self.note("replace", key)
        return self.inner.replace(key, data, generation)

    def delete(self, key, generation=None):
        self.note("delete", key)
        return self.inner.delete(key, generation)

    def list(self, prefix):
        self.note("list", prefix)
        return self.inner.list(prefix)

    def watch(self, hold_claim_for: str | None = None) -> None:
        """Start counting afresh; the next claim waits (bounded) for a call under `hold_claim_for`."""
        with self._lock:
            self.calls.clear()
            self._started.clear()
        self.hold_claim_for, self.overlapped = hold_claim_for, None

    def around_order(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The calls before the ORDER and after it."""
        [at] = [i for i, call in enumerate(self.calls) if call[0] == "ORDER"]
        return self.calls[:at], self.calls[at + 1 :]


class MarkingBroker(PaperBroker):
    """The paper broker, marking in the store's log the instant an order leaves."""

    def __init__(self, store: CountingStore):
        super().__init__()
        self._store = store

    def place_order(self, order, deadline, **options):
        self._store.note("ORDER", "")
        return super().place_order(order, deadline, **options)


def _bridge(make_bridge, inner: StateStore, **overrides):
    store = CountingStore(inner)
    bridge = make_bridge(broker=MarkingBroker(store), store=store, **overrides)
    bridge.services.controls.switch_ttl = 600  # the test's two alerts fall within one cache life, however slow
    return bridge, store


def _kinds(calls):
    return [(operation, key.split("/", 1)[0]) for operation, key in calls]


def _place_warm_alert(bridge, store, hold_claim_for=None):
    """One alert to warm the caches, then the counted one; both placed."""
    assert send_alert(bridge.client, seed_alert(idempotency_key="warm-up")).status_code == 200
    store.watch(hold_claim_for)
    response = send_alert(bridge.client, seed_alert(idempotency_key="counted"))
    assert response.status_code == 200, response.json
    return response


@pytest.mark.parametrize("limit", [None, 5])
def test_a_placed_alert_makes_one_round_trip_before_the_order_and_reads_nothing_after(make_bridge, tmp_path, limit):
    bridge, store = _bridge(make_bridge, LocalStateStore(tmp_path / "state"), max_orders_per_day=limit)
    _place_warm_alert(bridge, store, hold_claim_for="limits/" if limit else None)
    before, after = store.around_order()
    if limit is None:
        assert _kinds(before) == [("create", "idempotency")]  # the claim, nothing else
        # 3 writes: the count, the trade to follow (filed beside it), the record carrying the answer
        assert sorted(_kinds(after)) == [("create", "journal"), ("create", "trades"), ("replace", "limits")]
    else:
        # The reservation is a compare-and-swap on the cached count, issued beside the claim.
        assert sorted(_kinds(before)) == [("create", "idempotency"), ("replace", "limits")]
        assert store.overlapped is True
        # 2 writes: the trade to follow, the record carrying the answer
        assert sorted(_kinds(after)) == [("create", "journal"), ("create", "trades")]
    assert bridge.services.controls.orders_today() == 2


def test_a_cold_kill_switch_is_read_beside_the_claim_not_after_it(make_bridge, tmp_path):
    bridge, store = _bridge(make_bridge, LocalStateStore(tmp_path / "state"))
    store.watch(hold_claim_for="control/")
    assert send_alert(bridge.client, seed_alert(idempotency_key="first")).status_code == 200
    before, after = store.around_order()
    assert sorted(_kinds(before)) == [("create", "idempotency"), ("get", "control")]
    assert store.overlapped is True
    assert not [call for call in after if call[0] == "get"]


def test_the_stored_answer_replays_from_the_journal_record(make_bridge, tmp_path):
    bridge, store = _bridge(make_bridge, LocalStateStore(tmp_path / "state"))
    placed = _place_warm_alert(bridge, store)
    store.watch()
    again = send_alert(bridge.client, seed_alert(idempotency_key="counted"))
    assert (again.status_code, again.json) == (200, placed.json)
    assert len(bridge.paper.orders) == 2
    assert _kinds(store.calls)[:3] == [("create", "idempotency"), ("get", "idempotency"), ("get", "journal")]


@pytest.mark.parametrize("limit", [None, 5])
def test_on_gcs_one_request_before_the_order_and_no_reads_after(make_bridge, gcs_bucket, limit):
    from app.adapters.gcs_state import GcsStateStore

    bridge, store = _bridge(make_bridge, GcsStateStore(gcs_bucket), max_orders_per_day=limit)
    _place_warm_alert(bridge, store, hold_claim_for="limits/" if limit else None)
    before, after = store.around_order()
    if limit is None:
        assert _kinds(before) == [("create", "idempotency")]
        assert sorted(_kinds(after)) == [("create", "journal"), ("create", "trades"), ("replace", "limits")]
    else:
        assert sorted(_kinds(before)) == [("create", "idempotency"), ("replace", "limits")]
        assert store.overlapped is True
        assert sorted(_kinds(after)) == [("create", "journal"), ("create", "trades")]
    replay = send_alert(bridge.client, seed_alert(idempotency_key="counted"))
    assert replay.status_code == 200 and replay.json["order_id"] == bridge.paper.orders[-1].order_id


def test_a_pause_here_is_seen_at_once_and_elsewhere_within_the_cache_life(tmp_path, clock):
    store = LocalStateStore(tmp_path)
    now = [0.0]
    here = TradingControls(store, clock, switch_ttl=5.0, monotonic=lambda: now[0])
    elsewhere = TradingControls(store, clock, switch_ttl=5.0, monotonic=lambda: now[0])
    assert elsewhere.entries_paused() is None  # read once, then cached
    here.pause("news")
    assert here.entries_paused()["reason"] == "news"  # this instance: at once
    now[0] = 4.9
    assert elsewhere.entries_paused() is None  # another instance: stale for up to the cache's life
    now[0] = 5.0
    assert elsewhere.entries_paused()["reason"] == "news"
    assert elsewhere.paused()["reason"] == "news"  # /admin/status reads the store itself


def test_the_day_count_stays_exact_when_two_instances_write_it(tmp_path, clock):
    store = CountingStore(LocalStateStore(tmp_path))
    one, two = TradingControls(store, clock), TradingControls(store, clock)
    for _ in range(3):
        one.count_orders(1)
        two.count_orders(1)
    assert one.reserve(2, 8).granted() and not two.reserve(3, 8).granted()
    assert one.orders_today() == two.orders_today() == 8
    store.watch()
    one.count_orders(1)  # this instance wrote last: one write, no read
    assert _kinds(store.calls) == [("replace", "limits")]


def test_no_fsync_on_a_memory_file_system_and_fsync_on_disk(tmp_path):
    assert LocalStateStore(tmp_path / "disk").fsyncs is True
    if memory_file_system(Path("/dev/shm")) is None:
        pytest.skip("/dev/shm is not a memory file system here")
    memory = Path("/dev/shm") / f"bridge-test-{tmp_path.name}"
    try:
        assert LocalStateStore(memory / "state").fsyncs is False
    finally:
        for path in sorted(memory.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        memory.rmdir()
