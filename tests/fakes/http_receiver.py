"""A real HTTP server on 127.0.0.1:<free port> that records every request (webhooks, Telegram).

    with HttpReceiver() as receiver:
        receiver.url              # "http://127.0.0.1:PORT"
        receiver.requests         # [{"method", "path", "query", "headers", "json", "body"}, ...]
        receiver.status = 500     # the code every later request is answered with
        receiver.hang = True      # hold requests until hang=False, stop() or 30 s

It doubles as the Telegram Bot API: ``POST /bot<TOKEN>/sendMessage`` with {"chat_id", "text",
...} (JSON, form or query string) answers ``{"ok": true, "result": {"message_id": N, "chat":
{"id": chat_id}, "text": text}}``; ``telegram_messages()`` returns those bodies, each with the
path's token as ``token``. Any other path answers ``{"ok": true}``. With ``status`` >= 400 the
answer is ``{"ok": false, "error_code": status, "description": ...}``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_LIMIT_SECONDS = 30.0
_TELEGRAM_SEND = re.compile(r"^/bot(?P<token>[^/]+)/sendMessage$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout) while its request was held: nothing to report.
        pass


class HttpReceiver:
    def __init__(self, *, status: int = 200):
        self.status = status
        self.hang = False
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._next_message_id = 0
        self._released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> "HttpReceiver":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests (their connections are closed unanswered) and shut down."""
        self._released.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "HttpReceiver":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- recorded state -------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every request received, in arrival order (held ones included)."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Poll until at least `count` requests arrived (or `timeout`); returns the snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.requests
            if len(snapshot) >= count or time.monotonic() >= deadline:
                return snapshot
            time.sleep(0.02)

    def telegram_messages(self) -> list[dict[str, Any]]:
        """The bodies of every sendMessage call, each with the bot token of its path as `token`."""
        messages = []
        for request in self.requests:
            match = _TELEGRAM_SEND.match(request["path"]) if request["method"] == "POST" else None
            if match:
                messages.append({**_telegram_params(request), "token": match["token"]})
        return messages

    # -- serving --------------------------------------------------------------------------

    def _hold(self) -> bool:
        """Block while `hang` is set; True if it was cleared, False on stop() or the 30 s bound."""
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        while self.hang:
            if self._released.is_set() or time.monotonic() >= deadline:
                return False
            self._released.wait(0.05)
        return True

    def _answer(self, record: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status = self.status
        match = _TELEGRAM_SEND.match(record["path"]) if record["method"] == "POST" else None
        if status >= 400:
            return status, {"ok": False, "error_code": status, "description": f"fake error {status}"}
        if not match:
            return status, {"ok": True}
        params = _telegram_params(record)
        with self._lock:
            self._next_message_id += 1
            message_id = self._next_message_id
        chat_id = params.get("chat_id")
        result = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id},
            "text": params.get("text"),
        }
        return status, {"ok": True, "result": result}

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                text = raw.decode("utf-8", errors="replace")
                try:
                    body = json.loads(text) if text else None
                except ValueError:
                    body = None
                record = {
                    "method": self.command,
                    "path": parts.path,
                    "query": dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                    "headers": dict(self.headers.items()),
                    "json": body,
                    "body": text,
                }
                with receiver._lock:
                    receiver._requests.append(record)
                if not receiver._hold():
                    self.close_connection = True  # released by stop() or the bound: no answer
                    return
                status, payload = receiver._answer(record)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
                pass

        return Handler


def _telegram_params(record: dict[str, Any]) -> dict[str, Any]:
    """sendMessage parameters: query string, then a form body, then a JSON body (last wins)."""
    params: dict[str, Any] = dict(record["query"])
    content_type = next((v for k, v in record["headers"].items() if k.lower() == "content-type"), "")
    if isinstance(record["json"], dict):
        params.update(record["json"])
    elif "application/x-www-form-urlencoded" in content_type and record["body"]:
        params.update(urllib.parse.parse_qsl(record["body"], keep_blank_values=True))
    return params
