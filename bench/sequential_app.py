"""Baseline 2: the app without coalescing; each alert reads its quote, then positions, then orders.

    gunicorn ... "bench.sequential_app:create_app()"

Built exactly like `app.create_app()`, except that where `bootstrap` wraps the Fyers broker
in a `CoalescingBroker`, it gets a `SequentialBroker` instead: every quote is its own Fyers
call, followed by a positions call, each through the pacer, the way an alert bridge without
batching does it. Swapping the wrapper at its one construction site (rather than the
attributes of the services built around it) keeps every service that holds the broker on
the baseline path, whatever the wiring.
"""

from __future__ import annotations

from typing import Sequence

import app as bridge
import app.bootstrap


class SequentialBroker:
    """Straight through to the broker; a quote is followed by a positions read."""

    def __init__(self, inner):
        self._inner = inner
        self.name = inner.name

    def quotes(self, symbols: Sequence[str], deadline, **options):  # options: the call's priority
        prices = self._inner.quotes(symbols, deadline, **options)
        self._inner.positions(deadline, **options)
        return prices

    def __getattr__(self, name):  # positions, place_order, find_order, readiness, ...
        return getattr(self._inner, name)


def create_app():
    app.bootstrap.CoalescingBroker = SequentialBroker  # bench-only, in the baseline's own process
    return bridge.create_app()
