"""IdempotencyLedger: claims, replays, TTLs and the takeover of a dead claimer's key."""

from datetime import timedelta

import pytest

from app.adapters.local_state import LocalStateStore
from app.domain.errors import AlertInFlight
from app.services.idempotency import Claim, IdempotencyLedger, Replay
from app.services.record import AlertResult, Outcome
from tests.clock import FixedClock
from tests.conftest import MARKET_MORNING


@pytest.fixture
def clock():
    return FixedClock(MARKET_MORNING)


@pytest.fixture
def ledger(tmp_path, clock):
    return IdempotencyLedger(LocalStateStore(tmp_path), clock, ttl_seconds=3600, lease_seconds=5)


def test_claim_complete_replay(ledger):
    claim = ledger.claim("k", "alert-1")
    assert isinstance(claim, Claim) and not claim.taken_over
    ledger.complete(claim, 200, {"status": "placed", "alert_id": "alert-1"})
    assert ledger.claim("k", "alert-2") == Replay(200, {"status": "placed", "alert_id": "alert-1"})


def test_in_flight_within_the_lease_is_409(ledger, clock):
    ledger.claim("k", "alert-1")
    clock.instant += timedelta(seconds=4)
    with pytest.raises(AlertInFlight):
        ledger.claim("k", "alert-2")


def test_dead_claim_is_taken_over_after_the_lease(ledger, clock):
    first = ledger.claim("k", "alert-1")
    clock.instant += timedelta(seconds=6)
    taker = ledger.claim("k", "alert-2")
    assert taker.taken_over and taker.claimed_at == first.claimed_at  # same tag, same look-up window
    with pytest.raises(AlertInFlight):
        ledger.claim("k", "alert-3")  # the taker holds a fresh lease
    ledger.complete(first, 200, {"alert_id": "alert-1"})  # the dead one's late write loses
    ledger.complete(taker, 200, {"alert_id": "alert-2"})
    assert ledger.claim("k", "alert-4").body == {"alert_id": "alert-2"}


def test_expired_answer_lets_the_key_be_claimed_afresh(ledger, clock):
    claim = ledger.claim("k", "alert-1", ttl=60)
    ledger.complete(claim, 200, {"alert_id": "alert-1"})
    clock.instant += timedelta(seconds=61)
    again = ledger.claim("k", "alert-2")
    assert isinstance(again, Claim) and again.claimed_at > claim.claimed_at


def test_release_frees_the_key(ledger):
    claim = ledger.claim("k", "alert-1")
    ledger.release(claim)
    assert isinstance(ledger.claim("k", "alert-2"), Claim)


def _completed_by_record(ledger, store, record_key, status, body):
    """Claim `k` naming a journal record, then complete it the way an alert does: by creating the record."""
    claim = ledger.claim("k", "alert-1", record=record_key)
    store.create(record_key, {"alert_id": "alert-1", "answer": ledger.record_answer(claim, _result(status, body))})
    return claim


def _result(status, body):
    return AlertResult({200: Outcome.PLACED, 202: Outcome.PENDING}[status], body)


def test_a_claim_is_completed_by_the_journal_record_it_names(ledger, clock):
    store = ledger.store
    claim = ledger.claim("k", "alert-1", record="journal/2026-11-18/r1.json")
    assert claim.record == "journal/2026-11-18/r1.json"
    with pytest.raises(AlertInFlight):
        ledger.claim("k", "alert-2")  # no record yet: still in flight
    body = {"status": "placed", "alert_id": "alert-1", "order_id": "X1"}
    store.create(claim.record, {"alert_id": "alert-1", "answer": ledger.record_answer(claim, _result(200, body))})
    assert ledger.claim("k", "alert-3") == Replay(200, body)
    clock.instant += timedelta(seconds=3601)
    assert isinstance(ledger.claim("k", "alert-4"), Claim)  # the TTL is over: claimed afresh


def test_a_record_never_written_leaves_the_claim_to_a_takeover(ledger, clock):
    ledger.claim("k", "alert-1", record="journal/2026-11-18/never.json")
    clock.instant += timedelta(seconds=6)
    assert ledger.claim("k", "alert-2", record="journal/2026-11-18/r2.json").taken_over


def test_amend_writes_the_settled_answer_into_the_claim_document(ledger):
    pending = {"status": "pending", "alert_id": "alert-1"}
    _completed_by_record(ledger, ledger.store, "journal/2026-11-18/r1.json", 202, pending)
    placed = {"status": "placed", "alert_id": "alert-1", "order_id": "X1"}
    assert ledger.amend("k", _result(200, placed))
    assert ledger.claim("k", "alert-2") == Replay(200, placed)
    assert ledger.store.get("journal/2026-11-18/r1.json").data["answer"]["status"] == 202  # the record stays as written


def test_a_done_document_of_the_old_shape_still_replays(ledger, clock):
    now = clock.now().timestamp()
    old = {"state": "done", "alert_id": "a0", "status": 200, "body": {"alert_id": "a0"}, "expires_at": now + 60}
    ledger.store.create(ledger._document("k"), old)
    assert ledger.claim("k", "alert-1") == Replay(200, {"alert_id": "a0"})
    assert ledger.amend("k", _result(202, {"status": "pending", "alert_id": "a0"}))
