"""The alert's field catalogue: the names it reads, their aliases, and TradingView's ticker names.

docs/alerts.md lists the same fields and tickers for the trader; this is the one place the code
reads them.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Mapping

PRODUCT_TYPES = ("INTRADAY", "MARGIN", "CO", "BO")
OPTION_TYPES = ("CE", "PE")
ACTIONS = ("BUY", "SELL", "EXIT")
# Position intent: what TradingView's {{strategy.market_position}} sends, and how long and short map to options.
POSITIONS = ("LONG", "SHORT", "FLAT")
LONG_AS = ("BUY_CE", "SELL_PE")
SHORT_AS = ("BUY_PE", "SELL_CE")
MAX_LEGS = 6
ALIASES = {
    "secret": "token",
    "option_type": "optionType",
    "strike": "strikeprice",
    "strike_price": "strikeprice",
    "expiry_date": "expiry",
    "quantity": "qty",
    "stop_loss": "sl",
    "target": "tp",
    "product_type": "productType",
}
# Fields a multi-leg message may set once for all its legs.
SHARED_FIELDS = ("symbol", "expiry", "productType", "optionType", "qty", "lots", "risk", "risk_pct", "sl", "tp")
# What one leg reads; a single alert reads the same from the message.
LEG_FIELDS = (
    "symbol", "strikeprice", "optionType", "expiry", "action", "qty", "lots", "risk", "risk_pct", "productType", "sl",
    "tp", "scope",
)
# The ways to say how much an entry buys or sells: one at most.
SIZE_FIELDS = ("qty", "lots", "risk", "risk_pct")
MESSAGE_FIELDS = (
    "token", "idempotency_key", "strategy", "dry_run", "legs", "position", "long_as", "short_as", "open_short",
)
# Never read to trade: kept in the journal as sent. `meta` is the trader's own object; the
# rest are what TradingView's placeholders fill ({{close}}, {{ticker}}, {{timenow}}, ...).
# `time` and `timenow` are also read by MAX_ALERT_AGE_SECONDS.
INFORMATIONAL_FIELDS = (
    "meta", "comment", "price", "close", "open", "high", "low", "volume",
    "interval", "ticker", "exchange", "time", "timenow", "position_size", "market_position",
)
SECRET_NAMES = ("token", "secret")
# Names traders write for a field, beyond what spelling closeness finds.
_SYNONYMS = {
    "side": "action", "type": "optionType", "takeprofit": "tp", "profit": "tp", "stop": "sl", "expiration": "expiry",
}
# TradingView's names for the index underlyings: the chart ticker, with or without its
# exchange, and the continuous future.
TRADINGVIEW_TICKERS = {
    "NIFTY": ("NSE", ("NIFTY", "NIFTY50", "NIFTY1!")),
    "BANKNIFTY": ("NSE", ("BANKNIFTY", "NIFTYBANK", "BANKNIFTY1!")),
    "FINNIFTY": ("NSE", ("FINNIFTY", "CNXFINANCE", "FINNIFTY1!")),
    "MIDCPNIFTY": ("NSE", ("MIDCPNIFTY", "NIFTY_MID_SELECT", "MIDCPNIFTY1!")),
    "NIFTYNXT50": ("NSE", ("NIFTYNXT50", "NIFTYJR")),
    "SENSEX": ("BSE", ("SENSEX", "SENSEX1!")),
    "BANKEX": ("BSE", ("BANKEX", "BANKEX1!")),
}
# Every ticker spelling, upper case, to the underlying it names.
TICKER_UNDERLYINGS = {
    name: underlying
    for underlying, (exchange, names) in TRADINGVIEW_TICKERS.items()
    for bare in names
    for name in (bare, f"{exchange}:{bare}")
}


def normalize(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with alias names mapped to the seed names (a seed name present wins)."""
    result = dict(payload)
    for alias, name in ALIASES.items():
        if alias in result:
            value = result.pop(alias)
            result.setdefault(name, value)
    return result


def nearest_field(name: str, known: tuple[str, ...]) -> str | None:
    """The known field a misspelt `name` most likely means, by its seed name, or None."""
    aliases = [alias for alias, seed_name in ALIASES.items() if seed_name in known]
    folded = {_fold(known_name): known_name for known_name in (*known, *aliases)}
    wanted = _fold(name)
    match = folded.get(wanted) or folded.get(_fold(_SYNONYMS.get(wanted, "")))
    if match is None:
        # "product" for productType, "target_price" for target: the longest name one begins the other.
        prefixes = [
            f for f in folded if len(min(f, wanted, key=len)) >= 3 and (wanted.startswith(f) or f.startswith(wanted))
        ]
        match = folded[max(prefixes, key=len)] if prefixes else None
    if match is None:
        close = difflib.get_close_matches(wanted, list(folded), n=1, cutoff=0.7)
        match = folded[close[0]] if close else None
    if match is None:
        return None
    return ALIASES.get(match, match)


def _fold(name: str) -> str:
    return re.sub(r"[\s_.-]", "", name.lower())
