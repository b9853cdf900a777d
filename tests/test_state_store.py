"""The StateStore contract, run against both stores: local files and GCS (fake-gcs-server)."""

import multiprocessing

import pytest

from app.adapters.local_state import LocalStateStore
from tests.concurrency import together


@pytest.fixture(params=["local", "gcs"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStateStore(tmp_path)
    from app.adapters.gcs_state import GcsStateStore

    return GcsStateStore(request.getfixturevalue("gcs_bucket"))


def test_create_only(store):
    assert store.create("a/b.json", {"x": 1}) is not None
    assert store.create("a/b.json", {"x": 2}) is None
    assert store.get("a/b.json").data == {"x": 1}


def test_compare_and_swap(store):
    first = store.create("k.json", {"v": 1})
    second = store.replace("k.json", {"v": 2}, first)
    assert second is not None and second != first
    assert store.replace("k.json", {"v": 3}, first) is None
    assert store.get("k.json").data == {"v": 2} and store.get("k.json").generation == second
    assert store.replace("missing.json", {}, 1) is None


def test_delete_at_generation(store):
    generation = store.create("k.json", {})
    assert store.delete("k.json", generation=generation + 5) is False
    assert store.delete("k.json", generation=generation) is True
    assert store.get("k.json") is None
    assert store.delete("k.json") is False


def test_list_by_prefix(store):
    for key in ("journal/2026-11-18/b.json", "journal/2026-11-18/a.json", "journal/2026-11-19/c.json"):
        store.create(key, {})
    assert store.list("journal/2026-11-18/") == ["journal/2026-11-18/a.json", "journal/2026-11-18/b.json"]
    assert store.list("nothing/") == []


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../b", "sp ace", ""])
def test_unsafe_local_keys_refused(tmp_path, key):
    with pytest.raises(ValueError):
        LocalStateStore(tmp_path).get(key)


def test_deleted_key_can_be_created_again(store):
    store.create("k.json", {"v": 1})
    assert store.delete("k.json")
    assert store.create("k.json", {"v": 2}) is not None
    assert store.get("k.json").data == {"v": 2}


def test_one_winner_among_racing_deletes(store):
    store.create("state.json", {})
    generation = store.get("state.json").generation
    wins = together(8, lambda i: store.delete("state.json", generation))
    assert wins.count(True) == 1
    assert store.get("state.json") is None


def test_one_winner_among_racing_swaps(store):
    store.create("cas.json", {"v": 0})
    generation = store.get("cas.json").generation
    results = together(8, lambda i: store.replace("cas.json", {"v": i + 1}, generation))
    wins = [i + 1 for i, generation in enumerate(results) if generation is not None]
    assert len(wins) == 1
    assert store.get("cas.json").data == {"v": wins[0]}


def test_one_winner_among_threads(store):
    results = together(16, lambda i: store.create("claim.json", {"t": i}))
    assert sum(1 for generation in results if generation is not None) == 1


def _race_in_process(root, results):
    results.put(LocalStateStore(root).create("claim.json", {}) is not None)


def test_one_winner_among_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_race_in_process, args=(str(tmp_path), results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    assert sorted(results.get(timeout=5) for _ in procs) == [False, False, False, True]


def test_gcs_write_that_finds_its_own_data_after_412_is_a_success(gcs_bucket):
    """A retried write whose first attempt landed trips its own precondition: not a conflict."""
    from app.adapters.gcs_state import GcsStateStore

    store = GcsStateStore(gcs_bucket)
    generation = store.create("claim.json", {"alert_id": "a1"})
    assert store.create("claim.json", {"alert_id": "a1"}) == generation
    assert store.create("claim.json", {"alert_id": "a2"}) is None
    swapped = store.replace("claim.json", {"alert_id": "a1", "state": "done"}, generation)
    assert store.replace("claim.json", {"alert_id": "a1", "state": "done"}, generation) == swapped


def test_gcs_unreachable_is_state_unavailable(monkeypatch):
    from app.adapters.gcs_state import GcsStateStore
    from app.domain.errors import StateUnavailable
    from tests.service_process import free_port

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    store = GcsStateStore("nowhere")
    with pytest.raises(StateUnavailable):
        store.create("k.json", {})


def test_a_local_compare_and_swap_is_one_store_operation(tmp_path):
    """replace/delete read the file themselves: a wrapper sees no get it did not ask for."""
    reads = []

    class Counting(LocalStateStore):
        def get(self, key):
            reads.append(key)
            return super().get(key)

    store = Counting(tmp_path)
    generation = store.create("a.json", {"n": 1})
    generation = store.replace("a.json", {"n": 2}, generation)
    assert store.delete("a.json", generation)
    assert reads == []
