"""Is the market open for this alert? The NSE calendar first, then the broker's own word."""

from __future__ import annotations

from app.deadline import Deadline
from app.domain.calendar import MarketState, TradingCalendar
from app.ports import Broker, Clock


class MarketGate:
    """The calendar (exchange-calendars' XBOM holidays) and, when trading live, Fyers's status."""

    def __init__(self, calendar: TradingCalendar, broker: Broker, clock: Clock, enabled: bool):
        self.calendar = calendar
        self._broker = broker
        self._clock = clock
        self.enabled = enabled

    def state(self, deadline: Deadline) -> MarketState:
        """Open or closed now; with the check off (paper, tests against a mock), always open."""
        if not self.enabled:
            return MarketState(True, "market-hours check off (MARKET_HOURS_CHECK=false)", False, None)
        state = self.calendar.state(self._clock.now())
        if not state.open:
            return state
        # A short-notice closure the calendar does not know: when the broker says closed,
        # the market is closed.
        if self._broker.market_open(deadline) is False:
            return MarketState(False, "market closed: Fyers reports NSE F&O closed", False, state.next_open)
        return state
