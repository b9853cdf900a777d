"""IdempotencyLedger: claims, replays, TTLs and the takeover of a dead claimer's key."""

from datetime import timedelta

import pytest

from app.adapters.local_state import LocalStateStore
from app.domain.errors import AlertInFlight
from app.services.idempotency import Claim, IdempotencyLedger, Replay
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
