"""Settings: read once from the environment at start, validated, then passed down."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Mapping

# Fyers's F&O masters, NSE's and BSE's (SENSEX, BANKEX): SYMBOL_MASTER_URL takes several, comma-separated.
FYERS_MASTER_URL = "https://public.fyers.in/sym_details/NSE_FO.csv,https://public.fyers.in/sym_details/BSE_FO.csv"
PRODUCT_TYPES = ("INTRADAY", "MARGIN", "CO", "BO")
PAPER_DEFAULT_SECRET = "paper"
# NSE freeze quantities (contracts per order); above them Fyers must slice the order.
# They change with NSE circulars: override with FREEZE_QTY=NIFTY:1800,BANKNIFTY:900.
DEFAULT_FREEZE_QTY = (("NIFTY", 1800), ("BANKNIFTY", 900), ("FINNIFTY", 1800), ("MIDCPNIFTY", 2800))
# The addresses TradingView sends webhooks from (its documentation).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, with the embedded default (paper broker, local state)."""

    broker: str = "paper"
    webhook_secret_token: str = PAPER_DEFAULT_SECRET
    admin_token: str | None = None
    fyers_app_id: str | None = None
    fyers_secret_id: str | None = None
    fyers_redirect_uri: str | None = None
    fyers_pin: str | None = None
    fyers_auth_code: str | None = None
    fyers_api_base_url: str = "https://api-t1.fyers.in/api/v3"
    fyers_data_base_url: str = "https://api-t1.fyers.in/data"
    symbol_master_url: str = "synthetic"
    state_dir: str = "./var"
    gcs_bucket_name: str | None = None
    gcs_tokens_file: str = "tokens/tokens.json"
    idempotency_ttl_seconds: int = 86400
    duplicate_window_seconds: int = 60
    claim_lease_seconds: float = 5.0
    webhook_max_qty: int = 1
    sl_percent: Decimal = Decimal("15")
    tp_percent: Decimal = Decimal("25")
    default_product_type: str = "INTRADAY"
    attach_sl_tp: bool = False
    strike_rounding: str = "exact"
    invalid_levels: str = "replace"
    require_short_for_buy: bool = False
    max_orders_per_day: int | None = None
    max_open_lots: int | None = None
    allowed_underlyings: frozenset[str] = frozenset()
    freeze_qty: tuple[tuple[str, int], ...] = DEFAULT_FREEZE_QTY
    webhook_hmac_secret: str | None = None
    market_hours_check: bool = False
    market_closed_policy: str = "reject"
    max_alert_age_seconds: int | None = None
    queue_max_age_seconds: int = 18 * 3600
    alert_deadline_seconds: float = 2.5
    notification_topic: str | None = None
    notification_url: str | None = None
    telegram_bot_token: str | None = None
    telegram_chat_id: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    notify_on: str = "failures"
    google_cloud_project: str | None = None
    cloud_run_service: str | None = None
    allowed_source_ips: tuple[str, ...] = ()
    trusted_proxy_hops: int = 0
    fyers_rate_per_second: int = 10
    fyers_rate_per_minute: int = 200
    log_level: str = "INFO"
    log_file: str | None = None
    use_cloud_logging: bool = False
    port: int = 8080
    # Values that must never reach a log line or an answer.
    secret_names: tuple[str, ...] = field(
        default=(
            "webhook_secret_token",
            "admin_token",
            "fyers_secret_id",
            "fyers_pin",
            "fyers_auth_code",
            "telegram_bot_token",
            "notification_url",
            "webhook_hmac_secret",
        ),
        repr=False,
    )

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            if f.name == "secret_names":
                continue
            value = getattr(self, f.name)
            if f.name in self.secret_names and value:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def secrets(self) -> list[str]:
        """The configured secret values, for redaction (the paper broker's public default aside)."""
        values = [v for v in (getattr(self, n) for n in self.secret_names) if v]
        return [v for v in values if v != PAPER_DEFAULT_SECRET]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Build and validate settings from environment variables."""
        env = _Env(environ)
        broker = env.choice("BROKER", ("paper", "fyers"), "paper")
        live = broker == "fyers"
        secret = env.text("WEBHOOK_SECRET_TOKEN")
        if secret is None:
            if live:
                raise ConfigError("WEBHOOK_SECRET_TOKEN is required with BROKER=fyers")
            secret = PAPER_DEFAULT_SECRET  # bootstrap warns about it once logging is set up
        settings = cls(
            broker=broker,
            webhook_secret_token=secret,
            admin_token=env.text("ADMIN_TOKEN"),
            fyers_app_id=env.text("FYERS_APP_ID"),
            fyers_secret_id=env.text("FYERS_SECRET_ID"),
            fyers_redirect_uri=env.url("FYERS_REDIRECT_URI"),
            fyers_pin=env.text("FYERS_PIN"),
            fyers_auth_code=env.text("FYERS_AUTH_CODE"),
            fyers_api_base_url=(env.url("FYERS_API_BASE_URL") or cls.fyers_api_base_url).rstrip("/"),
            fyers_data_base_url=(env.url("FYERS_DATA_BASE_URL") or cls.fyers_data_base_url).rstrip("/"),
            symbol_master_url=env.master_sources("SYMBOL_MASTER_URL")
            or (FYERS_MASTER_URL if live else "synthetic"),
            state_dir=env.text("STATE_DIR") or cls.state_dir,
            gcs_bucket_name=env.text("GCS_BUCKET_NAME"),
            gcs_tokens_file=env.text("GCS_TOKENS_FILE") or cls.gcs_tokens_file,
            idempotency_ttl_seconds=env.integer("IDEMPOTENCY_TTL_SECONDS", 86400, minimum=60),
            duplicate_window_seconds=env.integer(
                "DUPLICATE_WINDOW_SECONDS", 60, minimum=1, maximum=86400
            ),
            claim_lease_seconds=env.number("CLAIM_LEASE_SECONDS", 5.0, 3.5, 600.0),
            webhook_max_qty=env.integer("WEBHOOK_MAX_QTY", 1, minimum=1),
            sl_percent=env.percent("SL_PERCENT", Decimal("15")),
            tp_percent=env.percent("TP_PERCENT", Decimal("25")),
            default_product_type=env.choice(
                "DEFAULT_PRODUCT_TYPE", PRODUCT_TYPES, "INTRADAY", upper=True
            ),
            attach_sl_tp=env.flag("ATTACH_SL_TP", False),
            strike_rounding=env.choice("STRIKE_ROUNDING", ("exact", "nearest"), "exact"),
            invalid_levels=env.choice("INVALID_LEVELS", ("replace", "refuse"), "replace"),
            require_short_for_buy=env.flag("REQUIRE_SHORT_FOR_BUY", False),
            max_orders_per_day=env.optional_integer("MAX_ORDERS_PER_DAY"),
            max_open_lots=env.optional_integer("MAX_OPEN_LOTS"),
            allowed_underlyings=frozenset(env.names("ALLOWED_UNDERLYINGS")),
            freeze_qty=env.freeze_qty("FREEZE_QTY") or DEFAULT_FREEZE_QTY,
            webhook_hmac_secret=env.text("WEBHOOK_HMAC_SECRET"),
            market_hours_check=env.flag("MARKET_HOURS_CHECK", live),
            market_closed_policy=env.choice("MARKET_CLOSED_POLICY", ("reject", "amo", "queue"), "reject"),
            max_alert_age_seconds=env.optional_integer("MAX_ALERT_AGE_SECONDS"),
            queue_max_age_seconds=env.integer("QUEUE_MAX_AGE_SECONDS", 18 * 3600, minimum=60),
            alert_deadline_seconds=env.number("ALERT_DEADLINE_SECONDS", 2.5, 0.5, 2.6),
            notification_topic=env.text("NOTIFICATION_TOPIC"),
            notification_url=env.url("NOTIFICATION_URL"),
            telegram_bot_token=env.text("TELEGRAM_BOT_TOKEN"),
            telegram_chat_id=env.text("TELEGRAM_CHAT_ID"),
            telegram_api_base_url=(
                env.url("TELEGRAM_API_BASE_URL") or cls.telegram_api_base_url
            ).rstrip("/"),
            notify_on=env.choice("NOTIFY_ON", ("failures", "all"), "failures"),
            google_cloud_project=env.text("GOOGLE_CLOUD_PROJECT"),
            cloud_run_service=env.text("K_SERVICE"),
            allowed_source_ips=env.networks("ALLOWED_SOURCE_IPS"),
            trusted_proxy_hops=env.integer("TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=5),
            fyers_rate_per_second=env.integer("FYERS_RATE_PER_SECOND", 10, minimum=1),
            fyers_rate_per_minute=env.integer("FYERS_RATE_PER_MINUTE", 200, minimum=1),
            log_level=env.choice(
                "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True
            ),
            log_file=env.text("LOG_FILE"),
            use_cloud_logging=env.flag("USE_CLOUD_LOGGING", False),
            port=env.integer("PORT", 8080, minimum=1, maximum=65535),
        )
        topic = settings.notification_topic
        if topic and not topic.startswith("projects/") and not settings.google_cloud_project:
            raise ConfigError(
                "NOTIFICATION_TOPIC must be projects/<project>/topics/<topic>, "
                "or GOOGLE_CLOUD_PROJECT must be set"
            )
        if bool(settings.telegram_bot_token) != bool(settings.telegram_chat_id):
            raise ConfigError("TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID must be set together")
        if live:
            for name in ("ADMIN_TOKEN", "FYERS_APP_ID", "FYERS_SECRET_ID", "FYERS_REDIRECT_URI"):
                if env.text(name) is None:
                    raise ConfigError(f"{name} is required with BROKER=fyers")
            if secret == PAPER_DEFAULT_SECRET:
                raise ConfigError("WEBHOOK_SECRET_TOKEN must not be the paper default with BROKER=fyers")
        return settings


class _Env:
    """Typed reads of environment variables, each failure naming its variable."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def text(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def choice(self, name: str, allowed: tuple[str, ...], default: str, upper: bool = False) -> str:
        value = self.text(name)
        if value is None:
            return default
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
            raise ConfigError(f"{name} must be {bound}, got {number}")
        return number

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
        if not minimum <= number <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {number}")
        return number

    def percent(self, name: str, default: Decimal) -> Decimal:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
        if not number.is_finite() or not Decimal(0) < number < Decimal(100):
            raise ConfigError(f"{name} must be between 0 and 100 (exclusive), got {value!r}")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")

    def optional_integer(self, name: str) -> int | None:
        """A positive whole number, or None when unset."""
        if self.text(name) is None:
            return None
        return self.integer(name, 0, minimum=1)

    def names(self, name: str) -> list[str]:
        """Upper-case names, comma-separated."""
        value = self.text(name) or ""
        names = [part.strip().upper() for part in value.split(",") if part.strip()]
        for item in names:
            if not item.replace("&", "").replace("-", "").isalnum():
                raise ConfigError(f"{name} has {item!r}, which is not an underlying name")
        return names

    def freeze_qty(self, name: str) -> tuple[tuple[str, int], ...]:
        """UNDERLYING:QTY pairs, comma-separated."""
        pairs = []
        for item in (self.text(name) or "").split(","):
            if not item.strip():
                continue
            underlying, _, qty = item.partition(":")
            if not qty.strip().isdigit() or not underlying.strip():
                raise ConfigError(f"{name} must look like NIFTY:1800,BANKNIFTY:900; got {item.strip()!r}")
            pairs.append((underlying.strip().upper(), int(qty)))
        return tuple(pairs)

    def networks(self, name: str) -> tuple[str, ...]:
        """IP addresses or CIDR ranges, comma-separated; `tradingview` names TradingView's."""
        value = self.text(name)
        if value is None:
            return ()
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

    def master_sources(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not all(part.strip() for part in value.split(",")):
            raise ConfigError(f"{name} must be 'synthetic' or URLs / file paths separated by commas, got {value!r}")
        return value

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
        return value
