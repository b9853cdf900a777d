"""The production command's output: on Cloud Run every line is JSON with a severity, gunicorn's own included.

The Dockerfile's CMD runs as tests/test_dockerfile.py runs it (parsed from the file), here in the
repo's virtualenv, serves /health and a paper alert, and stops on SIGTERM; all of stdout and stderr
is then read line by line.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.dockerfile_cmd import ROOT, final_cmd, server_env
from tests.service_process import free_port

# Cloud Logging's LogSeverity names (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry).
SEVERITIES = {"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}
ALERT = {"token": "paper", "symbol": "NIFTY", "strikeprice": 24000, "optionType": "CE", "expiry": "WEEKLY",
         "action": "BUY", "qty": 65, "idempotency_key": "logs-1"}


def _run_production_command(home: pathlib.Path, **env: str) -> tuple[str, str]:
    """The CMD from start to SIGTERM with /health and one paper alert in between: (stdout, stderr)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**server_env(pathlib.Path(sys.executable).parent, port, home), **env}
    # Files, not pipes: a pipe nobody reads while the server runs could fill and stop it.
    with open(home / "stdout", "wb") as out, open(home / "stderr", "wb") as err:
        process = subprocess.Popen(final_cmd(), cwd=ROOT, env=full_env, stdout=out, stderr=err, start_new_session=True)
    try:
        _wait_for_health(process, base, home)
        assert requests.get(f"{base}/health", timeout=5).status_code == 200
        response = requests.post(f"{base}/webhook", data=json.dumps(ALERT), timeout=10)
        assert response.status_code == 200 and response.json()["status"] == "placed", response.text
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return (home / "stdout").read_text(), (home / "stderr").read_text()


def _wait_for_health(process: subprocess.Popen, base: str, home: pathlib.Path) -> None:
    """Until /health answers 200; at most 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the CMD exited at start:\n{(home / 'stderr').read_text()}")
        try:
            if requests.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or the worker still booting
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the CMD did not serve /health within 30 s:\n{(home / 'stderr').read_text()}")


def _not_json_with_severity(text: str) -> list[str]:
    """The non-empty lines that are not a JSON object with a Cloud Logging severity."""
    bad = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(entry, dict) or entry.get("severity") not in SEVERITIES:
            bad.append(line)
    return bad


def _loggers(text: str) -> set[str]:
    return {json.loads(line)["logging.googleapis.com/labels"]["python_logger"] for line in text.splitlines() if line}


@pytest.mark.timeout(120)
def test_on_cloud_run_every_line_the_production_command_prints_is_json_with_a_severity(tmp_path):
    stdout, stderr = _run_production_command(tmp_path, K_SERVICE="bridge")
    assert _not_json_with_severity(stdout + "\n" + stderr) == []
    messages = [json.loads(line)["message"] for line in stdout.splitlines() if line]
    for gunicorn_line in ("Starting gunicorn", "Listening at", "Booting worker", "Handling signal: term",
                          "Shutting down: Master"):
        assert any(m.startswith(gunicorn_line) for m in messages), (gunicorn_line, messages)
    assert {"gunicorn.error", "app.alerts"} <= _loggers(stdout)  # both kinds of line, in one shape


@pytest.mark.timeout(120)
def test_off_cloud_run_gunicorn_lines_stay_text(tmp_path):
    stdout, stderr = _run_production_command(tmp_path)
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    gunicorn_lines = [line for line in lines if "Starting gunicorn" in line or "Booting worker" in line]
    assert len(gunicorn_lines) == 2, lines
    assert all(line.startswith("[") and "[INFO]" in line for line in gunicorn_lines)
    assert _not_json_with_severity(stdout + "\n" + stderr)  # text, as before


def test_gunicorn_lines_are_redacted_like_the_apps():
    # What gunicorn does with the settings module: dictConfig(logconfig_dict), then logs to gunicorn.error.
    script = (
        "import logging, logging.config\n"
        "from app import gunicorn_conf\n"
        "logging.config.dictConfig(gunicorn_conf.logconfig_dict)\n"
        "logging.getLogger('gunicorn.error').error('worker said: admin token %s', 's3cret-admin-token')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "K_SERVICE": "bridge", "ADMIN_TOKEN": "s3cret-admin-token", "NO_GCE_CHECK": "true"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "s3cret-admin-token" not in result.stdout + result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines() if line]
    mine = [e for e in entries if e["logging.googleapis.com/labels"]["python_logger"] == "gunicorn.error"]
    assert [(e["severity"], e["message"]) for e in mine] == [("ERROR", "worker said: admin token [redacted]")]
