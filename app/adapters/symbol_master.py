"""The Fyers NSE_FO symbol master: read it from a file or URL, or synthesize one for offline use."""

from __future__ import annotations

import calendar
import csv
import logging
import re
import sys
from collections.abc import Collection, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import requests

from app.adapters.nse_holidays import nse_holidays
from app.domain.contracts import IST, Contract, SymbolMaster

logger = logging.getLogger(__name__)

SYNTHETIC = "synthetic"

# Column positions in NSE_FO.csv (no header row; DESIGN §2).
_LOT_SIZE, _TICK_SIZE, _EXPIRES_AT, _TICKER, _UNDERLYING, _STRIKE, _OPTION_TYPE = 3, 4, 8, 9, 13, 15, 16
_OPTION_TYPES = frozenset(("CE", "PE"))
_YEAR_2100 = 4102444800  # epoch seconds; later "expiries" are corrupt rows, not contracts

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Weekly tickers spell the month in one character: 1-9 for January-September, then O, N, D.
_WEEKLY_MONTH_CODES = "123456789OND"
# What follows NSE:{UNDERLYING} in a monthly ticker: NSE:NIFTY26JAN24000CE.
_MONTHLY_TAIL = re.compile(r"\d{2}(?:" + "|".join(_MONTHS) + r")\d+(?:\.\d+)?(?:CE|PE)")

_MARKET_CLOSE = time(15, 30)
# The synthetic master: how far ahead it lists, and what it lists per underlying.
_WEEKLY_EXPIRIES = 8
_MONTHLY_EXPIRIES = 3
_STRIKES_EACH_SIDE = 40


class _Listing:
    """How the synthetic master lists one index's options (values as of January 2026)."""

    __slots__ = ("underlying", "lot_size", "spot", "strike_step", "scrip_code", "weekly")

    def __init__(self, underlying: str, lot_size: int, spot: int, strike_step: int, scrip_code: int, weekly: bool):
        self.underlying = underlying
        self.lot_size = lot_size
        self.spot = spot
        self.strike_step = strike_step
        self.scrip_code = scrip_code
        self.weekly = weekly


# Only NIFTY keeps weekly expiries on NSE; the others are monthly only since November 2024.
_LISTINGS = (
    _Listing("NIFTY", 65, 26000, 50, 26000, weekly=True),
    _Listing("BANKNIFTY", 30, 59000, 100, 26009, weekly=False),
    _Listing("FINNIFTY", 60, 27500, 50, 26037, weekly=False),
    _Listing("MIDCPNIFTY", 120, 13500, 25, 26074, weekly=False),
)


def parse_master_csv(lines: Iterable[str]) -> SymbolMaster:
    """Build a SymbolMaster from the option rows of a Fyers NSE_FO.csv; malformed rows are skipped."""
    # The master has ~100k rows that repeat a few hundred strikes, ticks, dates and names:
    # share one object per distinct value instead of one per row.
    strikes: dict[str, Decimal] = {}
    ticks: dict[str, Decimal] = {}
    expiries: dict[str, tuple[int, date]] = {}
    lot_sizes: dict[str, int] = {}
    underlyings: dict[str, str] = {}
    contracts: list[Contract] = []
    rows = skipped = 0
    for row in csv.reader(lines):
        rows += 1
        if len(row) <= _OPTION_TYPE or row[_OPTION_TYPE] not in _OPTION_TYPES:
            continue  # futures (XX), blank lines and short rows are not options
        try:
            contract = _contract_from_row(row, strikes, ticks, expiries, lot_sizes, underlyings)
        except (ValueError, ArithmeticError):
            skipped += 1
            continue
        contracts.append(contract)
    if not contracts:
        raise ValueError(
            f"no usable option rows in the symbol master ({rows} rows read, {skipped} malformed option rows); "
            "expected the 21-column Fyers NSE_FO.csv"
        )
    if skipped:
        logger.warning("symbol master: skipped %d malformed option rows of %d", skipped, rows)
    return SymbolMaster(contracts)


def _contract_from_row(
    row: list[str],
    strikes: dict[str, Decimal],
    ticks: dict[str, Decimal],
    expiries: dict[str, tuple[int, date]],
    lot_sizes: dict[str, int],
    underlyings: dict[str, str],
) -> Contract:
    ticker = row[_TICKER].strip()
    underlying_text = row[_UNDERLYING].strip()
    option_type = row[_OPTION_TYPE]
    if not ticker.startswith("NSE:") or not underlying_text:
        raise ValueError("ticker or underlying missing")
    strike = strikes.get(row[_STRIKE])
    if strike is None:
        strike = strikes[row[_STRIKE]] = _positive_decimal(row[_STRIKE])
    tick_size = ticks.get(row[_TICK_SIZE])
    if tick_size is None:
        tick_size = ticks[row[_TICK_SIZE]] = _positive_decimal(row[_TICK_SIZE])
    expiry_text = row[_EXPIRES_AT]
    known_expiry = expiries.get(expiry_text)
    if known_expiry is None:
        expires_at = _whole_number(expiry_text)
        if not 0 < expires_at < _YEAR_2100:
            raise ValueError(f"expiry epoch out of range: {expiry_text!r}")
        # The expiry column is the last trading instant; its IST date is the expiry date.
        known_expiry = expiries[expiry_text] = (expires_at, datetime.fromtimestamp(expires_at, IST).date())
    expires_at, expiry = known_expiry
    lot_size = lot_sizes.get(row[_LOT_SIZE])
    if lot_size is None:
        lot_size = _whole_number(row[_LOT_SIZE])
        if lot_size <= 0:
            raise ValueError("lot size must be positive")
        lot_sizes[row[_LOT_SIZE]] = lot_size
    underlying = underlyings.get(underlying_text)
    if underlying is None:
        underlying = underlyings[underlying_text] = sys.intern(underlying_text)
    prefix = "NSE:" + underlying
    monthly = ticker.startswith(prefix) and _MONTHLY_TAIL.fullmatch(ticker, len(prefix)) is not None
    return Contract(
        ticker=ticker,
        underlying=underlying,
        expiry=expiry,
        expires_at=expires_at,
        strike=strike,
        option_type=sys.intern(option_type),
        lot_size=lot_size,
        tick_size=tick_size,
        monthly=monthly,
    )


def _positive_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"not a positive number: {text!r}")
    return value


def _whole_number(text: str) -> int:
    text = text.strip()
    # Some exports write integers as "65.0"; accept them, refuse real fractions.
    if text.isdigit():
        return int(text)
    value = float(text)
    if not value.is_integer():
        raise ValueError(f"not a whole number: {text!r}")
    return int(value)


def load_symbol_master(source: str, *, today: date, timeout: float = 30.0) -> SymbolMaster:
    """Load the master from "synthetic", an http(s) URL or a local file path."""
    if not source or not source.strip():
        raise ValueError("symbol master source is empty: give a URL, a file path or 'synthetic'")
    source = source.strip()
    if source.lower() == SYNTHETIC:
        # The synthetic master must skip holidays the way the exchange does; listing runs ~3 months ahead.
        holidays = nse_holidays(today, today + timedelta(days=120))
        return parse_master_csv(synthetic_master_csv(today, holidays).splitlines())
    if source.lower().startswith(("http://", "https://")):
        try:
            response = requests.get(source, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise OSError(f"could not download the symbol master from {source}: {exc}") from exc
        # Decode ourselves: requests would guess the charset of ~10 MB of ASCII, slowly.
        lines = response.content.decode("utf-8-sig", errors="replace").splitlines()
    else:
        try:
            with open(source, encoding="utf-8-sig", errors="replace", newline="") as master_file:
                lines = master_file.read().splitlines()
        except OSError as exc:
            raise OSError(f"could not read the symbol master file {source}: {exc.strerror or exc}") from exc
    try:
        return parse_master_csv(lines)
    except ValueError as exc:
        raise ValueError(f"symbol master {source}: {exc}") from exc


def synthetic_master_csv(today: date, holidays: Collection[date] = ()) -> str:
    """A symbol master in the exact Fyers NSE_FO.csv format, listing index options from `today`."""
    holidays = frozenset(holidays)
    monthly = _monthly_expiries(today, holidays)
    weekly = _weekly_expiries(today, holidays)
    lines = []
    scrip_code = 35000
    for listing in _LISTINGS:
        expiries = sorted(set(monthly) | set(weekly)) if listing.weekly else monthly
        for expiry in expiries:
            for offset in range(-_STRIKES_EACH_SIDE, _STRIKES_EACH_SIDE + 1):
                strike = listing.spot + offset * listing.strike_step
                for option_type in ("CE", "PE"):
                    scrip_code += 1
                    lines.append(
                        _synthetic_row(listing, expiry, expiry in monthly, strike, option_type, scrip_code, today)
                    )
    return "\n".join(lines) + "\n"


def _synthetic_row(
    listing: _Listing, expiry: date, monthly: bool, strike: int, option_type: str, scrip_code: int, today: date
) -> str:
    underlying = listing.underlying
    year = f"{expiry.year % 100:02d}"
    if monthly:
        ticker = f"NSE:{underlying}{year}{_MONTHS[expiry.month - 1]}{strike}{option_type}"
    else:
        ticker = f"NSE:{underlying}{year}{_WEEKLY_MONTH_CODES[expiry.month - 1]}{expiry.day:02d}{strike}{option_type}"
    expires_at = int(datetime.combine(expiry, _MARKET_CLOSE, IST).timestamp())
    # Month names from our table, not strftime: %b follows the process locale.
    details = f"{underlying} {expiry.day:02d} {_MONTHS[expiry.month - 1].title()} {year} {strike} {option_type}"
    # Fytoken = segment prefix 1011 + expiry YYMMDD + scrip code, as in the real file.
    fytoken = f"1011{expiry:%y%m%d}{scrip_code}"
    return ",".join(
        (
            fytoken,
            details,
            "14",  # OPTIDX
            str(listing.lot_size),
            "0.05",
            "",  # ISIN
            "0915-1530|1815-1915:",
            today.isoformat(),
            str(expires_at),
            ticker,
            "10",  # NSE
            "11",  # F&O segment
            str(scrip_code),
            underlying,
            str(listing.scrip_code),
            f"{strike}.0",
            option_type,
            f"1010000000{listing.scrip_code}",
            "None",
            "0",
            "0.0",
        )
    )


def _weekly_expiries(today: date, holidays: frozenset[date]) -> list[date]:
    first_tuesday = today + timedelta(days=(calendar.TUESDAY - today.weekday()) % 7)
    expiries = [
        _trading_day_on_or_before(first_tuesday + timedelta(weeks=week), holidays) for week in range(_WEEKLY_EXPIRIES)
    ]
    # A holiday can pull this week's expiry before today: such a contract is no longer listed.
    return [expiry for expiry in expiries if expiry >= today]


def _monthly_expiries(today: date, holidays: frozenset[date]) -> list[date]:
    """The three nearest monthly expiries not before today, like NSE's three serial months."""
    expiries = []
    year, month = today.year, today.month
    while len(expiries) < _MONTHLY_EXPIRIES:
        expiry = _trading_day_on_or_before(_last_tuesday(year, month), holidays)
        if expiry >= today:
            expiries.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return expiries


def _last_tuesday(year: int, month: int) -> date:
    last_day = date(year, month, calendar.monthrange(year, month)[1])
    return last_day - timedelta(days=(last_day.weekday() - calendar.TUESDAY) % 7)


def _trading_day_on_or_before(day: date, holidays: frozenset[date]) -> date:
    while day.weekday() >= 5 or day in holidays:
        day -= timedelta(days=1)
    return day
