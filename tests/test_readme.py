"""The README stays true: `python main.py` serves, and its curl gets 200 with an order id."""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_alert() -> dict:
    """The JSON body of the README's curl command."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"curl -s -X POST localhost:8080/webhook .*?-d '(\{.*?\})'", readme, re.S)
    assert match, "the README has no curl command posting an alert"
    return json.loads(match.group(1))


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "STATE_DIR": str(tmp_path / "var"),
        "NO_GCE_CHECK": "true",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py")],
        cwd=tmp_path,  # no .env of the developer's is read
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 30 s for a slow machine
            if process.poll() is not None:
                pytest.fail(process.stdout.read().decode())
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the service did not start within 30 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


def test_readme_curl_places_an_order(served):
    alert = readme_alert()
    response = requests.post(f"{served}/webhook", json=alert, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "placed" and response.json()["order_id"]
    again = requests.post(f"{served}/webhook", json=alert, timeout=10)
    assert again.json() == response.json()
    assert requests.get(f"{served}/readyz", timeout=5).json()["status"] == "ready"
