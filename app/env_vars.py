"""Typed reads of environment variables, each failure naming its variable."""

from __future__ import annotations

import base64
import ipaddress
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from app.domain import alert_values
from app.domain.errors import InvalidAlert
from app.domain.openalgo import StrategyContract

# The addresses TradingView sends webhooks from (its documentation).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
# How to make a TOKEN_ENCRYPTION_KEY, said wherever one is refused.
KEY_HOW_TO = (
    "make one with: python3 -c \"import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())\" "
    "and keep it in Secret Manager (docs/deploy.md)"
)


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class Env:
    """The environment, read one variable at a time: each read takes the name and the default for unset."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        """The value, stripped; `default` when unset or blank."""
        value = self._environ.get(name, "").strip()
        return value or default

    def choice(self, name: str, default: str, allowed: tuple[str, ...], upper: bool = False) -> str:
        """One of `allowed`, case-folded (upper or lower)."""
        value = self.text(name)
        if value is None:
            return default
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        """A whole number within bounds."""
        number = self._converted(name, int, ValueError, "a whole number")
        if number is None:
            return default
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
            raise ConfigError(f"{name} must be {bound}, got {number}")
        return number

    def optional_integer(self, name: str, default: int | None = None) -> int | None:
        """A positive whole number, or `default` (no limit) when unset."""
        if self.text(name) is None:
            return default
        return self.integer(name, 0, minimum=1)

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        """A number within bounds (inclusive)."""
        number = self._converted(name, float, ValueError, "a number")
        if number is None:
            return default
        if not minimum <= number <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {number}")
        return number

    def rupees(self, name: str, default: Decimal | None = None) -> Decimal | None:
        """A positive amount of money in rupees, or `default` (no limit) when unset."""
        amount = self._converted(name, Decimal, InvalidOperation, "an amount in rupees")
        if amount is None:
            return default
        if not amount.is_finite() or amount <= 0:
            raise ConfigError(f"{name} must be a positive amount in rupees, got {self.text(name)!r}")
        return amount

    def time_of_day(self, name: str, default: time | None = None) -> time | None:
        """A time of day as HH:MM (24-hour, IST), or `default` when unset."""
        value = self.text(name)
        if value is None:
            return default
        hours, colon, minutes = value.partition(":")
        if colon and len(minutes) == 2 and hours.isdigit() and minutes.isdigit():
            if int(hours) < 24 and int(minutes) < 60:
                return time(int(hours), int(minutes))
        raise ConfigError(f"{name} must be a time of day as HH:MM (24-hour, IST), got {value!r}")

    def percent(self, name: str, default: Decimal) -> Decimal:
        """A percentage strictly between 0 and 100."""
        number = self._converted(name, Decimal, InvalidOperation, "a number")
        if number is None:
            return default
        if not number.is_finite() or not Decimal(0) < number < Decimal(100):
            raise ConfigError(f"{name} must be between 0 and 100 (exclusive), got {self.text(name)!r}")
        return number

    def _converted(self, name: str, convert: Callable[[str], Any], error: type[Exception], what: str) -> Any:
        """The value converted, or None when unset; ConfigError says what it must be when it will not convert."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return convert(value)
        except error:
            raise ConfigError(f"{name} must be {what}, got {value!r}") from None

    def flag(self, name: str, default: bool) -> bool:
        """true/false, 1/0, yes/no or on/off."""
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")

    def underlyings(self, name: str, default: frozenset[str]) -> frozenset[str]:
        """Upper-case underlying names, comma-separated."""
        value = self.text(name) or ""
        names = [part.strip().upper() for part in value.split(",") if part.strip()]
        for item in names:
            if not item.replace("&", "").replace("-", "").isalnum():
                raise ConfigError(f"{name} has {item!r}, which is not an underlying name")
        return frozenset(names) if names else default

    def freeze_qty(self, name: str, default: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
        """UNDERLYING:QTY pairs, comma-separated."""
        pairs = []
        for item in (self.text(name) or "").split(","):
            if not item.strip():
                continue
            underlying, _, qty = item.partition(":")
            if not qty.strip().isdigit() or not underlying.strip():
                raise ConfigError(f"{name} must look like NIFTY:1800,BANKNIFTY:900; got {item.strip()!r}")
            pairs.append((underlying.strip().upper(), int(qty)))
        return tuple(pairs) or default

    def strategy_contracts(self, name: str, default: tuple[StrategyContract, ...]) -> tuple[StrategyContract, ...]:
        """strategy:underlying:strike:expiry:lots, comma-separated, each checked as an alert's fields would be."""
        contracts: dict[str, StrategyContract] = {}
        for item in (part.strip() for part in (self.text(name) or "").split(",")):
            if not item:
                continue
            # From the right: a strategy's name may hold a colon ("Straddle 9:20").
            parts = [part.strip() for part in item.rsplit(":", 4)]
            if len(parts) != 5 or not parts[4].isdigit() or int(parts[4]) < 1:
                raise ConfigError(f"{name} must look like trend:NIFTY:ATM:WEEKLY:1 (strategy:underlying:strike:"
                                  f"expiry:lots); got {item!r}")
            strategy, underlying, strike, expiry, lots = parts
            try:
                strategy = alert_values.strategy_name(strategy) or ""
                underlying = alert_values.underlying_named(underlying)
                alert_values.strike("strikeprice", strike, exact=True)
                alert_values.expiry("expiry", expiry)
            except InvalidAlert as error:
                raise ConfigError(f"{name} has {item!r}: {error.message}") from None
            if not strategy or strategy in contracts:
                raise ConfigError(f"{name} has {item!r}: each strategy once, by a name")
            contracts[strategy] = StrategyContract(strategy, underlying, strike.upper(), expiry.upper(), int(lots))
        return tuple(contracts.values()) or default

    def networks(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """IP addresses or CIDR ranges, comma-separated; `tradingview` names TradingView's."""
        value = self.text(name)
        if value is None:
            return default
        networks: list[str] = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            if item.lower() == "tradingview":
                networks.extend(TRADINGVIEW_IPS)
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(f"{name} has {item!r}, which is not an IP address or CIDR range") from None
            networks.append(item)
        return tuple(networks)

    def master_sources(self, name: str, default: str) -> str:
        """'synthetic', or URLs / file paths separated by commas."""
        value = self.text(name)
        if value is not None and not all(part.strip() for part in value.split(",")):
            raise ConfigError(f"{name} must be 'synthetic' or URLs / file paths separated by commas, got {value!r}")
        return value or default

    def encryption_key(self, name: str, default: str | None = None) -> str | None:
        """A 32-byte key in base64 (URL-safe or standard), as given; a refusal never repeats the value."""
        value = self.text(name)
        if value is None:
            return default
        try:
            key = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        except ValueError:  # binascii.Error is a ValueError
            key = b""
        if len(key) != 32:
            raise ConfigError(f"{name} must be 32 random bytes in base64 (44 characters); {KEY_HOW_TO}")
        return value

    def url(self, name: str, default: str | None = None) -> str | None:
        """An http(s) URL, as given."""
        value = self.text(name)
        if value is not None and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
        return value or default

    def base_url(self, name: str, default: str) -> str:
        """An http(s) URL that paths are appended to: without its trailing slash."""
        return self.url(name, default).rstrip("/")

