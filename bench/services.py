"""The servers under test, run as real processes on free ports, and how to talk to them."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from bench.fake import APP_ID, PIN, SECRET_ID, TimedFake

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "bench-webhook-secret-0123456789"
ADMIN = "bench-admin-token-0123456789"
REDIRECT_URI = "https://bridge.bench/auth/callback"
TOKEN_KEY = "YmVuY2gtdG9rZW4ta2V5LTAxMjM0NTY3ODlhYmNkZWY="  # TOKEN_ENCRYPTION_KEY: 32 bytes, base64
_PLAIN = re.compile(r"[\w@%+=:,./$-]+")  # a shell word that needs no quotes
# Scenario (a) measures our own time, not Fyers's pacing: the pacer's limits are lifted there.
UNPACED = {"FYERS_RATE_PER_SECOND": "100000", "FYERS_RATE_PER_MINUTE": "1000000"}


@dataclass(frozen=True)
class Server:
    """One way to serve the app: a label and a command line ({port} is filled in)."""

    key: str
    label: str
    argv: tuple[str, ...]
    baseline: bool = False

    def command(self, port: int) -> list[str]:
        return [arg.format(port=port) for arg in self.argv]

    def shown(self) -> str:
        """The command as a person would type it (venv-relative, PORT for the port)."""
        words = [arg.format(port="$PORT") for arg in self.argv]
        words[0] = f".venv/bin/{Path(words[0]).name}"
        return " ".join(word if _PLAIN.fullmatch(word) else f'"{word}"' for word in words)


def _gunicorn(worker: str, target: str, threads: int = 16) -> tuple[str, ...]:
    pool = ("--threads", str(threads)) if worker == "gthread" else ()
    return (str(BIN / "gunicorn"), "--worker-class", worker, "--workers", "1", *pool,
            "--bind", "127.0.0.1:{port}", "--no-control-socket", target)


def _uvicorn(target: str) -> tuple[str, ...]:
    return (str(BIN / "uvicorn"), target, "--host", "127.0.0.1", "--port", "{port}",
            "--no-access-log", "--log-level", "warning")


GTHREAD = Server("gthread", "gunicorn gthread (1 worker, 16 threads)", _gunicorn("gthread", "app:create_app()"))
GTHREAD_32 = Server("gthread32", "gunicorn gthread (1 worker, 32 threads)",
                    _gunicorn("gthread", "app:create_app()", threads=32))
GEVENT = Server("gevent", "gunicorn gevent (1 worker)", _gunicorn("gevent", "app:create_app()"))
UVICORN_A2WSGI = Server("a2wsgi", "uvicorn + a2wsgi (16 threads)", _uvicorn("bench.asgi_app:app"))
SERIALIZED = Server("serialized", "baseline 1: uvicorn + asgiref WsgiToAsgi", _uvicorn("bench.asgi_serialized:app"),
                    baseline=True)
SEQUENTIAL = Server("sequential", "baseline 2: no coalescing, quote + positions + order (gunicorn gthread)",
                    _gunicorn("gthread", "bench.sequential_app:create_app()"), baseline=True)
# The Dockerfile's CMD since issue 17: gunicorn's asyncio worker reads whole requests (slow clients
# cost a coroutine), then a2wsgi runs the app on 64 threads (app/asgi.py).
GUNICORN_ASGI = Server("asgi64", "gunicorn asgi + a2wsgi (1 worker, 64 threads)",
                       _gunicorn("asgi", "app.asgi:create_asgi_app()"))
CANDIDATES = (GTHREAD, GTHREAD_32, GEVENT, UVICORN_A2WSGI, GUNICORN_ASGI)
ALL = (*CANDIDATES, SERIALIZED, SEQUENTIAL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(fake: TimedFake, state_dir: Path, master: str = "synthetic", **extra: str) -> dict[str, str]:
    """The environment of one service process (no .env, no developer settings)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(state_dir),
        "PYTHONPATH": str(ROOT),
        "NO_GCE_CHECK": "true",
        "BROKER": "fyers",
        "WEBHOOK_SECRET_TOKEN": SECRET,
        "ADMIN_TOKEN": ADMIN,
        "FYERS_APP_ID": APP_ID,
        "FYERS_SECRET_ID": SECRET_ID,
        "FYERS_REDIRECT_URI": REDIRECT_URI,
        "FYERS_PIN": PIN,
        "TOKEN_ENCRYPTION_KEY": TOKEN_KEY,
        "FYERS_API_BASE_URL": fake.api_base,
        "FYERS_DATA_BASE_URL": fake.data_base,
        "SYMBOL_MASTER_URL": master,
        "STATE_DIR": str(state_dir),
        "LOG_LEVEL": "WARNING",
        # On by default with Fyers: it would refuse every alert outside the 09:15-15:40 IST session on
        # trading days, and the bench must run any day at any hour.
        "MARKET_HOURS_CHECK": "false",
        **extra,
    }


@dataclass
class Answer:
    status: int
    body: dict
    seconds: float  # from sending the request to having read the whole answer


class Client:
    """A plain HTTP/1.1 client (http.client: little client-side time in the figures)."""

    def __init__(self, port: int, keep_alive: bool = True):
        self.port = port
        self.keep_alive = keep_alive
        self._conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the connection now (so that timing starts at the request, not the handshake)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._conn.connect()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        self.connect()
        try:
            self._conn.request(method, path, body=body, headers=headers or {})
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if not self.keep_alive or response.will_close:
            self.close()
        # Header names as one case: the asgi worker sends them lowercase, gthread capitalised.
        return response.status, {name.title(): value for name, value in response.getheaders()}, data

    def post_alert(self, alert: dict) -> Answer:
        payload = json.dumps(alert).encode()
        self.connect()
        started = time.perf_counter()
        status, _, data = self.request("POST", "/webhook", payload, {"Content-Type": "text/plain"})
        seconds = time.perf_counter() - started
        return Answer(status, json.loads(data) if data else {}, seconds)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ServiceProcess:
    """One service process: started, logged in through the fake, stopped by its own pid."""

    def __init__(self, server: Server, env: dict[str, str], workdir: Path):
        self.server = server
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self._log_path = workdir / f"{server.key}-{self.port}.log"

    def start(self) -> "ServiceProcess":
        """Spawn; `started_at` is the monotonic time just before the spawn."""
        log = open(self._log_path, "wb")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.server.command(self.port), cwd=self.workdir, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        return self

    def wait_for(self, path: str, timeout: float = 60.0, interval: float = 0.01) -> float:
        """Poll `path` until it answers 200; the seconds since the spawn."""
        stop_at = time.monotonic() + timeout
        while time.monotonic() < stop_at:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server.label} exited at start:\n{self.output()}")
            try:
                status, _, _ = Client(self.port, keep_alive=False).request("GET", path)
                if status == 200:
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            time.sleep(interval)
        raise RuntimeError(f"{self.server.label}: {path} not 200 within {timeout} s:\n{self.output()}")

    def login(self) -> None:
        """GET /auth-url (admin) -> its login link (sets the login cookie) -> the fake's 302 ->
        GET /auth/callback with that cookie, as the operator's browser does."""
        client = Client(self.port, keep_alive=False)
        status, _, data = client.request("GET", "/auth-url", headers={"Authorization": f"Bearer {ADMIN}"})
        if status != 200:
            raise RuntimeError(f"/auth-url answered {status}: {data[:200]!r}")
        link = urllib.parse.urlsplit(json.loads(data)["login_url"])
        cookie = {}
        if link.path.endswith("/auth/start"):
            status, headers, data = client.request("GET", f"{link.path}?{link.query}")
            if status != 302:
                raise RuntimeError(f"the login link answered {status}: {data[:200]!r}")
            cookie = {"Cookie": headers["Set-Cookie"].split(";", 1)[0]}
            login_url = urllib.parse.urlsplit(headers["Location"])
        else:  # a baseline from before issue 17: its login link is Fyers's own page
            login_url = link
        fake = http.client.HTTPConnection(login_url.hostname, login_url.port, timeout=10)
        fake.request("GET", f"{login_url.path}?{login_url.query}")
        response = fake.getresponse()
        response.read()
        location = response.getheader("Location")
        fake.close()
        if response.status != 302 or not location:
            raise RuntimeError(f"the fake's login answered {response.status}, not a redirect")
        query = urllib.parse.urlsplit(location).query
        status, _, data = client.request("GET", f"/auth/callback?{query}", headers=cookie)
        if status != 200:
            raise RuntimeError(f"/auth/callback answered {status}: {data[:300]!r}")

    def pids(self) -> list[int]:
        """The process and its children (gunicorn's worker), by scanning /proc for the parent."""
        root = self.process.pid
        found = [root]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == root:
                found.append(int(entry.name))
        return found

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM (peak resident set) of the process and each child, in MB."""
        peaks = {}
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[pid] = int(line.split()[1]) / 1024
            except OSError:
                continue
        return peaks

    def stop(self) -> None:
        """SIGINT to our process (a quick shutdown for gunicorn and uvicorn), SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session: the server and its workers
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def new_state_dir(parent: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))
