"""The forward-test report over a range of IST days, read from the journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable

from app.domain.contracts import IST
from app.domain.errors import InvalidRequest
from app.domain.report import ClosedTrade, StrategyFigures, closed_trades, cumulative, figures
from app.ports import Clock
from app.services.journal import Journal

DEFAULT_DAYS = 14
MAX_DAYS = 92  # a quarter: every day is one listing of the store, and more would outlast a request
NOTE = (
    "Only trades closed by a stop or target leg are counted: closes by an EXIT alert or close-all journal no P&L. "
    "Slippage compares the fill with the alert's close (meaningful when the alert's chart is the traded contract); "
    "latency runs from the alert's timenow (whole seconds) to the order's journal record."
)


@dataclass(frozen=True)
class Report:
    """The report of one range: the closed trades, each strategy's figures, the running P&L per day."""

    first: date
    last: date
    trades: list[ClosedTrade]
    strategies: list[StrategyFigures]
    running: list[tuple[date, Decimal]]


class ForwardReport:
    """Reads the journal's days and makes the report."""

    def __init__(self, journal: Journal, clock: Clock, tick_of: Callable[[str], Decimal | None]):
        self._journal = journal
        self._clock = clock
        self._tick_of = tick_of

    def range(self, first: Any, last: Any) -> tuple[date, date]:
        """The days asked for (`from`, `to` as YYYY-MM-DD): the last 14 IST days to today when not given."""
        today = self._clock.now().astimezone(IST).date()
        last_day = _day("to", last) or today
        first_day = _day("from", first) or last_day - timedelta(days=DEFAULT_DAYS - 1)
        if first_day > last_day:
            raise InvalidRequest("from", f"from ({first_day}) is after to ({last_day})", value=str(first))
        if (last_day - first_day).days + 1 > MAX_DAYS:
            raise InvalidRequest("from", f"at most {MAX_DAYS} days in one report", value=str(first))
        return first_day, last_day

    def between(self, first: date, last: date) -> Report:
        """The report of the days from `first` to `last`, both included."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        trades = closed_trades(((day, self._journal.day(day)) for day in days), self._tick_of)
        return Report(first, last, trades, figures(trades), cumulative(trades, days))


def _day(field: str, value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidRequest(field, f"{field} must be a date as YYYY-MM-DD", value=str(value)[:40]) from None
