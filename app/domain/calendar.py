"""The NSE F&O trading calendar in IST: sessions, holidays and the after-market (AMO) window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Collection

from app.domain.contracts import IST
from app.domain.session import TradingSession


@dataclass(frozen=True, slots=True)
class MarketState:
    """Whether orders can be placed now, and if not, why and whether an AMO is possible."""

    open: bool
    reason: str
    amo_window: bool
    next_open: datetime | None


class TradingCalendar:
    """Sessions of NSE F&O: weekdays that are not holidays, in the session the symbol master states."""

    def __init__(self, holidays: Collection[date], session: TradingSession):
        self._holidays = frozenset(holidays)
        self.session = session

    def is_trading_day(self, day: date) -> bool:
        """A weekday that is not an exchange holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def state(self, now: datetime) -> MarketState:
        """The market at `now` (any timezone; judged in IST)."""
        local = now.astimezone(IST)
        day, clock = local.date(), local.time()
        session = self.session
        next_open = self.next_open(local)
        if not self.is_trading_day(day):
            why = "a weekend" if day.weekday() >= 5 else "an NSE holiday"
            return MarketState(False, f"market closed: {day.isoformat()} is {why}", True, next_open)
        if session.opens <= clock < session.closes:
            return MarketState(True, "market open", False, next_open)
        # Fyers takes AMOs from a while after the close until shortly before the next open
        # (any time on a day without a session); in the gaps it takes none.
        amo = clock >= session.amo_from or clock < session.amo_until
        if clock < session.opens:
            when = f"before the {session.opens:%H:%M} open"
        else:
            when = f"after the {session.closes:%H:%M} close"
        return MarketState(False, f"market closed: {when} IST", amo, next_open)

    def next_open(self, now: datetime) -> datetime:
        """The next session's opening instant at or after `now`."""
        local = now.astimezone(IST)
        opens = self.session.opens
        day = local.date()
        if local.time() >= opens:
            day += timedelta(days=1)
        for _ in range(30):  # no NSE closure has lasted a month
            if self.is_trading_day(day):
                return datetime.combine(day, opens, IST)
            day += timedelta(days=1)
        return datetime.combine(day, opens, IST)
