"""A synthetic Fyers F&O master, in the real files' exact format: the index options listed from a day on."""

from __future__ import annotations

import calendar
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.adapters.fyers_master_csv import (
    EXCHANGE_CODES,
    FNO_SEGMENT,
    MONTHS,
    WEEKLY_MONTH_CODES,
)
from app.domain.contracts import IST
from app.domain.session import parse_session

# The session the synthetic master states, as the real one does since 3 Aug 2026 (NSE circular
# of 30 May 2026); its expiry epochs are the close of this session on expiry day.
_SYNTHETIC_SESSION = "0915-1540|1815-1915:"
# The synthetic master: how far ahead it lists, and what it lists per underlying.
_WEEKLY_EXPIRIES = 8
_MONTHLY_EXPIRIES = 3
_STRIKES_EACH_SIDE = 40


@dataclass(frozen=True, slots=True)
class _Listing:
    """How the synthetic master lists one index's options (values as of late 2026)."""

    exchange: str
    underlying: str
    lot_size: int
    spot: int
    strike_step: int
    scrip_code: int
    weekly: bool
    weekday: int


# On NSE only NIFTY keeps weekly expiries (the others are monthly only since November 2024), all
# on Tuesdays; on BSE, SENSEX has weekly expiries and BANKEX monthly ones, on Thursdays in 2026.
_LISTINGS = (
    _Listing("NSE", "NIFTY", 65, 26000, 50, 26000, weekly=True, weekday=calendar.TUESDAY),
    _Listing("NSE", "BANKNIFTY", 30, 59000, 100, 26009, weekly=False, weekday=calendar.TUESDAY),
    _Listing("NSE", "FINNIFTY", 60, 27500, 50, 26037, weekly=False, weekday=calendar.TUESDAY),
    _Listing("NSE", "MIDCPNIFTY", 120, 13500, 25, 26074, weekly=False, weekday=calendar.TUESDAY),
    _Listing("BSE", "SENSEX", 20, 85000, 100, 1, weekly=True, weekday=calendar.THURSDAY),
    _Listing("BSE", "BANKEX", 30, 65000, 100, 12, weekly=False, weekday=calendar.THURSDAY),
)


def synthetic_master_csv(today: date, holidays: Collection[date] = (), exchange: str = "NSE") -> str:
    """One exchange's master (NSE_FO.csv or BSE_FO.csv) in Fyers's exact format, listing index options from `today`."""
    holidays = frozenset(holidays)
    closes = parse_session(_SYNTHETIC_SESSION).closes
    lines = []
    scrip_code = 35000 if exchange == "NSE" else 800000
    for listing in _LISTINGS:
        if listing.exchange != exchange:
            continue
        monthly = _monthly_expiries(today, holidays, listing.weekday)
        weekly = _weekly_expiries(today, holidays, listing.weekday) if listing.weekly else []
        for expiry in sorted(set(monthly) | set(weekly)):
            expires_at = int(datetime.combine(expiry, closes, IST).timestamp())
            for offset in range(-_STRIKES_EACH_SIDE, _STRIKES_EACH_SIDE + 1):
                strike = listing.spot + offset * listing.strike_step
                for option_type in ("CE", "PE"):
                    scrip_code += 1
                    lines.append(
                        _synthetic_row(
                            listing, expiry, expiry in monthly, expires_at, strike, option_type, scrip_code, today
                        )
                    )
    return "\n".join(lines) + "\n"


def _synthetic_row(
    listing: _Listing, expiry: date, monthly: bool, expires_at: int, strike: int, option_type: str,
    scrip_code: int, today: date,
) -> str:
    underlying = listing.underlying
    year = f"{expiry.year % 100:02d}"
    if monthly:
        ticker = f"{listing.exchange}:{underlying}{year}{MONTHS[expiry.month - 1]}{strike}{option_type}"
    else:
        month = WEEKLY_MONTH_CODES[expiry.month - 1]
        ticker = f"{listing.exchange}:{underlying}{year}{month}{expiry.day:02d}{strike}{option_type}"
    # Month names from our table, not strftime: %b follows the process locale.
    details = f"{underlying} {expiry.day:02d} {MONTHS[expiry.month - 1].title()} {year} {strike} {option_type}"
    code = EXCHANGE_CODES[listing.exchange]
    # Fytoken = exchange and segment (1011 NSE F&O, 1211 BSE F&O) + expiry YYMMDD + scrip code, as in the real files.
    fytoken = f"{code}11{expiry:%y%m%d}{scrip_code}"
    return ",".join(
        (
            fytoken,
            details,
            "14",  # OPTIDX
            str(listing.lot_size),
            "0.05",
            "",  # ISIN
            _SYNTHETIC_SESSION,
            today.isoformat(),
            str(expires_at),
            ticker,
            code,  # exchange: 10 NSE, 12 BSE
            FNO_SEGMENT,
            str(scrip_code),
            underlying,
            str(listing.scrip_code),
            f"{strike}.0",
            option_type,
            f"{code}10{listing.scrip_code:0>11}",
            "None",
            "0",
            "0.0",
        )
    )


def _weekly_expiries(today: date, holidays: frozenset[date], weekday: int) -> list[date]:
    first = today + timedelta(days=(weekday - today.weekday()) % 7)
    expiries = [_trading_day_on_or_before(first + timedelta(weeks=week), holidays) for week in range(_WEEKLY_EXPIRIES)]
    # A holiday can pull this week's expiry before today: such a contract is no longer listed.
    return [expiry for expiry in expiries if expiry >= today]


def _monthly_expiries(today: date, holidays: frozenset[date], weekday: int) -> list[date]:
    """The three nearest monthly expiries not before today, like the exchanges' three serial months."""
    expiries = []
    year, month = today.year, today.month
    while len(expiries) < _MONTHLY_EXPIRIES:
        expiry = _trading_day_on_or_before(_last_weekday(year, month, weekday), holidays)
        if expiry >= today:
            expiries.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return expiries


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last_day = date(year, month, calendar.monthrange(year, month)[1])
    return last_day - timedelta(days=(last_day.weekday() - weekday) % 7)


def _trading_day_on_or_before(day: date, holidays: frozenset[date]) -> date:
    while day.weekday() >= 5 or day in holidays:
        day -= timedelta(days=1)
    return day
