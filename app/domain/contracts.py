"""Listed option contracts and how an alert's (underlying, expiry, strike, type) picks one.

The symbol master is the truth: expiry dates, holiday shifts, lot and tick sizes all come from
it. Nothing here computes a calendar.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from app.domain.contract_refusals import (
    expiry_refused,
    no_tradable_expiry,
    unknown_underlying,
    unlisted_strike,
)
from app.domain.errors import ContractNotFound, InvalidAlert
from app.domain.session import TradingSession

IST = timezone(timedelta(hours=5, minutes=30))

EXPIRY_SELECTORS = ("WEEKLY", "NEXT_WEEKLY", "MONTHLY", "NEXT_MONTHLY")
OPTION_TYPES = ("CE", "PE")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Contract:
    """One listed option contract, as the symbol master describes it."""

    ticker: str
    underlying: str
    expiry: date
    expires_at: int
    strike: Decimal
    option_type: str
    lot_size: int
    tick_size: Decimal
    monthly: bool


def parse_expiry(value) -> str | date:
    """Read an alert's expiry: a selector (case-insensitive) or a date YYYY-MM-DD."""
    if isinstance(value, datetime):
        raise InvalidAlert("expiry", f"expiry must be a date, not a date and time ({value.isoformat()})")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InvalidAlert("expiry", f"expiry must be one of {_selector_list()} or a date YYYY-MM-DD")
    text = value.strip()
    if not text.isascii():
        raise InvalidAlert("expiry", f"expiry must be one of {_selector_list()} or a date YYYY-MM-DD")
    # Traders type "next weekly" and "Next-Weekly" too; all spell the same selector.
    selector = re.sub(r"[\s-]+", "_", text.upper())
    if selector in EXPIRY_SELECTORS:
        return selector
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidAlert("expiry", f"expiry {text!r} is not a calendar date") from None
    raise InvalidAlert("expiry", f"expiry {value!r} must be one of {_selector_list()} or a date YYYY-MM-DD")


class _Book:
    """Everything listed for one underlying: its expiries and an option chain per expiry and type."""

    __slots__ = (
        "underlying",
        "chains",
        "count",
        "expires_at",
        "expiries",
        "monthly_expires_at",
        "monthly_expiries",
        "expires_at_by_expiry",
        "strikes",
        "lot_sizes",
        "weekly",
    )

    def __init__(self, underlying: str, contracts: list[Contract]):
        self.underlying = underlying
        # Chains keyed by (expiry, option type), then strike: fewer key objects than one flat
        # (expiry, type, strike) dict over ~100k contracts, and still two O(1) lookups.
        self.chains: dict[tuple[date, str], dict[Decimal, Contract]] = {}
        last_instant: dict[date, int] = {}
        monthly: set[date] = set()
        lot_sizes: dict[date, int] = {}
        self.count = 0
        for contract in contracts:
            expiry = contract.expiry
            chain = self.chains.setdefault((expiry, contract.option_type), {})
            # One contract per strike; a duplicate row in the master would be ambiguous, first wins.
            if contract.strike in chain:
                continue
            chain[contract.strike] = contract
            self.count += 1
            # Contracts of one expiry share their last instant in practice; take the latest so the
            # expiry stays listed while any of its contracts trades (resolve checks the contract).
            if contract.expires_at > last_instant.get(expiry, -1):
                last_instant[expiry] = contract.expires_at
            if contract.monthly:
                monthly.add(expiry)
            lot_sizes.setdefault(expiry, contract.lot_size)
        ordered = sorted(last_instant.items(), key=lambda item: (item[1], item[0]))
        self.expiries = tuple(expiry for expiry, _ in ordered)
        self.expires_at = tuple(instant for _, instant in ordered)
        ordered_monthly = [(expiry, instant) for expiry, instant in ordered if expiry in monthly]
        self.monthly_expiries = tuple(expiry for expiry, _ in ordered_monthly)
        self.monthly_expires_at = tuple(instant for _, instant in ordered_monthly)
        self.expires_at_by_expiry = last_instant
        self.strikes = {key: tuple(sorted(chain)) for key, chain in self.chains.items()}
        self.lot_sizes = lot_sizes
        # An expiry in the weekly ticker format: only then does WEEKLY mean anything else than MONTHLY.
        self.weekly = bool(set(last_instant) - monthly)

    def tradable_expiries(self, now_ts: float) -> tuple[date, ...]:
        """Expiries whose last instant is still ahead, nearest first."""
        return self.expiries[bisect_right(self.expires_at, now_ts) :]


class SymbolMaster:
    """The listed option contracts, indexed once for lookups in a few dict and bisect steps."""

    __slots__ = ("_books", "_count", "_sessions", "_tickers")

    def __init__(self, contracts: Iterable[Contract], sessions: Mapping[str, TradingSession] | None = None):
        by_underlying: dict[str, list[Contract]] = {}
        for contract in contracts:
            by_underlying.setdefault(contract.underlying, []).append(contract)
        self._books = {underlying: _Book(underlying, listed) for underlying, listed in by_underlying.items()}
        self._count = sum(book.count for book in self._books.values())
        self._sessions = dict(sessions or {})
        self._tickers: dict[str, Contract] | None = None  # built on the first look-up by ticker

    def by_ticker(self, ticker: str) -> Contract | None:
        """The listed contract with this Fyers ticker (e.g. NSE:NIFTY26D0126000CE), or None."""
        if self._tickers is None:
            chains = [chain for book in self._books.values() for chain in book.chains.values()]
            self._tickers = {contract.ticker: contract for chain in chains for contract in chain.values()}
        return self._tickers.get(ticker)

    def __len__(self) -> int:
        """Number of distinct listed contracts."""
        return self._count

    def session(self, exchange: str = "NSE") -> TradingSession | None:
        """The F&O session the master states for an exchange (NSE or BSE); None when it states none."""
        return self._sessions.get(exchange)

    @property
    def underlyings(self) -> frozenset[str]:
        """Underlyings with at least one listed option."""
        return frozenset(self._books)

    def expiries(self, underlying: str, now: datetime) -> list[date]:
        """Tradable expiries of an underlying, ascending; empty when none is listed."""
        book = self._find_book(underlying)
        if book is None:
            return []
        return sorted(book.tradable_expiries(_epoch(now)))

    def strikes(self, underlying: str, expiry: date, option_type: str) -> list[Decimal]:
        """Listed strikes of one expiry and option type, ascending; empty when none is listed."""
        book = self._find_book(underlying)
        if book is None:
            return []
        return list(book.strikes.get((expiry, option_type), ()))

    def lot_size(self, underlying: str, now: datetime) -> int:
        """Lot size of the underlying's nearest tradable contract."""
        book = self._book(underlying)
        now_ts = _epoch(now)
        tradable = book.tradable_expiries(now_ts)
        if not tradable:
            raise _no_tradable_expiry(book, now)
        return book.lot_sizes[tradable[0]]

    def expiry_for(self, underlying: str, expiry: str | date, now: datetime) -> date:
        """The expiry date a selector (or date) names for this underlying, if tradable."""
        return self._select_expiry(self._book(underlying), expiry, _epoch(now), now)

    def resolve(
        self, underlying: str, expiry: str | date, strike: Decimal, option_type: str, now: datetime
    ) -> Contract:
        """The listed, tradable contract an alert names; ContractNotFound says why there is none."""
        book = self._book(underlying)
        if option_type not in OPTION_TYPES:
            option_type = _option_type(option_type)
        now_ts = _epoch(now)
        expiry_date = self._select_expiry(book, expiry, now_ts, now)
        chain = book.chains.get((expiry_date, option_type))
        try:
            # Equal Decimals hash alike, so 24000 and 24000.0 find the same contract.
            contract = chain.get(strike) if chain is not None else None
        except TypeError:  # a signalling NaN refuses to hash
            contract = None
        if contract is None:
            listed = book.strikes.get((expiry_date, option_type), ())
            raise unlisted_strike(book.underlying, expiry_date, option_type, _strike(strike), listed)
        if contract.expires_at <= now_ts:
            raise ContractNotFound(
                f"{contract.ticker} stopped trading at {_ist(contract.expires_at)} IST",
                ticker=contract.ticker,
                expires_at=contract.expires_at,
            )
        return contract

    def _find_book(self, underlying: str) -> _Book | None:
        book = self._books.get(underlying)
        if book is None and isinstance(underlying, str):
            book = self._books.get(underlying.strip().upper())
        return book

    def _book(self, underlying: str) -> _Book:
        book = self._find_book(underlying)
        if book is None:
            raise unknown_underlying(underlying, self._books)
        return book

    @staticmethod
    def _select_expiry(book: _Book, expiry: str | date, now_ts: float, now: datetime) -> date:
        # The fast path takes a parsed selector or a date; anything else goes through the parser.
        if type(expiry) is not date and expiry not in EXPIRY_SELECTORS:
            expiry = parse_expiry(expiry)
        if isinstance(expiry, date):
            instant = book.expires_at_by_expiry.get(expiry)
            if instant is not None and now_ts < instant:
                return expiry
            reason = "has expired" if instant is not None else "is not a listed expiry"
            tradable = sorted(book.tradable_expiries(now_ts))
            why = f"{expiry.isoformat()} {reason} for {book.underlying}"
            raise expiry_refused(book.underlying, expiry.isoformat(), why, "", tradable)
        # expiry is a selector: WEEKLY is the nearest expiry of any format, MONTHLY the nearest
        # expiry in the monthly ticker format; the NEXT_ forms take the one after.
        if expiry.endswith("WEEKLY") and not book.weekly:
            # Monthly only (BANKNIFTY, BANKEX, stocks): taking the monthly for a weekly would be a guess.
            why = (
                f"{book.underlying} has no weekly expiries (monthly only), so {expiry} names none; "
                "use MONTHLY or a date"
            )
            raise expiry_refused(book.underlying, expiry, why, "", sorted(book.tradable_expiries(now_ts)))
        if expiry.endswith("MONTHLY"):
            expiries, instants, kind = book.monthly_expiries, book.monthly_expires_at, "monthly "
        else:
            expiries, instants, kind = book.expiries, book.expires_at, ""
        position = bisect_right(instants, now_ts) + (1 if expiry.startswith("NEXT_") else 0)
        if position < len(expiries):
            return expiries[position]
        if not book.tradable_expiries(now_ts):
            raise _no_tradable_expiry(book, now)
        tradable = expiries[bisect_right(instants, now_ts) :]
        needed = "two tradable" if expiry.startswith("NEXT_") else "a tradable"
        noun = "expiries" if expiry.startswith("NEXT_") else "expiry"
        why = f"{expiry} needs {needed} {kind}{noun} of {book.underlying}"
        raise expiry_refused(book.underlying, expiry, why, kind, tradable)


def _epoch(now: datetime) -> float:
    # A naive datetime would silently be read in the host's zone; expiry instants are absolute.
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.timestamp()


def _ist(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, IST).strftime("%Y-%m-%d %H:%M")


def _selector_list() -> str:
    return ", ".join(EXPIRY_SELECTORS)


def _option_type(value) -> str:
    option_type = value.strip().upper() if isinstance(value, str) else value
    if option_type not in OPTION_TYPES:
        raise InvalidAlert("optionType", f"option type {value!r} must be CE or PE")
    return option_type


def _strike(value) -> Decimal:
    """A strike as a finite Decimal; only called once a lookup has missed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = Decimal(str(value))
    if not isinstance(value, Decimal) or not value.is_finite():
        # NaN or infinity cannot sit among listed strikes; it names no contract at all.
        raise InvalidAlert("strikeprice", f"strike {value!r} must be a finite number")
    return value


def _no_tradable_expiry(book: _Book, now: datetime) -> ContractNotFound:
    return no_tradable_expiry(book.underlying, f"{now.astimezone(IST):%Y-%m-%d %H:%M}")
