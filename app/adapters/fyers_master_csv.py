"""Reading a Fyers F&O master file (NSE_FO.csv, BSE_FO.csv): its layout, and its option rows as contracts."""

from __future__ import annotations

import csv
import logging
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.contracts import IST, Contract, SymbolMaster
from app.domain.session import TradingSession, parse_session

logger = logging.getLogger(__name__)

# The columns read here, by position: Fyers's F&O masters have 21 columns and no header row (docs/fyers.md).
LOT_SIZE, TICK_SIZE, SESSION, EXPIRES_AT, TICKER = 3, 4, 6, 8, 9
EXCHANGE, SEGMENT, UNDERLYING, STRIKE, OPTION_TYPE = 10, 11, 13, 15, 16
COLUMNS = 21
_OPTION_TYPES = frozenset(("CE", "PE"))
# Fyers's exchange codes (column 10) and the ticker prefix each goes with; F&O is segment 11.
EXCHANGE_CODES = {"NSE": "10", "BSE": "12"}
_EXCHANGES = {code: exchange for exchange, code in EXCHANGE_CODES.items()}
FNO_SEGMENT = "11"
# Names of the columns as Fyers's reference lists them: a first row made of these is a header.
_HEADER_WORDS = frozenset(("fytoken", "symboldetails", "symbolticker", "strikeprice", "optiontype", "expirydate"))
_YEAR_2100 = 4102444800  # epoch seconds; later "expiries" are corrupt rows, not contracts

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Weekly tickers spell the month in one character: 1-9 for January-September, then O, N, D.
WEEKLY_MONTH_CODES = "123456789OND"
# What follows {EXCHANGE}:{UNDERLYING} in a monthly ticker: NSE:NIFTY26JAN24000CE, BSE:SENSEX26DEC85000CE.
_MONTHLY_TAIL = re.compile(r"\d{2}(?:" + "|".join(MONTHS) + r")\d+(?:\.\d+)?(?:CE|PE)")


class MasterRows:
    """What one master file lists: its usable option contracts and the sessions its rows state."""

    def __init__(self) -> None:
        self.contracts: list[Contract] = []
        self.sessions: dict[str, Counter[str]] = {}


def master_of(files: list[MasterRows]) -> SymbolMaster:
    """One SymbolMaster of every file's contracts, with each exchange's session."""
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


def read_rows(lines: Iterable[str], expected: str | None) -> MasterRows:
    """The usable option rows of one master file; ValueError says why a file cannot be one."""
    shared = _Shared()
    found = MasterRows()
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
        if width <= OPTION_TYPE or row[OPTION_TYPE] not in _OPTION_TYPES:
            continue  # futures (XX) and short rows are not options
        options += 1
        exchange = _EXCHANGES.get(row[EXCHANGE]) or _EXCHANGES.get(row[EXCHANGE].strip())
        if exchange is None or (row[SEGMENT] != FNO_SEGMENT and row[SEGMENT].strip() != FNO_SEGMENT):
            not_fno += 1  # currency or commodity options, or another exchange
            continue
        if expected is not None and exchange != expected:
            foreign.setdefault(exchange, row[TICKER].strip())
            continue
        try:
            contract = _contract_from_row(row, exchange, shared)
        except (ValueError, ArithmeticError):
            skipped += 1
            continue
        found.contracts.append(contract)
        sessions = found.sessions.get(exchange)
        if sessions is None:
            sessions = found.sessions[exchange] = Counter()
        session = row[SESSION]
        sessions[session] = sessions.get(session, 0) + 1
    _refuse_unusable(found, expected, rows, widths, foreign, options, skipped, not_fno)
    if skipped:
        logger.warning("symbol master: skipped %d malformed option rows of %d", skipped, rows)
    return found


def _is_header(row: list[str]) -> bool:
    words = {re.sub(r"[\s_]+", "", cell).lower() for cell in row}
    return bool(words & _HEADER_WORDS)


def _refuse_unusable(
    found: MasterRows, expected: str | None, rows: int, widths: Counter[int], foreign: dict[str, str],
    options: int, skipped: int, not_fno: int,
) -> None:
    """Say why a file cannot be the Fyers F&O master it should be; silent when it can."""
    if rows == 0:
        raise ValueError("it has no rows")
    width, _ = widths.most_common(1)[0]
    if width != COLUMNS:
        noun = "column" if width == 1 else "columns"
        raise ValueError(f"its rows have {width} {noun} where Fyers's F&O master has {COLUMNS}")
    if foreign:
        exchange, ticker = next(iter(foreign.items()))
        raise ValueError(
            f"it lists {exchange} contracts (e.g. {ticker}) where the {expected}_FO master was expected"
        )
    if options == 0:
        raise ValueError(
            f"it has no option rows (CE/PE in column {OPTION_TYPE}) among {rows} rows: "
            "is this an F&O master (NSE_FO.csv / BSE_FO.csv)?"
        )
    if not found.contracts:
        raise ValueError(
            f"no usable option rows ({rows} rows read, {options} options: {skipped} malformed, "
            f"{not_fno} not NSE or BSE equity derivatives)"
        )


class _Shared:
    """The master has ~100k rows that repeat a few hundred strikes, ticks, dates and names:
    one object per distinct text instead of one per row."""

    __slots__ = ("strikes", "ticks", "expiries", "lot_sizes", "underlyings")

    def __init__(self) -> None:
        self.strikes: dict[str, Decimal] = {}
        self.ticks: dict[str, Decimal] = {}
        self.expiries: dict[str, tuple[int, date]] = {}
        self.lot_sizes: dict[str, int] = {}
        self.underlyings: dict[str, str] = {}


def _contract_from_row(row: list[str], exchange: str, shared: _Shared) -> Contract:
    ticker = row[TICKER].strip()
    underlying_text = row[UNDERLYING].strip()
    if not ticker.startswith(exchange + ":") or not underlying_text:
        raise ValueError("ticker or underlying missing, or not of the row's exchange")
    # Every value read is truthy (positive, or a non-empty name), so `or` falls through only on a miss.
    strike = shared.strikes.get(row[STRIKE]) or _remember(shared.strikes, row[STRIKE], _positive_decimal)
    tick_size = shared.ticks.get(row[TICK_SIZE]) or _remember(shared.ticks, row[TICK_SIZE], _positive_decimal)
    expires_at, expiry = shared.expiries.get(row[EXPIRES_AT]) or _remember(shared.expiries, row[EXPIRES_AT], _expiry)
    lot_size = shared.lot_sizes.get(row[LOT_SIZE]) or _remember(shared.lot_sizes, row[LOT_SIZE], _lot_size)
    underlying = shared.underlyings.get(underlying_text) or _remember(
        shared.underlyings, underlying_text, sys.intern
    )
    prefix = f"{exchange}:{underlying}"
    monthly = ticker.startswith(prefix) and _MONTHLY_TAIL.fullmatch(ticker, len(prefix)) is not None
    return Contract(
        ticker=ticker,
        underlying=underlying,
        expiry=expiry,
        expires_at=expires_at,
        strike=strike,
        option_type=sys.intern(row[OPTION_TYPE]),
        lot_size=lot_size,
        tick_size=tick_size,
        monthly=monthly,
    )


def _remember(known: dict[str, Any], text: str, read: Callable[[str], Any]) -> Any:
    value = known[text] = read(text)
    return value


def _expiry(text: str) -> tuple[int, date]:
    expires_at = _whole_number(text)
    if not 0 < expires_at < _YEAR_2100:
        raise ValueError(f"expiry epoch out of range: {text!r}")
    # The expiry column is the last trading instant; its IST date is the expiry date.
    return expires_at, datetime.fromtimestamp(expires_at, IST).date()


def _lot_size(text: str) -> int:
    lot_size = _whole_number(text)
    if lot_size <= 0:
        raise ValueError("lot size must be positive")
    return lot_size


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


