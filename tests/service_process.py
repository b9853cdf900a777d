"""Run the bridge as a real process (`python main.py`) on a free port, for multi-instance tests."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """One instance of the service; `base` is its URL."""

    def __init__(self, env: dict[str, str], cwd: pathlib.Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._env = {
            "PATH": os.environ.get("PATH", ""),
            "NO_GCE_CHECK": "true",
            "PORT": str(self.port),
            **env,
        }
        self._cwd = cwd
        self._log = None
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "ServiceProcess":
        self._log = open(self._cwd / f"service-{self.port}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py")],
            cwd=self._cwd,  # no developer .env is read; SDK files would land here
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        stop_at = time.monotonic() + timeout
        while time.monotonic() < stop_at:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited at start:\n{self.output()}")
            try:
                if requests.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"service did not start within {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no answer, as when an instance dies."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def output(self) -> str:
        if self._log:
            self._log.flush()
        path = self._cwd / f"service-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def fyers_env(fake, **extra: str) -> dict[str, str]:
    """The environment of a service process on BROKER=fyers against the fake Fyers server."""
    from tests.conftest import ADMIN, APP_ID, APP_SECRET, PIN, REDIRECT_URI, SECRET, TOKEN_KEY

    return {
        "BROKER": "fyers",
        "WEBHOOK_SECRET_TOKEN": SECRET,
        "ADMIN_TOKEN": ADMIN,
        "FYERS_APP_ID": APP_ID,
        "FYERS_SECRET_ID": APP_SECRET,
        "FYERS_REDIRECT_URI": REDIRECT_URI,
        "FYERS_PIN": PIN,
        "TOKEN_ENCRYPTION_KEY": TOKEN_KEY,
        "FYERS_API_BASE_URL": fake.api_base,
        "FYERS_DATA_BASE_URL": fake.data_base,
        "SYMBOL_MASTER_URL": "synthetic",
        "MARKET_HOURS_CHECK": "false",  # the processes run on the real clock, any day
        "LOG_LEVEL": "WARNING",
        **extra,
    }
