"""Why an alert names no listed contract: each ContractNotFound says what is listed instead."""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from app.domain.errors import ContractNotFound

# How many listed strikes on each side of an unlisted one the error names.
_NEAREST_EACH_SIDE = 2
# Beyond this many, an unknown underlying's message suggests close matches instead of listing all.
_LIST_UNDERLYINGS_UP_TO = 12


def expiry_refused(underlying: str, expiry: str, why: str, kind: str, tradable: Iterable[date]) -> ContractNotFound:
    """No contract for the expiry asked: why, and the tradable expiries it could have named."""
    listed = [day.isoformat() for day in tradable]
    return ContractNotFound(
        f"{why}; tradable {kind}expiries: {', '.join(listed) or 'none'}",
        underlying=underlying,
        expiry=expiry,
        tradable_expiries=listed,
    )


def unknown_underlying(underlying: str, listed_underlyings: Iterable[str]) -> ContractNotFound:
    """No option of this underlying is listed: the listed ones, or the closest names."""
    listed = sorted(listed_underlyings)
    if len(listed) <= _LIST_UNDERLYINGS_UP_TO:
        hint = f"listed: {', '.join(listed)}"
    else:
        close = difflib.get_close_matches(str(underlying).upper(), listed, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"{len(listed)} underlyings are listed"
    return ContractNotFound(
        f"no options are listed for underlying {underlying!r}; {hint}",
        underlying=underlying,
    )


def no_tradable_expiry(underlying: str, at_ist: str) -> ContractNotFound:
    """Every listed expiry of the underlying is past (`at_ist`: now, as YYYY-MM-DD HH:MM)."""
    return ContractNotFound(
        f"{underlying} has no tradable expiry at {at_ist} IST; the symbol master may be stale",
        underlying=underlying,
    )


def unlisted_strike(
    underlying: str, expiry: date, option_type: str, strike: Decimal, listed: Sequence[Decimal]
) -> ContractNotFound:
    """The strike is not listed for this expiry and type: the nearest listed strikes on each side."""
    position = bisect_left(listed, strike)
    nearest = [plain_number(value) for value in listed[max(0, position - _NEAREST_EACH_SIDE) : position]]
    nearest += [plain_number(value) for value in listed[position : position + _NEAREST_EACH_SIDE]]
    where = f"{underlying} {expiry.isoformat()} {option_type}"
    return ContractNotFound(
        f"strike {plain_number(strike)} is not listed for {where}; nearest listed: "
        f"{', '.join(str(value) for value in nearest) or 'none'}",
        underlying=underlying,
        expiry=expiry.isoformat(),
        option_type=option_type,
        strike=plain_number(strike),
        nearest_strikes=nearest,
    )


def plain_number(value: Decimal) -> int | float:
    """A strike as JSON shows it: 24000 rather than Decimal('24000.0'), 24012.5 when fractional."""
    return int(value) if value == value.to_integral_value() else float(value)
