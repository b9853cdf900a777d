"""Choosing a strike: exact, rounded to the nearest listed one, or ATM / ITMn / OTMn off the spot."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from app.domain.errors import ContractNotFound, InvalidAlert

MAX_STEPS = 10
# "OTM2", "OTM 2", "OTM-2" and "OTM_2" all name the same strike.
_RELATIVE = re.compile(r"(ATM)|(ITM|OTM)[ _-]?([0-9]{1,2})")
# The index each option underlying is quoted as, for the spot price.
INDEX_SYMBOLS = {
    "NIFTY": "NSE:NIFTY50-INDEX",
    "BANKNIFTY": "NSE:NIFTYBANK-INDEX",
    "FINNIFTY": "NSE:FINNIFTY-INDEX",
    "MIDCPNIFTY": "NSE:MIDCPNIFTY-INDEX",
    "NIFTYNXT50": "NSE:NIFTYNXT50-INDEX",
    "SENSEX": "BSE:SENSEX-INDEX",
    "BANKEX": "BSE:BANKEX-INDEX",
}


@dataclass(frozen=True, slots=True)
class StrikeChoice:
    """How the alert names its strike."""

    exact: Decimal | None = None  # a number
    moneyness: str | None = None  # ATM, ITM or OTM
    steps: int = 0  # strikes away from ATM
    nearest: bool = False  # round `exact` to the nearest listed strike (STRIKE_ROUNDING=nearest)

    @property
    def relative(self) -> bool:
        """True when the strike depends on the spot price."""
        return self.moneyness is not None

    def describe(self) -> str:
        """As the trader wrote it."""
        if self.exact is not None:
            return str(self.exact.normalize() if self.exact == self.exact.to_integral() else self.exact)
        return self.moneyness if self.moneyness == "ATM" else f"{self.moneyness}{self.steps}"


def parse_relative(value: Any) -> StrikeChoice | None:
    """ATM, ITM1..ITM10 or OTM1..OTM10 (any case, "OTM 2" too), or None when `value` is not such a word."""
    if not isinstance(value, str) or not value.isascii():
        return None
    match = _RELATIVE.fullmatch(value.strip().upper())
    if not match:
        return None
    if match.group(1):
        return StrikeChoice(moneyness="ATM")
    steps = int(match.group(3))
    if not 1 <= steps <= MAX_STEPS:
        raise InvalidAlert(
            "strikeprice",
            f"strikeprice {value.strip()!r} is out of range: use ITM1-ITM{MAX_STEPS} or OTM1-OTM{MAX_STEPS}",
        )
    return StrikeChoice(moneyness=match.group(2), steps=steps)


def spot_symbol(underlying: str) -> str:
    """The quote symbol of an underlying's spot: its index, or the stock's equity symbol."""
    return INDEX_SYMBOLS.get(underlying, f"NSE:{underlying}-EQ")


def nearest_strike(strikes: Sequence[Decimal], price: Decimal) -> Decimal:
    """The listed strike closest to `price` (the lower one on a tie)."""
    if not strikes:
        raise ContractNotFound("no strikes are listed for this expiry")
    index = bisect_left(strikes, price)
    candidates = strikes[max(0, index - 1) : index + 1]
    return min(candidates, key=lambda strike: (abs(strike - price), strike))


def select_strike(strikes: Sequence[Decimal], spot: Decimal, choice: StrikeChoice, option_type: str) -> Decimal:
    """ATM is the strike nearest the spot; ITM is below it for calls and above it for puts."""
    atm = nearest_strike(strikes, spot)
    if choice.moneyness == "ATM":
        return atm
    below = (choice.moneyness == "ITM") == (option_type == "CE")
    index = strikes.index(atm) + (-choice.steps if below else choice.steps)
    if not 0 <= index < len(strikes):
        raise ContractNotFound(
            f"{choice.describe()} {option_type} is beyond the listed strikes "
            f"({strikes[0]}-{strikes[-1]}, ATM {atm})"
        )
    return strikes[index]
