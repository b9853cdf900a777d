"""The Fyers F&O symbol masters (NSE_FO.csv, BSE_FO.csv): read them from files or URLs, or synthesize one."""

from __future__ import annotations

import calendar
import csv
import logging
import os
import re
import sys
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import requests

from app.adapters.nse_holidays import nse_holidays
from app.domain.contracts import IST, Contract, SymbolMaster
from app.domain.session import TradingSession, parse_session

logger = logging.getLogger(__name__)

SYNTHETIC = "synthetic"

# Column positions in the Fyers F&O masters (no header row; DESIGN §2).
_LOT_SIZE, _TICK_SIZE, _SESSION, _EXPIRES_AT, _TICKER = 3, 4, 6, 8, 9
_EXCHANGE, _SEGMENT, _UNDERLYING, _STRIKE, _OPTION_TYPE = 10, 11, 13, 15, 16
_COLUMNS = 21
_OPTION_TYPES = frozenset(("CE", "PE"))
# Fyers's exchange codes (column 10) and the ticker prefix each goes with; F&O is segment 11.
_EXCHANGES = {"10": "NSE", "12": "BSE"}
_FNO_SEGMENT = "11"
# Names of the columns as Fyers's reference lists them: a first row made of these is a header.
_HEADER_WORDS = frozenset(("fytoken", "symboldetails", "symbolticker", "strikeprice", "optiontype", "expirydate"))
_YEAR_2100 = 4102444800  # epoch seconds; later "expiries" are corrupt rows, not contracts

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Weekly tickers spell the month in one character: 1-9 for January-September, then O, N, D.
_WEEKLY_MONTH_CODES = "123456789OND"
# What follows {EXCHANGE}:{UNDERLYING} in a monthly ticker: NSE:NIFTY26JAN24000CE, BSE:SENSEX26DEC85000CE.
_MONTHLY_TAIL = re.compile(r"\d{2}(?:" + "|".join(_MONTHS) + r")\d+(?:\.\d+)?(?:CE|PE)")

# The session the synthetic master states, as the real one does since 3 Aug 2026 (NSE circular
# of 30 May 2026); its expiry epochs are the close of this session on expiry day.
_SYNTHETIC_SESSION = "0915-1540|1815-1915:"
# The synthetic master: how far ahead it lists, and what it lists per underlying.
_WEEKLY_EXPIRIES = 8
_MONTHLY_EXPIRIES = 3
_STRIKES_EACH_SIDE = 40


class _Listing:
    """How the synthetic master lists one index's options (values as of late 2026)."""

    __slots__ = ("exchange", "underlying", "lot_size", "spot", "strike_step", "scrip_code", "weekly", "weekday")

    def __init__(
        self, exchange: str, underlying: str, lot_size: int, spot: int, strike_step: int, scrip_code: int,
        weekly: bool, weekday: int,
    ):
        self.exchange = exchange
        self.underlying = underlying
        self.lot_size = lot_size
        self.spot = spot
        self.strike_step = strike_step
        self.scrip_code = scrip_code
        self.weekly = weekly
        self.weekday = weekday


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
_CODES = {"NSE": "10", "BSE": "12"}


class _Rows:
    """What one master file lists: its usable option contracts and the sessions its rows state."""

    def __init__(self) -> None:
        self.contracts: list[Contract] = []
        self.sessions: dict[str, Counter[str]] = {}


def parse_master_csv(lines: Iterable[str], *, exchange: str | None = None) -> SymbolMaster:
    """Build a SymbolMaster from the option rows of a Fyers F&O master; malformed rows are skipped.

    With `exchange` ("NSE" or "BSE") the file must be that exchange's master. A file that cannot
    be a Fyers F&O master is refused with a ValueError saying why.
    """
    return _master([_read_rows(lines, exchange)])


def _master(files: list[_Rows]) -> SymbolMaster:
    contracts: list[Contract] = []
    counted: dict[str, Counter[str]] = {}
    for rows in files:
        contracts.extend(rows.contracts)
        for exchange, sessions in rows.sessions.items():
            counted.setdefault(exchange, Counter()).update(sessions)
    return SymbolMaster(contracts, _sessions(counted))


def _sessions(counted: dict[str, Counter[str]]) -> dict[str, TradingSession]:
    """Per exchange, the session most rows state (a stray odd row does not move the market)."""
    sessions = {}
    for exchange, texts in counted.items():
        for text, _ in texts.most_common():
            session = parse_session(text)
            if session is not None:
                sessions[exchange] = session
                break
    return sessions


def _read_rows(lines: Iterable[str], expected: str | None) -> _Rows:
    # The master has ~100k rows that repeat a few hundred strikes, ticks, dates and names:
    # share one object per distinct value instead of one per row.
    strikes: dict[str, Decimal] = {}
    ticks: dict[str, Decimal] = {}
    expiries: dict[str, tuple[int, date]] = {}
    lot_sizes: dict[str, int] = {}
    underlyings: dict[str, str] = {}
    found = _Rows()
    widths: Counter[int] = Counter()
    foreign: dict[str, str] = {}  # exchange -> one of its tickers, for rows not of the expected exchange
    rows = options = skipped = not_fno = 0
    for row in csv.reader(lines):
        if len(row) <= 1 and not "".join(row).strip():
            continue  # blank lines
        rows += 1
        if rows == 1 and _is_header(row):
            raise ValueError(
                f"its first row is a header ({', '.join(cell.strip() for cell in row[:3])}, ...); "
                "Fyers's master files have none: is this a Fyers NSE_FO.csv / BSE_FO.csv?"
            )
        width = len(row)
        widths[width] = widths.get(width, 0) + 1
        if width <= _OPTION_TYPE or row[_OPTION_TYPE] not in _OPTION_TYPES:
            continue  # futures (XX) and short rows are not options
        options += 1
        exchange = _EXCHANGES.get(row[_EXCHANGE]) or _EXCHANGES.get(row[_EXCHANGE].strip())
        if exchange is None or (row[_SEGMENT] != _FNO_SEGMENT and row[_SEGMENT].strip() != _FNO_SEGMENT):
            not_fno += 1  # currency or commodity options, or another exchange
            continue
        if expected is not None and exchange != expected:
            foreign.setdefault(exchange, row[_TICKER].strip())
            continue
        try:
            contract = _contract_from_row(row, exchange, strikes, ticks, expiries, lot_sizes, underlyings)
        except (ValueError, ArithmeticError):
            skipped += 1
            continue
        found.contracts.append(contract)
        sessions = found.sessions.get(exchange)
        if sessions is None:
            sessions = found.sessions[exchange] = Counter()
        session = row[_SESSION]
        sessions[session] = sessions.get(session, 0) + 1
    _refuse_unusable(found, expected, rows, widths, foreign, options, skipped, not_fno)
    if skipped:
        logger.warning("symbol master: skipped %d malformed option rows of %d", skipped, rows)
    return found


def _is_header(row: list[str]) -> bool:
    words = {re.sub(r"[\s_]+", "", cell).lower() for cell in row}
    return bool(words & _HEADER_WORDS)


def _refuse_unusable(
    found: _Rows, expected: str | None, rows: int, widths: Counter[int], foreign: dict[str, str],
    options: int, skipped: int, not_fno: int,
) -> None:
    """Say why a file cannot be the Fyers F&O master it should be; silent when it can."""
    if rows == 0:
        raise ValueError("it has no rows")
    width, _ = widths.most_common(1)[0]
    if width != _COLUMNS:
        noun = "column" if width == 1 else "columns"
        raise ValueError(f"its rows have {width} {noun} where Fyers's F&O master has {_COLUMNS}")
    if foreign:
        exchange, ticker = next(iter(foreign.items()))
        raise ValueError(
            f"it lists {exchange} contracts (e.g. {ticker}) where the {expected}_FO master was expected"
        )
    if options == 0:
        raise ValueError(
            f"it has no option rows (CE/PE in column {_OPTION_TYPE}) among {rows} rows: "
            "is this an F&O master (NSE_FO.csv / BSE_FO.csv)?"
        )
    if not found.contracts:
        raise ValueError(
            f"no usable option rows ({rows} rows read, {options} options: {skipped} malformed, "
            f"{not_fno} not NSE or BSE equity derivatives)"
        )


def _contract_from_row(
    row: list[str],
    exchange: str,
    strikes: dict[str, Decimal],
    ticks: dict[str, Decimal],
    expiries: dict[str, tuple[int, date]],
    lot_sizes: dict[str, int],
    underlyings: dict[str, str],
) -> Contract:
    ticker = row[_TICKER].strip()
    underlying_text = row[_UNDERLYING].strip()
    option_type = row[_OPTION_TYPE]
    if not ticker.startswith(exchange + ":") or not underlying_text:
        raise ValueError("ticker or underlying missing, or not of the row's exchange")
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
    prefix = f"{exchange}:{underlying}"
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
    """Load the master from "synthetic", or one or more comma-separated http(s) URLs or file paths."""
    if not source or not source.strip():
        raise ValueError("symbol master source is empty: give a URL, a file path or 'synthetic'")
    sources = [part.strip() for part in source.split(",")]
    if not all(sources):
        raise ValueError(f"symbol master source {source!r} has an empty entry between its commas")
    files = []
    for one in sources:
        if one.lower() == SYNTHETIC:
            # The synthetic master must skip holidays the way the exchange does; listing runs ~3 months ahead.
            holidays = nse_holidays(today, today + timedelta(days=120))
            for exchange in ("NSE", "BSE"):
                files.append(_read_rows(synthetic_master_csv(today, holidays, exchange).splitlines(), exchange))
            continue
        lines = _download(one, timeout) if one.lower().startswith(("http://", "https://")) else _read_file(one)
        try:
            files.append(_read_rows(lines, _exchange_named_in(one)))
        except ValueError as exc:
            raise ValueError(f"symbol master {_where(one)} is not usable: {exc}") from exc
    return _master(files)


def _exchange_named_in(source: str) -> str | None:
    """NSE or BSE when the file's name says which master it is (NSE_FO.csv, BSE_FO.csv)."""
    name = os.path.basename(urlsplit(source).path if "://" in source else source).upper()
    for exchange in ("NSE", "BSE"):
        if f"{exchange}_FO" in name:
            return exchange
    return None


def _where(source: str) -> str:
    # A URL may carry credentials in its query; name only where it points.
    return source.split("?", 1)[0]


def _download(url: str, timeout: float) -> list[str]:
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise OSError(f"could not download the symbol master from {url}: {exc}") from exc
    # Decode ourselves: requests would guess the charset of ~10 MB of ASCII, slowly.
    return response.content.decode("utf-8-sig", errors="replace").splitlines()


def _read_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as master_file:
            return master_file.read().splitlines()
    except OSError as exc:
        raise OSError(f"could not read the symbol master file {path}: {exc.strerror or exc}") from exc


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
        ticker = f"{listing.exchange}:{underlying}{year}{_MONTHS[expiry.month - 1]}{strike}{option_type}"
    else:
        month = _WEEKLY_MONTH_CODES[expiry.month - 1]
        ticker = f"{listing.exchange}:{underlying}{year}{month}{expiry.day:02d}{strike}{option_type}"
    # Month names from our table, not strftime: %b follows the process locale.
    details = f"{underlying} {expiry.day:02d} {_MONTHS[expiry.month - 1].title()} {year} {strike} {option_type}"
    code = _CODES[listing.exchange]
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
            _FNO_SEGMENT,
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
