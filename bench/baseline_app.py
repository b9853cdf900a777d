"""The pacing baseline: today's app with the previous pacer (bench/baseline_pacer.py) plugged in.

    gunicorn ... "bench.baseline_app:create_app()"   (or --worker-class asgi "bench.baseline_app:create_asgi_app()")

Built exactly like `app.create_app()`, except that `bootstrap` constructs the previous pacer
where it constructs `Pacer`: the only difference between this process and the candidate is
how sends are paced, so the strict-limit bursts compare pacers, not anything else.
"""

from __future__ import annotations

import app as bridge
import app.bootstrap
from bench.baseline_pacer import Pacer as PreviousPacer


class BaselinePacer(PreviousPacer):
    """The previous pacer behind the current pacer's call signatures (extra arguments ignored)."""

    def __init__(self, per_second: int = 10, per_minute: int = 200, *_args, **_kwargs):
        super().__init__(per_second, per_minute)
        self._refusals = 0

    def acquire(self, deadline, *_args, **_kwargs) -> None:
        super().acquire(deadline)

    def hold(self, seconds: float, *_args, **_kwargs) -> None:
        self._refusals += 1
        super().hold(seconds)

    def refusals_today(self) -> int:
        """429s seen (the status page asks; the previous pacer did not count them itself)."""
        return self._refusals

    def waiting(self) -> int:
        return 0


def create_app():
    app.bootstrap.Pacer = BaselinePacer  # bench-only, in the baseline's own process
    return bridge.create_app()


def create_asgi_app():
    """The same, behind the shipped server's front (app/asgi.py): only the pacer differs."""
    import app.asgi

    app.bootstrap.Pacer = BaselinePacer
    return app.asgi.create_asgi_app()
