"""LocalStateStore: create-only, compare-and-swap, delete, list, and safety of keys."""

import multiprocessing
import threading

import pytest

from app.adapters.local_state import LocalStateStore


@pytest.fixture
def store(tmp_path):
    return LocalStateStore(tmp_path)


def test_create_only(store):
    assert store.create("a/b.json", {"x": 1}) == 1
    assert store.create("a/b.json", {"x": 2}) is None
    assert store.get("a/b.json").data == {"x": 1}


def test_compare_and_swap(store):
    store.create("k.json", {"v": 1})
    assert store.replace("k.json", {"v": 2}, 1) == 2
    assert store.replace("k.json", {"v": 3}, 1) is None
    assert store.get("k.json").data == {"v": 2}
    assert store.replace("missing.json", {}, 1) is None


def test_delete_at_generation(store):
    store.create("k.json", {})
    assert store.delete("k.json", generation=5) is False
    assert store.delete("k.json", generation=1) is True
    assert store.get("k.json") is None
    assert store.delete("k.json") is False


def test_list_by_prefix(store):
    for key in ("journal/2026-11-18/b.json", "journal/2026-11-18/a.json", "journal/2026-11-19/c.json"):
        store.create(key, {})
    assert store.list("journal/2026-11-18/") == ["journal/2026-11-18/a.json", "journal/2026-11-18/b.json"]
    assert store.list("nothing/") == []


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../b", "sp ace", ""])
def test_unsafe_keys_refused(store, key):
    with pytest.raises(ValueError):
        store.get(key)


def test_one_winner_among_threads(store):
    wins = []
    barrier = threading.Barrier(16)

    def race():
        barrier.wait(timeout=10)
        if store.create("claim.json", {"t": threading.get_ident()}):
            wins.append(1)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(wins) == 1


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
