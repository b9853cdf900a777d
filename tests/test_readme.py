"""The README stays true: `python main.py` serves, and its curl gets 200 with an order id."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.service_process import ROOT, ServiceProcess


def readme_alert() -> dict:
    """The JSON body of the README's curl command."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"curl -s -X POST localhost:8080/webhook .*?-d '(\{.*?\})'", readme, re.S)
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
