"""The README stays true: `python main.py` serves, its curl gets 200 with an order id, and its paper
trade lifecycle (protection, a stop moved through, the sweep, the P&L) runs as it says."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.service_process import ROOT, ServiceProcess

ALERT_CURL = r"curl -s -X POST localhost:8080/webhook .*?-d '(\{.*?\})'"


def readme_alert() -> dict:
    """The JSON body of the README's curl command."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(ALERT_CURL, readme, re.S)
    assert match, "the README has no curl command posting an alert"
    return json.loads(match.group(1))


@pytest.fixture
def served(tmp_path):
    service = ServiceProcess({"STATE_DIR": str(tmp_path / "var")}, tmp_path).start()
    yield service.base
    service.stop()


def test_readme_curl_places_an_order(served):
    alert = readme_alert()
    response = requests.post(f"{served}/webhook", json=alert, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "placed" and response.json()["order_id"]
    again = requests.post(f"{served}/webhook", json=alert, timeout=10)
    assert again.json() == response.json()
    assert requests.get(f"{served}/readyz", timeout=5).json()["status"] == "ready"


def test_readme_follows_a_paper_trade_to_its_stop(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert "ADMIN_TOKEN=paper-admin make run" in readme
    for command in ("localhost:8080/sync", "localhost:8080/admin/paper/price", "localhost:8080/positions"):
        assert command in readme, command
    alert = [json.loads(body) for body in re.findall(ALERT_CURL, readme, re.S)][-1]
    assert alert["idempotency_key"] == "follow-1"
    service = ServiceProcess({"STATE_DIR": str(tmp_path / "var"), "ADMIN_TOKEN": "paper-admin"}, tmp_path).start()
    admin = {"Authorization": "Bearer paper-admin"}
    try:
        placed = requests.post(f"{service.base}/webhook", json=alert, timeout=10).json()
        assert placed["protection"]["mode"] == "legs" and placed["protection"]["stop_loss"] == placed["sl"]
        first = requests.post(f"{service.base}/sync", headers=admin, timeout=10).json()
        assert [e["event"] for e in first["events"]] == ["filled", "protected"]
        entry = first["events"][0]["price"]
        through = round(placed["sl"] - 1, 2)  # the README's "the answer's sl minus 1"
        moved = requests.post(
            f"{service.base}/admin/paper/price",
            headers=admin,
            json={"symbol": placed["symbol"], "price": through},
            timeout=10,
        ).json()
        assert moved["status"] == "moved" and moved["filled"][0]["parent_id"] == placed["order_id"]
        hit = requests.post(f"{service.base}/sync", headers=admin, timeout=10).json()["events"]
        pnl = round((through - entry) * placed["qty"], 2)
        assert [(e["event"], e["exit_price"], e["pnl"]) for e in hit] == [("stop_hit", through, pnl)]
        journal = requests.get(f"{service.base}/orders", headers=admin, timeout=10).json()["alerts"]
        assert [r["outcome"] for r in journal] == ["stop_hit", "protected", "filled", "placed"]
        (position,) = requests.get(f"{service.base}/positions", headers=admin, timeout=10).json()["positions"]
        assert position["net_qty"] == 0 and position["realized"] == pnl
    finally:
        service.stop()
