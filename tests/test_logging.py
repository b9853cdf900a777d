"""Logging: JSON lines with trace on Cloud Run, readable lines elsewhere, context, no secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.logs import Redactor, configure_logging, log_event
from tests.conftest import seed_alert

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(autouse=True)
def restore_logging():
    yield
    configure_logging("INFO")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_cloud_run_writes_json_lines_with_severity_trace_request_id_and_events(make_bridge, capsys):
    client = make_bridge(cloud_run_service="fyers-alert-bridge", google_cloud_project="trader-project").client
    capsys.readouterr()
    response = client.post(
        "/webhook",
        json=seed_alert(),
        headers={"X-Cloud-Trace-Context": f"{TRACE}/1;o=1", "X-Request-Id": "req-42"},
    )
    assert response.status_code == 200
    lines = json_lines(capsys.readouterr().out)
    events = {line.get("event") for line in lines}
    assert {"alert_received", "order_placed"} <= events
    for line in lines:
        assert line["severity"] in ("INFO", "WARNING", "ERROR")
        assert line["logging.googleapis.com/trace"] == f"projects/trader-project/traces/{TRACE}"
        assert line["request_id"] == "req-42"
    placed = next(line for line in lines if line.get("event") == "order_placed")
    assert placed["alert_id"] == response.json["alert_id"]
    assert placed["idempotency_key"] == "alert-123"
    assert placed["symbol"] == response.json["symbol"]


def test_text_lines_carry_context_once_each(make_bridge, capsys):
    client = make_bridge().client
    make_bridge()  # configuring twice adds no handler
    capsys.readouterr()
    client.post("/webhook", json=seed_alert(), headers={"X-Request-Id": "req-7"})
    err = capsys.readouterr().err
    received = [line for line in err.splitlines() if "alert_received" in line]
    assert len(received) == 1
    assert "[req-7 " in received[0]
    assert sum("order_placed" in line for line in err.splitlines()) == 1


def test_third_party_records_never_break_the_formatter(monkeypatch):
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    # Only the bridge's own handlers, as in production (pytest's capture handler would
    # format the broken record first).
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if getattr(h, "_bridge", False)])
    logging.getLogger("some.library").warning("%s and %s", "only one")
    logging.getLogger("FyersAPI").error({"dict": "message"})  # silenced SDK logger
    logging.getLogger("other").info({"a": 1})
    text = stream.getvalue()
    assert "only one" in text and "{'a': 1}" in text
    assert "dict" not in text


def test_secrets_and_jwts_are_redacted_from_every_logger():
    stream = io.StringIO()
    redactor = Redactor(["super-secret-value"])
    configure_logging("DEBUG", stream=stream, redactor=redactor)
    redactor.add("learnt-token-123")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTUwMDAwMDB9.c2lnbmF0dXJlLXZhbHVl"
    logging.getLogger("urllib3.connectionpool").warning("POST /botsuper-secret-value/sendMessage")
    log_event(
        logging.getLogger("app"), logging.WARNING, "x", f"token {jwt} and learnt-token-123", key="super-secret-value"
    )
    try:
        raise ValueError("boom with super-secret-value")
    except ValueError:
        logging.getLogger("app").exception("failed")
    text = stream.getvalue()
    assert "super-secret-value" not in text and "learnt-token-123" not in text and jwt not in text
    assert text.count("[redacted]") >= 4


def test_structured_lines_are_redacted_too(capsys):
    configure_logging("INFO", structured=True, redactor=Redactor(["hush-hush-1234"]))
    log_event(logging.getLogger("app"), logging.ERROR, "order_failed", "saw hush-hush-1234", detail="hush-hush-1234")
    out = capsys.readouterr().out
    [line] = json_lines(out)
    assert line["event"] == "order_failed" and line["severity"] == "ERROR"
    assert "hush-hush-1234" not in out
