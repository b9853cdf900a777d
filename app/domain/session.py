"""A trading session as the symbol master states it (column 6, e.g. `0915-1540|1815-1915:`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

# Fyers publishes no after-market (AMO) hours; its help pages gave 15:45-08:57 while NSE F&O
# closed at 15:30. We keep the same distances from the session that the master states: the
# window opens 15 minutes after the close (no AMO while the exchange is still settling the
# closing session) and shuts 18 minutes before the open, as the 08:57 cut-off before 09:15 did.
AMO_AFTER_CLOSE = timedelta(minutes=15)
AMO_BEFORE_OPEN = timedelta(minutes=18)

_RANGE = re.compile(r"(\d{2})(\d{2})-(\d{2})(\d{2})")


@dataclass(frozen=True, slots=True)
class TradingSession:
    """The normal market of one segment: when orders trade, in IST wall-clock time."""

    opens: time
    closes: time

    @property
    def amo_from(self) -> time:
        """When Fyers starts taking after-market orders after the close."""
        return _shift(self.closes, AMO_AFTER_CLOSE)

    @property
    def amo_until(self) -> time:
        """When Fyers stops taking after-market orders before the open."""
        return _shift(self.opens, -AMO_BEFORE_OPEN)

    def describe(self) -> str:
        """As a trader writes it: 09:15-15:40."""
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"


def parse_session(text: str) -> TradingSession | None:
    """The normal session (the first `HHMM-HHMM` range) of a master's session column; None if unreadable."""
    if not isinstance(text, str):
        return None
    first = text.strip().rstrip(":").split("|", 1)[0].strip()
    match = _RANGE.fullmatch(first)
    if match is None:
        return None
    try:
        opens = time(int(match.group(1)), int(match.group(2)))
        closes = time(int(match.group(3)), int(match.group(4)))
    except ValueError:  # 2460 and the like
        return None
    if closes <= opens:
        return None
    return TradingSession(opens, closes)


def _shift(moment: time, by: timedelta) -> time:
    return (datetime.combine(date(2000, 1, 3), moment) + by).time()
