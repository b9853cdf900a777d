"""The NSE F&O trading calendar in IST: sessions, holidays and the after-market (AMO) window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Collection

from app.domain.contracts import IST

OPEN = time(9, 15)  # options have no pre-open session
CLOSE = time(15, 30)
# Fyers takes after-market orders from 15:45 until 08:57 of the next trading day (any time on
# a day without a session); between 08:57 and 09:15 and between 15:30 and 15:45 it takes none.
AMO_FROM = time(15, 45)
AMO_UNTIL = time(8, 57)


@dataclass(frozen=True, slots=True)
class MarketState:
    """Whether orders can be placed now, and if not, why and whether an AMO is possible."""

    open: bool
    reason: str
    amo_window: bool
    next_open: datetime | None


class TradingCalendar:
    """Sessions of NSE F&O: weekdays that are not holidays, 09:15-15:30 IST."""

    def __init__(self, holidays: Collection[date]):
        self._holidays = frozenset(holidays)

    def is_trading_day(self, day: date) -> bool:
        """A weekday that is not an exchange holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def state(self, now: datetime) -> MarketState:
        """The market at `now` (any timezone; judged in IST)."""
        local = now.astimezone(IST)
        day, clock = local.date(), local.time()
        next_open = self.next_open(local)
        if not self.is_trading_day(day):
            why = "a weekend" if day.weekday() >= 5 else "an NSE holiday"
            return MarketState(False, f"market closed: {day.isoformat()} is {why}", True, next_open)
        if OPEN <= clock < CLOSE:
            return MarketState(True, "market open", False, next_open)
        amo = clock >= AMO_FROM or clock < AMO_UNTIL
        when = "before the 09:15 open" if clock < OPEN else "after the 15:30 close"
        return MarketState(False, f"market closed: {when} IST", amo, next_open)

    def next_open(self, now: datetime) -> datetime:
        """The next session's opening instant at or after `now`."""
        local = now.astimezone(IST)
        day = local.date()
        if local.time() >= OPEN:
            day += timedelta(days=1)
        for _ in range(30):  # no NSE closure has lasted a month
            if self.is_trading_day(day):
                return datetime.combine(day, OPEN, IST)
            day += timedelta(days=1)
        return datetime.combine(day, OPEN, IST)
