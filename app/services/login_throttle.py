"""The console login's rate limit: a few failures per source, then a pause for that source only.

Kept in memory, per instance (the deployment runs one; n instances allow n times the failures).
Counting per source means an attacker pauses only its own address: the operator, from any other
address, still logs in. An IPv6 source counts by its /64, which one subscriber usually holds whole.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from app.ports import Clock

MAX_FAILURES = 5
WINDOW = timedelta(minutes=5)
MAX_SOURCES = 10_000  # memory bound; past it the sources quiet the longest are forgotten


class LoginThrottle:
    """Failures per source in a sliding window; a source at the limit waits until its oldest one ages out."""

    def __init__(self, clock: Clock, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW):
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, list[datetime]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds the source must wait before trying again, or None when it may try now."""
        now = self._clock.now()
        with self._lock:
            recent = self._recent(source_of(address), now)
        if len(recent) < self._max:
            return None
        return max(1, math.ceil((recent[0] + self._window - now).total_seconds()))

    def failed(self, address: str) -> bool:
        """Count a failure; True when it is the one that reaches the limit."""
        now = self._clock.now()
        source = source_of(address)
        with self._lock:
            recent = self._recent(source, now) + [now]
            self._failures[source] = recent
            self._failures.move_to_end(source)
            while len(self._failures) > MAX_SOURCES:
                self._failures.popitem(last=False)
        return len(recent) == self._max

    def succeeded(self, address: str) -> None:
        """A good login clears the source's failures."""
        with self._lock:
            self._failures.pop(source_of(address), None)

    def _recent(self, source: str, now: datetime) -> list[datetime]:
        return [at for at in self._failures.get(source, []) if now - at < self._window]


def source_of(address: str) -> str:
    """The key a client's address counts under: the address, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d from a dual-stack listener is an IPv4 client
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))
