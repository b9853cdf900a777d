"""Slow clients cannot hold alerts back where the server is reachable directly (compose, a VM).

The Dockerfile's CMD runs as in tests/test_dockerfile.py. 64 clients send their headers or
their body one byte every 0.5 s (for at most 10 s); meanwhile an alert must be answered within
TradingView's 3 s. gunicorn's gthread worker read each request on one of its 32 threads: 32
such clients stopped every alert.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timezone

import pytest
import requests

from tests.dockerfile_cmd import image_venv, serving
from tests.service_process import free_port

SLOW_CLIENTS = 64
BYTE_EVERY = 0.5  # seconds between two bytes of one slow client
HOLD_AT_MOST = 10.0  # seconds the slow clients last, whatever happens
TRADINGVIEW_WINDOW = 3.0  # TradingView cancels its request after 3 s
# A body of 64 bytes announced, of which at most 20 arrive within the hold.
WHOLE_HEADERS = (
    b"POST /webhook HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"
)
ENDLESS_HEADERS = b"POST /webhook HTTP/1.1\r\nHost: bridge\r\nX-Slow: " + b"a" * 200


@pytest.fixture(scope="module")
def venv():
    """A virtualenv with requirements.txt only, as in the image."""
    return image_venv()


class SlowClients:
    """`count` connections, half trickling their headers, half their body, one byte per tick each."""

    def __init__(self, port: int, count: int):
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._pending: dict[socket.socket, bytes] = {}
        self.closed_by_server = 0
        for n in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            self._sockets.append(sock)
            if n % 2:  # whole headers, then a body that never ends within the hold
                sock.sendall(WHOLE_HEADERS)
                self._pending[sock] = b"{" + b" " * 63
            else:  # headers that never end within the hold
                self._pending[sock] = ENDLESS_HEADERS
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        """One byte per connection per tick, until stopped or HOLD_AT_MOST; then every socket closes."""
        ends_at = time.monotonic() + HOLD_AT_MOST
        try:
            while not self._stop.is_set() and time.monotonic() < ends_at:
                for sock in [s for s in self._sockets if s in self._pending]:
                    if self._server_closed(sock):
                        del self._pending[sock]
                        self.closed_by_server += 1
                        continue
                    data = self._pending[sock]
                    try:
                        sock.send(data[:1])
                    except OSError:
                        del self._pending[sock]
                        self.closed_by_server += 1
                        continue
                    self._pending[sock] = data[1:]
                self._stop.wait(BYTE_EVERY)
        finally:
            for sock in self._sockets:
                sock.close()

    @staticmethod
    def _server_closed(sock: socket.socket) -> bool:
        """The server closed this connection, or answered before the request was whole."""
        try:
            sock.recv(1, socket.MSG_PEEK)  # b"" closed; a byte: an answer (a 4xx, a timeout)
        except BlockingIOError:
            return False  # nothing from the server: still reading us
        except OSError:
            pass  # reset
        return True

    def holding(self) -> int:
        """How many connections are still open and trickling."""
        return len(self._pending) if self._thread.is_alive() else 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=HOLD_AT_MOST + 5)


def _alert() -> dict:
    """A paper alert stamped now (the default MAX_ALERT_AGE_SECONDS checks it)."""
    return {"token": "paper", "symbol": "NIFTY", "strikeprice": 24000, "optionType": "CE", "expiry": "WEEKLY",
            "action": "BUY", "qty": 65, "idempotency_key": "slow-clients-1",
            "timenow": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


@pytest.mark.timeout(900)
def test_an_alert_is_answered_in_time_while_64_slow_clients_hold_connections(venv, tmp_path):
    port = free_port()
    with serving(venv, tmp_path, port):
        slow = SlowClients(port, SLOW_CLIENTS)
        try:
            time.sleep(3 * BYTE_EVERY)  # every slow connection has reached the server and is being read
            assert slow.holding() == SLOW_CLIENTS
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/webhook", data=json.dumps(_alert()), timeout=TRADINGVIEW_WINDOW
                )
            except requests.Timeout:
                pytest.fail(f"no answer within {TRADINGVIEW_WINDOW} s behind {SLOW_CLIENTS} slow clients")
            still_holding = slow.holding()
        finally:
            slow.stop()
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "placed"
        # The alert went through while the slow clients were still there, not after they were dropped.
        assert still_holding == SLOW_CLIENTS
