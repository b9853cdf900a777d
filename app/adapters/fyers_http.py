"""The HTTP layer under the Fyers SDK: a deadline on every call, and the real outcome recorded.

The SDK (fyers-apiv3 3.2.0) calls `requests` with no timeout and reports every transport
failure as code -99 "Bad request", the code Fyers also uses for a rejected order. Its
`requests.Session` is replaced by `DeadlineSession`, which takes each call's timeout from the
calling thread and records the response or exception it really saw, so the adapter can tell a
refused connection (never sent) from a timeout (maybe sent) from a rejection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

_CONNECT_TIMEOUT_CAP = 1.0  # a healthy connect to Fyers takes milliseconds
_POOL_SIZE = 32  # above gunicorn's thread count, so no connection is thrown away


@dataclass
class Exchange:
    """What happened on the wire for one SDK call."""

    response: requests.Response | None = None
    error: Exception | None = None

    @property
    def never_sent(self) -> bool:
        """True when the request certainly did not reach the server (no connection was made)."""
        if self.response is not None or self.error is None:
            return False
        if isinstance(self.error, requests.ConnectTimeout):
            return True
        if isinstance(self.error, requests.ConnectionError):
            return _caused_by(self.error, (NewConnectionError, ConnectionRefusedError))
        return False

    @property
    def status(self) -> int | None:
        """The HTTP status, when an answer came back."""
        return self.response.status_code if self.response is not None else None

    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (Retry-After or X-Retry-After-Ms)."""
        if self.response is None:
            return None
        headers = self.response.headers
        try:
            if headers.get("X-Retry-After-Ms"):
                return float(headers["X-Retry-After-Ms"]) / 1000
            if headers.get("Retry-After"):
                return float(headers["Retry-After"])
        except ValueError:
            return None
        return None


class DeadlineSession(requests.Session):
    """A requests session whose every call is bounded by the calling thread's timeout."""

    def __init__(self):
        super().__init__()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._local = threading.local()
        # Fyers is reached directly (Cloud NAT): no proxy variables to honour, and reading them
        # from the environment cost about 0.3 ms per call (docs/benchmarks.md, where the time goes).
        self.trust_env = False

    def bounded(self, timeout: float) -> "_Bounded":
        """Context for one SDK call: sets its timeout and collects what happened."""
        return _Bounded(self._local, timeout)

    def request(self, method, url, **kwargs):  # noqa: D401 - requests' signature
        call: Exchange | None = getattr(self._local, "exchange", None)
        timeout = getattr(self._local, "timeout", None)
        if timeout is None:
            # A call outside `bounded` still gets a deadline: never hang for ever.
            timeout = 5.0
        kwargs["timeout"] = (min(_CONNECT_TIMEOUT_CAP, timeout), timeout)
        try:
            response = super().request(method, url, **kwargs)
        except Exception as error:
            if call is not None:
                call.error = error
            raise
        if call is not None:
            call.response = response
        return response


class _Bounded:
    def __init__(self, local: threading.local, timeout: float):
        self._local = local
        self._timeout = max(timeout, 0.001)
        self.exchange = Exchange()

    def __enter__(self) -> Exchange:
        self._local.timeout = self._timeout
        self._local.exchange = self.exchange
        return self.exchange

    def __exit__(self, *exc) -> None:
        self._local.timeout = None
        self._local.exchange = None


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether `kinds` appears anywhere in the error's chain or its wrapped reason."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return False
