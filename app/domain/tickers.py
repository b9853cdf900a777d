"""An exact Fyers option ticker as an alert's symbol: read from the alert, then found in the master as is.

NSE:NIFTY26D0124000CE (weekly: YY, a month code 1-9/O/N/D, DD) and NSE:NIFTY26DEC24000CE (monthly:
YY and the month) name one contract: its lot, tick and expiry come from the master, never from the alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping

from app.domain.alert_fields import TICKER_UNDERLYINGS, TRADINGVIEW_TICKERS
from app.domain.alert_values import shown
from app.domain.contract_refusals import unknown_underlying
from app.domain.contracts import IST, Contract, SymbolMaster
from app.domain.errors import ContractNotFound, InvalidAlert

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"
# The fields a ticker already answers: sending one as well would leave two answers to choose from.
CONTRACT_FIELDS = ("strikeprice", "optionType", "expiry")
_SHAPE = re.compile(r"(NSE|BSE):([A-Z][A-Z0-9&_.-]{0,40}?)(CE|PE)")
_BARE = re.compile(r"([A-Z][A-Z0-9&_.-]{0,40}?)(CE|PE)")
_WEEKLY = re.compile(r"(\d{2})([1-9OND])(0[1-9]|[12]\d|3[01])([1-9]\d*(?:\.\d+)?)")
_MONTHLY = re.compile(r"(\d{2})(" + "|".join(MONTHS) + r")([1-9]\d*(?:\.\d+)?)")
# How many listed contracts a refused ticker's answer names.
_NEAREST = 3
_FORMATS = "NSE:NIFTY26D0124000CE (weekly) or NSE:NIFTY26DEC24000CE (monthly)"


@dataclass(frozen=True, slots=True)
class Ticker:
    """A Fyers option ticker read apart: enough to find its neighbours when the master lists it not."""

    ticker: str
    underlying: str
    expiry: date | None  # a weekly ticker's own date; None for a monthly one (the master knows the day)
    month: tuple[int, int]  # (year, month) of the expiry
    strike: Decimal
    option_type: str


def ticker_named(value: Any, field: str) -> Ticker | None:
    """The exact ticker a symbol names (any case), or None when it names an underlying (NIFTY, NSE:NIFTY1!)."""
    if not isinstance(value, str) or not value.isascii():
        return None
    text = value.strip().upper()
    shape = _SHAPE.fullmatch(text)
    if text in TICKER_UNDERLYINGS:
        return None
    if shape is None:
        _refuse_bare(value, text, field)
        return None
    readings = _readings(shape.group(2), shape.group(3), text)
    if not readings:
        raise InvalidAlert(field, f"{field} {shown(value)} is not a Fyers option ticker: write it as {_FORMATS}")
    # An underlying ending in digits can read two ways in the weekly format: the index names win.
    known = [reading for reading in readings if reading.underlying in TRADINGVIEW_TICKERS]
    return (known or readings)[0]


def _refuse_bare(value: Any, text: str, field: str) -> None:
    """A ticker sent without its exchange (NIFTY26D0124000CE) is refused with the prefix it needs, not guessed."""
    bare = _BARE.fullmatch(text)
    readings = _readings(bare.group(1), bare.group(2), text) if bare else []
    if readings:
        exchange = TRADINGVIEW_TICKERS.get(readings[0].underlying, ("NSE",))[0]
        raise InvalidAlert(
            field,
            f"{field} {shown(value)} looks like a Fyers option ticker without its exchange: write {exchange}:{text}",
        )


def _readings_of(ticker: str) -> list[Ticker]:
    shape = _SHAPE.fullmatch(ticker)
    return _readings(shape.group(2), shape.group(3), ticker) if shape else []


def _readings(body: str, option_type: str, ticker: str) -> list[Ticker]:
    """Every way the middle of a ticker splits into underlying, expiry and strike that is a calendar date."""
    readings = []
    for cut in range(1, len(body)):
        underlying, tail = body[:cut], body[cut:]
        weekly, monthly = _WEEKLY.fullmatch(tail), _MONTHLY.fullmatch(tail)
        try:
            if weekly:
                year, month = 2000 + int(weekly[1]), WEEKLY_MONTH_CODES.index(weekly[2]) + 1
                expiry = date(year, month, int(weekly[3]))
                readings.append(Ticker(ticker, underlying, expiry, (year, month), Decimal(weekly[4]), option_type))
            elif monthly:
                month_of = (2000 + int(monthly[1]), MONTHS.index(monthly[2]) + 1)
                readings.append(Ticker(ticker, underlying, None, month_of, Decimal(monthly[3]), option_type))
        except ValueError:  # 31 in a month of 30 days: no such expiry
            continue
    return readings


def refuse_contract_fields(payload: Mapping[str, Any], prefix: str, ticker: Ticker) -> None:
    """A ticker names the contract: a strike, option type or expiry sent with it is refused."""
    for name in CONTRACT_FIELDS:
        if payload.get(name) not in (None, ""):
            field = prefix + name
            raise InvalidAlert(
                field,
                f"{field} {shown(payload[name])} is not read with an exact ticker: the ticker names the contract "
                f"({ticker.ticker}); drop {name}, or send the underlying ({ticker.underlying}) as symbol",
            )


def refuse_shared_contract_fields(shared: Mapping[str, Any], leg: Mapping[str, Any], prefix: str) -> None:
    """A message's own strike, option type or expiry would be shared with a leg that names its ticker."""
    ticker = ticker_named(leg.get("symbol", shared.get("symbol")), prefix + "symbol")
    if ticker is not None:
        refuse_contract_fields({name: value for name, value in shared.items() if name not in leg}, "", ticker)


def resolve_ticker(master: SymbolMaster, ticker: Ticker, now: datetime) -> Contract:
    """The listed, tradable contract of an exact ticker; ContractNotFound names the nearest listed ones."""
    contract = master.by_ticker(ticker.ticker)
    if contract is not None and contract.underlying != ticker.underlying:
        # The alert was gated as another underlying's: never trade what was not checked.
        raise ContractNotFound(
            f"{ticker.ticker} is a {contract.underlying} contract, read as {ticker.underlying}'s: send "
            f"symbol {contract.underlying} with strikeprice, optionType and expiry",
            ticker=ticker.ticker,
        )
    if contract is not None and now.timestamp() < contract.expires_at:
        return contract
    # An underlying ending in digits may have been read short (_readings): a listed one names the neighbours.
    listed = [reading for reading in _readings_of(ticker.ticker) if reading.underlying in master.underlyings]
    ticker = listed[0] if listed and ticker.underlying not in master.underlyings else ticker
    if ticker.underlying not in master.underlyings:
        refused = unknown_underlying(ticker.underlying, master.underlyings)
        raise ContractNotFound(f"{ticker.ticker}: {refused.message}", ticker=ticker.ticker, **refused.details)
    nearest = nearest_listed(master, ticker, now)
    if contract is not None:
        ended = datetime.fromtimestamp(contract.expires_at, IST).strftime("%Y-%m-%d %H:%M")
        why = f"{ticker.ticker} stopped trading at {ended} IST"
    else:
        why = f"{ticker.ticker} is not a listed contract"
    raise ContractNotFound(
        f"{why}; nearest listed: {', '.join(c.ticker for c in nearest) or 'none'}",
        ticker=ticker.ticker,
        nearest_contracts=[c.ticker for c in nearest],
    )


def nearest_listed(master: SymbolMaster, ticker: Ticker, now: datetime) -> list[Contract]:
    """Up to three tradable contracts of the ticker's underlying and type: nearest expiry, then nearest strike."""
    expiries = master.expiries(ticker.underlying, now)
    target = ticker.expiry or _month_expiry(expiries, ticker.month)
    found: list[Contract] = []
    for expiry in sorted(expiries, key=lambda day: (abs((day - target).days), day)):
        strikes = master.strikes(ticker.underlying, expiry, ticker.option_type)
        nearest = sorted(strikes, key=lambda listed: (abs(listed - ticker.strike), listed))
        for strike in nearest[: _NEAREST - len(found)]:
            found.append(master.resolve(ticker.underlying, expiry, strike, ticker.option_type, now))
        if len(found) == _NEAREST:
            break
    return found


def _month_expiry(expiries: list[date], month: tuple[int, int]) -> date:
    """The day a monthly ticker's expiry is taken to be: its month's last listed expiry, else the month's end."""
    in_month = [day for day in expiries if (day.year, day.month) == month]
    if in_month:
        return in_month[-1]
    year, number = month
    return date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)


def leg_ticker(payload: Mapping[str, Any], prefix: str, intent: bool, whole_underlying: bool) -> Ticker | None:
    """The exact ticker a leg's symbol names, checked against what else the leg says; None for an underlying."""
    field = prefix + "symbol"
    ticker = ticker_named(payload.get("symbol"), field)
    if ticker is None:
        return None
    if intent:
        raise InvalidAlert(
            field,
            f"{field} {shown(payload['symbol'])} is an exact ticker; position intent opens the option type "
            f"long_as/short_as pick: send the underlying ({ticker.underlying}) with strikeprice and expiry",
        )
    if whole_underlying:
        raise InvalidAlert(
            prefix + "scope",
            f"{prefix}scope underlying exits every {ticker.underlying} contract, and {field} names one "
            f"({ticker.ticker}): send symbol {ticker.underlying}, or drop scope to exit that contract",
        )
    refuse_contract_fields(payload, prefix, ticker)
    return ticker
