"""The typed alert record: every error has an outcome, and the stored JSON keeps its old keys and words."""

from app.domain import errors
from app.services.record import AlertRecord, Outcome, read_outcome


def _error_classes(cls=errors.BridgeError):
    yield cls
    for sub in cls.__subclasses__():
        yield from _error_classes(sub)


def test_every_error_code_is_an_outcome():
    assert {cls.code for cls in _error_classes()} <= {outcome.value for outcome in Outcome}


def test_a_record_stores_only_what_is_known_with_the_outcome_as_its_word():
    record = AlertRecord("a1", body_bytes=0, outcome=Outcome.PLACED, status=200, latency_ms=0.0)
    record.broker_answer({"order_id": "1"})
    assert record.as_dict() == {
        "alert_id": "a1", "body_bytes": 0, "broker": [{"order_id": "1"}], "outcome": "placed", "status": 200,
        "latency_ms": 0.0,
    }
    assert type(record.as_dict()["outcome"]) is str


def test_a_parsed_alert_keeps_its_key_and_strategy_even_when_none():
    record = AlertRecord("a1", message_read=True, outcome=Outcome.INVALID, status=400)
    assert record.as_dict() == {
        "alert_id": "a1", "idempotency_key": None, "strategy": None, "outcome": "invalid", "status": 400,
    }


def test_a_record_written_before_reads_back_with_its_outcome_as_the_enum():
    stored = {"alert_id": "a1", "outcome": "replayed_settled", "status": 200}
    read = read_outcome(stored)
    assert read["outcome"] is Outcome.REPLAYED_SETTLED and read == stored
