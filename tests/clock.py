"""A clock that tests set and move by hand."""

from __future__ import annotations

from datetime import datetime

from app.ports import Clock


class FixedClock(Clock):
    """A clock that stays where it is set."""

    def __init__(self, instant: datetime):
        self.instant = instant

    def now(self) -> datetime:
        """The set instant."""
        return self.instant
