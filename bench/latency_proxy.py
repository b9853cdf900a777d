"""An HTTP proxy on 127.0.0.1 that adds a fixed delay to every request and logs each one.

    proxy = LatencyProxy("http://127.0.0.1:4443", delay=0.04).start()
    # STORAGE_EMULATOR_HOST=proxy.url: the real google-cloud-storage client goes through it

It stands for the network between Cloud Run and Cloud Storage in front of fake-gcs-server
(which answers in well under a millisecond on loopback): every request waits `delay` seconds
before it is forwarded, so a state-store round trip costs what it costs in production, and
the log (`requests_between`) counts the round trips an alert made. HTTP, not TCP: the client
keeps connections alive, so only the requests tell how many round trips there were.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, not forwarded.
_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
_OBJECT_IN_PATH = re.compile(r"/o/([^?]+)")
_OBJECT_IN_UPLOAD = re.compile(rb'"name"\s*:\s*"([^"]+)"')


@dataclass(frozen=True)
class Seen:
    """One request the proxy received: when (time.time(), before the delay), method, path, object."""

    at: float
    method: str
    path: str
    object: str = ""  # the storage object it reads or writes, when it names one

    def kind(self) -> str:
        """"read x", "write x", "delete x", "list" or "bucket" (x: the object name's first path segment)."""
        folder = self.object.split("/", 1)[0] if self.object else ""
        if self.method == "GET" and not self.object:  # a listing (.../o?prefix=), or the bucket's metadata
            return "list" if self.path.split("?", 1)[0].endswith("/o") else "bucket"
        if self.method == "GET":
            return f"read {folder}"
        verb = {"POST": "write", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(self.method, self.method)
        return f"{verb} {folder}".strip()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the storage client expects

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def _forward(self) -> None:
        proxy: LatencyProxy = self.server.proxy
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        proxy._record(Seen(arrived, self.command, self.path, _object(self.path, body)))
        time.sleep(proxy.delay)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        upstream = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


def _object(path: str, body: bytes | None) -> str:
    found = _OBJECT_IN_PATH.search(path)
    if found:
        return urllib.parse.unquote(found.group(1))
    named = _OBJECT_IN_UPLOAD.search(body or b"")
    return named.group(1).decode(errors="replace") if named else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, proxy: "LatencyProxy"):
        super().__init__(address, _Handler)
        self.proxy = proxy


class LatencyProxy:
    """Forwards to `target` (an http:// URL) after `delay` seconds per request; a thread per request."""

    def __init__(self, target: str, delay: float = 0.04):
        parts = urllib.parse.urlsplit(target)
        self.target_host, self.target_port = parts.hostname, parts.port or 80
        self.delay = delay
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "LatencyProxy":
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="latency-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def seen(self, containing: str = "") -> list[Seen]:
        """Every request so far whose path contains `containing` (e.g. a bucket's name), oldest first."""
        with self._lock:
            return [s for s in self._seen if containing in s.path]

    def between(self, start: float, end: float, containing: str = "") -> list[Seen]:
        """Requests that arrived in [start, end] (time.time())."""
        return [s for s in self.seen(containing) if start <= s.at <= end]

    def requests_between(self, start: float, end: float, containing: str = "") -> int:
        """How many requests arrived in [start, end] (time.time())."""
        return len(self.between(start, end, containing))

    def __enter__(self) -> "LatencyProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
