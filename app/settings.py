"""Settings: read once from the environment at start, validated, then passed down.

Each setting is one field of `Settings` naming its variable, its default and how it is read;
`from_env` reads them all from that one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import time
from decimal import Decimal
from typing import Any, Callable, Mapping

from app.domain.openalgo import StrategyContract
from app.env_vars import KEY_HOW_TO, TRADINGVIEW_IPS, ConfigError, Env

__all__ = ["ConfigError", "PAPER_BROKERS", "PAPER_DEFAULT_SECRET", "Settings", "TRADINGVIEW_IPS"]

# Fyers's F&O masters, NSE's and BSE's (SENSEX, BANKEX): SYMBOL_MASTER_URL takes several, comma-separated.
FYERS_MASTER_URL = "https://public.fyers.in/sym_details/NSE_FO.csv,https://public.fyers.in/sym_details/BSE_FO.csv"
PRODUCT_TYPES = ("INTRADAY", "MARGIN", "CO", "BO")
PAPER_DEFAULT_SECRET = "paper"
BROKERS = ("paper", "fyers", "fyers-paper")
FYERS_BROKERS = frozenset({"fyers", "fyers-paper"})  # the ones that log in to Fyers
# The brokers that place no real order: every answer, record, notification and page says PAPER.
PAPER_BROKERS = ("paper", "fyers-paper")
# NSE freeze quantities (contracts per order); above them Fyers must slice the order.
# They change with NSE circulars: override with FREEZE_QTY=NIFTY:1800,BANKNIFTY:900.
DEFAULT_FREEZE_QTY = (("NIFTY", 1800), ("BANKNIFTY", 900), ("FINNIFTY", 1800), ("MIDCPNIFTY", 2800))
# With BROKER=fyers these defaults replace the paper ones: the real master, and the market-hours gate.
_LIVE_DEFAULTS = {"symbol_master_url": FYERS_MASTER_URL, "market_hours_check": True}
# Required with BROKER=fyers (WEBHOOK_SECRET_TOKEN too, checked first).
_LIVE_REQUIRED = ("ADMIN_TOKEN", "FYERS_APP_ID", "FYERS_SECRET_ID", "FYERS_REDIRECT_URI")
# With BROKER=fyers these secrets, when set, must be at least MIN_SECRET_LENGTH characters:
# 16 random characters are out of reach of guessing even without the console's rate limit.
_LIVE_LONG_SECRETS = ("WEBHOOK_SECRET_TOKEN", "ADMIN_TOKEN", "WEBHOOK_HMAC_SECRET")
MIN_SECRET_LENGTH = 16
# Where Google publishes the keys that sign its ID tokens (Cloud Scheduler's OIDC tokens among them).
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


def _setting(variable: str, default: Any, read: Callable[..., Any], **options: Any) -> Any:
    """A field read from `variable` by the Env method `read`, with its default stated once."""
    return field(default=default, metadata={"variable": variable, "read": read, "options": options})


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, with the embedded default (paper broker, local state)."""

    # fyers-paper: Fyers's login and live prices, every order simulated (docs/configuration.md).
    broker: str = _setting("BROKER", "paper", Env.choice, allowed=BROKERS)
    webhook_secret_token: str = _setting("WEBHOOK_SECRET_TOKEN", PAPER_DEFAULT_SECRET, Env.text)
    admin_token: str | None = _setting("ADMIN_TOKEN", None, Env.text)
    fyers_app_id: str | None = _setting("FYERS_APP_ID", None, Env.text)
    fyers_secret_id: str | None = _setting("FYERS_SECRET_ID", None, Env.text)
    fyers_redirect_uri: str | None = _setting("FYERS_REDIRECT_URI", None, Env.url)
    fyers_pin: str | None = _setting("FYERS_PIN", None, Env.text)
    fyers_auth_code: str | None = _setting("FYERS_AUTH_CODE", None, Env.text)
    fyers_api_base_url: str = _setting("FYERS_API_BASE_URL", "https://api-t1.fyers.in/api/v3", Env.base_url)
    fyers_data_base_url: str = _setting("FYERS_DATA_BASE_URL", "https://api-t1.fyers.in/data", Env.base_url)
    symbol_master_url: str = _setting("SYMBOL_MASTER_URL", "synthetic", Env.master_sources)
    state_dir: str = _setting("STATE_DIR", "./var", Env.text)
    gcs_bucket_name: str | None = _setting("GCS_BUCKET_NAME", None, Env.text)
    gcs_tokens_file: str = _setting("GCS_TOKENS_FILE", "tokens/tokens.json", Env.text)
    # Encrypts the Fyers tokens in the state store (AES-256-GCM); required with BROKER=fyers.
    token_encryption_key: str | None = _setting("TOKEN_ENCRYPTION_KEY", None, Env.encryption_key)
    idempotency_ttl_seconds: int = _setting("IDEMPOTENCY_TTL_SECONDS", 86400, Env.integer, minimum=60)
    duplicate_window_seconds: int = _setting(
        "DUPLICATE_WINDOW_SECONDS", 60, Env.integer, minimum=1, maximum=86400
    )
    claim_lease_seconds: float = _setting("CLAIM_LEASE_SECONDS", 5.0, Env.number, minimum=3.5, maximum=600.0)
    webhook_max_qty: int = _setting("WEBHOOK_MAX_QTY", 1, Env.integer, minimum=1)
    sl_percent: Decimal = _setting("SL_PERCENT", Decimal("15"), Env.percent)
    tp_percent: Decimal = _setting("TP_PERCENT", Decimal("25"), Env.percent)
    # The rupees an alert's risk_pct is a percentage of (docs/alerts.md, "Size by risk"); unset: risk_pct refused.
    capital: Decimal | None = _setting("CAPITAL", None, Env.rupees)
    default_product_type: str = _setting(
        "DEFAULT_PRODUCT_TYPE", "INTRADAY", Env.choice, allowed=PRODUCT_TYPES, upper=True
    )
    # How an entry's stop-loss and target exist at the broker (docs/fyers.md, "Protection").
    protection: str = _setting("PROTECTION", "legs", Env.choice, allowed=("legs", "orders", "none"))
    protection_failure: str = _setting("PROTECTION_FAILURE", "notify", Env.choice, allowed=("notify", "exit"))
    # The day's money (docs/operations.md, "Daily locks"): rupees of the day's P&L, Fyers's figures.
    max_daily_loss: Decimal | None = _setting("MAX_DAILY_LOSS", None, Env.rupees)
    daily_profit_lock: Decimal | None = _setting("DAILY_PROFIT_LOCK", None, Env.rupees)
    profit_trail_from: Decimal | None = _setting("PROFIT_TRAIL_FROM", None, Env.rupees)
    profit_trail_keep: Decimal | None = _setting("PROFIT_TRAIL_KEEP", None, Env.rupees)
    lock_action: str = _setting("LOCK_ACTION", "refuse", Env.choice, allowed=("refuse", "close"))
    strike_rounding: str = _setting("STRIKE_ROUNDING", "exact", Env.choice, allowed=("exact", "nearest"))
    invalid_levels: str = _setting("INVALID_LEVELS", "replace", Env.choice, allowed=("replace", "refuse"))
    require_short_for_buy: bool = _setting("REQUIRE_SHORT_FOR_BUY", False, Env.flag)
    # Opening a short option position (a SELL the strategy or the account does not hold) needs this
    # or "open_short": true in the alert (docs/alerts.md, "No naked shorts by accident").
    allow_short_options: bool = _setting("ALLOW_SHORT_OPTIONS", False, Env.flag)
    # How an alert's position long and short map to options when it says nothing (docs/alerts.md).
    long_as: str = _setting("LONG_AS", "buy_ce", Env.choice, allowed=("buy_ce", "sell_pe"))
    short_as: str = _setting("SHORT_AS", "buy_pe", Env.choice, allowed=("buy_pe", "sell_ce"))
    # The contract each OpenAlgo-style strategy message trades: strategy:underlying:strike:expiry:lots (docs/alerts.md).
    strategy_contracts: tuple[StrategyContract, ...] = _setting("STRATEGY_CONTRACTS", (), Env.strategy_contracts)
    max_orders_per_day: int | None = _setting("MAX_ORDERS_PER_DAY", None, Env.optional_integer)
    max_open_lots: int | None = _setting("MAX_OPEN_LOTS", None, Env.optional_integer)
    allowed_underlyings: frozenset[str] = _setting("ALLOWED_UNDERLYINGS", frozenset(), Env.underlyings)
    freeze_qty: tuple[tuple[str, int], ...] = _setting("FREEZE_QTY", DEFAULT_FREEZE_QTY, Env.freeze_qty)
    # Ask the broker's margin calculator before an entry; refuse one the account cannot fund (docs/fyers.md).
    margin_check: bool = _setting("MARGIN_CHECK", True, Env.flag)
    paper_funds: Decimal = _setting("PAPER_FUNDS", Decimal(1_000_000), Env.rupees)  # the paper account's money
    # BROKER=fyers-paper: a market fill is the live LTP this many ticks against the trader (within Fyers's band).
    paper_slippage_ticks: int = _setting("PAPER_SLIPPAGE_TICKS", 1, Env.integer, minimum=0, maximum=100)
    webhook_hmac_secret: str | None = _setting("WEBHOOK_HMAC_SECRET", None, Env.text)
    # either: the body's token or a signature; hmac: signed alerts only (senders that can sign, not TradingView).
    webhook_auth: str = _setting("WEBHOOK_AUTH", "either", Env.choice, allowed=("either", "secret", "hmac"))
    # A signature's time may be this far from ours, either way (docs/alerts.md says why 30).
    webhook_signature_tolerance_seconds: int = _setting(
        "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS", 30, Env.integer, minimum=5, maximum=300
    )
    market_hours_check: bool = _setting("MARKET_HOURS_CHECK", False, Env.flag)
    market_closed_policy: str = _setting(
        "MARKET_CLOSED_POLICY", "reject", Env.choice, allowed=("reject", "amo", "queue")
    )
    # POST /square-off closes the bridge's positions once this IST time has passed on a trading day
    # (docs/operations.md, "Close everything"); unset: the job is refused.
    square_off_at: time | None = _setting("SQUARE_OFF_AT", None, Env.time_of_day)
    # An alert whose `timenow` is older is refused (422 stale); 0 turns the check off. 4 s: TradingView
    # gives up after 3 s, and `{{timenow}}` is cut to the second, so a fresh alert may read up to 1 s
    # older (both clocks are NTP-synced: milliseconds apart). TradingView resends a 5xx 5 s later with
    # the same `timenow`: a resend is then >= 5 s old and always refused, 1 s clear of the limit.
    max_alert_age_seconds: int = _setting("MAX_ALERT_AGE_SECONDS", 4, Env.integer, minimum=0, maximum=86400)
    queue_max_age_seconds: int = _setting("QUEUE_MAX_AGE_SECONDS", 18 * 3600, Env.integer, minimum=60)
    alert_deadline_seconds: float = _setting("ALERT_DEADLINE_SECONDS", 2.5, Env.number, minimum=0.5, maximum=2.6)
    rate_wait_seconds: float = _setting("RATE_WAIT_SECONDS", 10.0, Env.number, minimum=0.0, maximum=25.0)
    notification_topic: str | None = _setting("NOTIFICATION_TOPIC", None, Env.text)
    notification_url: str | None = _setting("NOTIFICATION_URL", None, Env.url)
    telegram_bot_token: str | None = _setting("TELEGRAM_BOT_TOKEN", None, Env.text)
    telegram_chat_id: str | None = _setting("TELEGRAM_CHAT_ID", None, Env.text)
    telegram_api_base_url: str = _setting("TELEGRAM_API_BASE_URL", "https://api.telegram.org", Env.base_url)
    notify_on: str = _setting("NOTIFY_ON", "failures", Env.choice, allowed=("failures", "all"))
    google_cloud_project: str | None = _setting("GOOGLE_CLOUD_PROJECT", None, Env.text)
    cloud_run_service: str | None = _setting("K_SERVICE", None, Env.text)  # set by Cloud Run
    allowed_source_ips: tuple[str, ...] = _setting("ALLOWED_SOURCE_IPS", (), Env.networks)
    trusted_proxy_hops: int = _setting("TRUSTED_PROXY_HOPS", 0, Env.integer, minimum=0, maximum=5)
    # "Remember this phone" at the console login: that device's session lasts this many days (else 12 hours).
    console_remember_days: int = _setting("CONSOLE_REMEMBER_DAYS", 30, Env.integer, minimum=1, maximum=90)
    fyers_rate_per_second: int = _setting("FYERS_RATE_PER_SECOND", 10, Env.integer, minimum=1)
    fyers_rate_per_minute: int = _setting("FYERS_RATE_PER_MINUTE", 200, Env.integer, minimum=1)
    # Set it to Cloud Run's --max-instances: each instance paces alone on floor(limit / n).
    fyers_instances: int = _setting("FYERS_INSTANCES", 1, Env.integer, minimum=1, maximum=100)
    log_level: str = _setting(
        "LOG_LEVEL", "INFO", Env.choice, allowed=("DEBUG", "INFO", "WARNING", "ERROR"), upper=True
    )
    log_file: str | None = _setting("LOG_FILE", None, Env.text)
    use_cloud_logging: bool = _setting("USE_CLOUD_LOGGING", False, Env.flag)
    port: int = _setting("PORT", 8080, Env.integer, minimum=1, maximum=65535)
    # Cloud Scheduler's identity: its jobs send a Google-signed OIDC token for this account and audience.
    scheduler_service_account: str | None = _setting("SCHEDULER_SERVICE_ACCOUNT", None, Env.text)
    scheduler_audience: str | None = _setting("SCHEDULER_AUDIENCE", None, Env.url)
    scheduler_certs_url: str = _setting("SCHEDULER_CERTS_URL", GOOGLE_CERTS_URL, Env.url)  # tests override it
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
            "token_encryption_key",
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
    def variables(cls) -> list[str]:
        """The environment variables the settings read, in field order."""
        return [f.metadata["variable"] for f in fields(cls) if "variable" in f.metadata]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Build and validate settings from environment variables."""
        env = Env(environ)
        # fyers-paper logs in to Fyers with the same tokens: it needs everything BROKER=fyers needs.
        live = env.choice("BROKER", "paper", BROKERS) in FYERS_BROKERS
        if live and env.text("WEBHOOK_SECRET_TOKEN") is None:
            raise ConfigError("WEBHOOK_SECRET_TOKEN is required with BROKER=fyers")
        values = {}
        for f in fields(cls):
            if "variable" in f.metadata:
                default = _LIVE_DEFAULTS.get(f.name, f.default) if live else f.default
                values[f.name] = f.metadata["read"](env, f.metadata["variable"], default, **f.metadata["options"])
        settings = cls(**values)
        settings._check_together(live)
        return settings

    def _check_signing(self) -> None:
        """WEBHOOK_AUTH against WEBHOOK_HMAC_SECRET, and the signature's tolerance against the key windows."""
        if self.webhook_auth == "hmac" and not self.webhook_hmac_secret:
            raise ConfigError("WEBHOOK_HMAC_SECRET is required with WEBHOOK_AUTH=hmac")
        if self.webhook_auth == "secret" and self.webhook_hmac_secret:
            raise ConfigError("WEBHOOK_AUTH=secret ignores signatures: unset WEBHOOK_HMAC_SECRET, or use either/hmac")
        # A signature is good from t - tolerance to t + tolerance: a replay in that span must
        # still meet the first request's key (keyless: the body's, kept DUPLICATE_WINDOW_SECONDS).
        window = min(self.duplicate_window_seconds, self.idempotency_ttl_seconds)
        if self.webhook_hmac_secret and 2 * self.webhook_signature_tolerance_seconds > window:
            raise ConfigError(
                f"WEBHOOK_SIGNATURE_TOLERANCE_SECONDS must be at most half of DUPLICATE_WINDOW_SECONDS "
                f"and IDEMPOTENCY_TTL_SECONDS ({window} s), got {self.webhook_signature_tolerance_seconds}"
            )

    def _check_together(self, live: bool) -> None:
        """The rules that span several variables."""
        if (self.profit_trail_from is None) != (self.profit_trail_keep is None):
            raise ConfigError("PROFIT_TRAIL_FROM and PROFIT_TRAIL_KEEP must be set together")
        if self.profit_trail_from is not None and self.profit_trail_keep >= self.profit_trail_from:
            raise ConfigError(
                f"PROFIT_TRAIL_KEEP ({self.profit_trail_keep}) must be below "
                f"PROFIT_TRAIL_FROM ({self.profit_trail_from})"
            )
        topic = self.notification_topic
        if topic and not topic.startswith("projects/") and not self.google_cloud_project:
            raise ConfigError(
                "NOTIFICATION_TOPIC must be projects/<project>/topics/<topic>, "
                "or GOOGLE_CLOUD_PROJECT must be set"
            )
        _check_telegram(self.telegram_bot_token, self.telegram_chat_id)
        self._check_signing()
        if bool(self.scheduler_service_account) != bool(self.scheduler_audience):
            raise ConfigError("SCHEDULER_SERVICE_ACCOUNT and SCHEDULER_AUDIENCE must be set together")
        if live:
            if self.webhook_secret_token == PAPER_DEFAULT_SECRET:
                raise ConfigError("WEBHOOK_SECRET_TOKEN must not be the paper default with BROKER=fyers")
            if self.token_encryption_key is None:
                # Without it a reader of the bucket could trade with the stored Fyers tokens.
                raise ConfigError(f"TOKEN_ENCRYPTION_KEY is required with BROKER=fyers: {KEY_HOW_TO}")
            for f in fields(self):
                variable, value = f.metadata.get("variable"), getattr(self, f.name)
                if variable in _LIVE_REQUIRED and value is None:
                    raise ConfigError(f"{variable} is required with BROKER=fyers")
                # The message names the variable and the rule, never the value.
                if variable in _LIVE_LONG_SECRETS and value is not None and len(value) < MIN_SECRET_LENGTH:
                    raise ConfigError(f"{variable} must be at least {MIN_SECRET_LENGTH} characters with BROKER=fyers")


def _check_telegram(bot_token: str | None, chat_id: str | None) -> None:
    """Telegram works with both of its variables or neither: one alone names the missing half."""
    # Blank counts as unset (Env.text already reads "" as unset): Cloud Run deploys can set a variable to "".
    if bool(bot_token) == bool(chat_id):
        return
    halves = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID")
    present, missing = halves if bot_token else halves[::-1]
    raise ConfigError(f"{missing} is missing: {present} is set (set both for Telegram, or neither)")
