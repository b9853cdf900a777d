"""NSE trading holidays, read from exchange_calendars' XBOM calendar (BSE and NSE close together)."""

from __future__ import annotations

from datetime import date, timedelta


def nse_holidays(start: date, end: date) -> frozenset[date]:
    """Weekdays in [start, end] on which the exchange is closed, as far as the calendar knows."""
    # Imported here: the import costs a noticeable fraction of a second and only the synthetic
    # master needs it.
    import exchange_calendars

    calendar = exchange_calendars.get_calendar("XBOM")
    # Past the calendar's range a day is unknown, not closed: report nothing for it.
    first = max(start, calendar.first_session.date())
    last = min(end, calendar.last_session.date())
    if first > last:
        return frozenset()
    sessions = {session.date() for session in calendar.sessions_in_range(first.isoformat(), last.isoformat())}
    closed = set()
    day = first
    while day <= last:
        if day.weekday() < 5 and day not in sessions:
            closed.add(day)
        day += timedelta(days=1)
    return frozenset(closed)
