"""The one place where settings become adapters and services."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import time, timedelta

from app.adapters.coalescing import CoalescingBroker
from app.adapters.local_state import LocalStateStore
from app.adapters.pacer import Pacer
from app.adapters.paper_broker import PaperBroker
from app.adapters.symbol_master import load_symbol_master
from app.domain.contracts import IST, SymbolMaster
from app.logs import Redactor, log_event
from app.ports import Broker, Clock, Notifier, StateStore
from app.services.alerts import AlertRules, AlertService
from app.services.idempotency import IdempotencyLedger
from app.domain.calendar import TradingCalendar
from app.domain.session import TradingSession
from app.services.controls import TradingControls
from app.services.market import MarketGate
from app.services.queue import MARKET_CHECK_SECONDS, AlertQueue
from app.services.journal import Journal
from app.services.login import LoginService
from app.services.placement import OrderPlacer
from app.services.planning import OrderPlanner, RiskRules
from app.services.notify import Notifications
from app.services.reconcile import Reconciler
from app.services.reporting import AlertReporter
from app.services.tokens import TokenManager
from app.settings import PAPER_DEFAULT_SECRET, Settings

log = logging.getLogger(__name__)
# NSE F&O's session since 3 Aug 2026, for a master whose session column says nothing usable.
FALLBACK_SESSION = TradingSession(time(9, 15), time(15, 40))

@dataclass
class Services:
    """Everything the web layer needs, built once per process."""

    settings: Settings
    clock: Clock
    store: StateStore
    broker: Broker
    masters: "MasterHolder"
    journal: Journal
    alerts: AlertService
    reconciler: Reconciler
    login: LoginService | None  # None on the paper broker: no login there
    notifications: Notifications
    redactor: Redactor
    controls: TradingControls
    queue: AlertQueue


class MasterHolder:
    """The symbol master in use; swapped whole, never mutated."""

    def __init__(self, master: SymbolMaster):
        self._master = master
        self._lock = threading.Lock()

    def current(self) -> SymbolMaster:
        """The master to resolve against."""
        return self._master

    def replace(self, master: SymbolMaster) -> None:
        """Install a freshly loaded master."""
        with self._lock:
            self._master = master


def load_master(settings: Settings, clock: Clock) -> SymbolMaster:
    """Load the configured master (the synthetic one follows the real NSE holiday calendar)."""
    today = clock.now().astimezone(IST).date()
    master = load_symbol_master(settings.symbol_master_url, today=today)
    log_event(
        log,
        logging.INFO,
        "master_loaded",
        f"symbol master loaded: {len(master)} contracts",
        contracts=len(master),
        source=_source_name(settings),
    )
    return master


def bootstrap(
    settings: Settings, clock: Clock | None = None, redactor: Redactor | None = None
) -> Services:
    """Build the adapters the settings ask for and wire the services."""
    clock = clock or Clock()
    redactor = redactor or Redactor(settings.secrets())
    if settings.broker == "paper" and settings.webhook_secret_token == PAPER_DEFAULT_SECRET:
        log.warning("WEBHOOK_SECRET_TOKEN is not set: the paper broker accepts the secret 'paper'")
    notifications = Notifications(_channels(settings), redactor, clock, settings.notify_on)
    store = _state_store(settings)
    broker, login = _broker(settings, store, clock, redactor, notifications)
    broker = CoalescingBroker(broker)
    masters = MasterHolder(load_master(settings, clock))
    journal = Journal(store, clock)
    ledger = IdempotencyLedger(
        store, clock, settings.idempotency_ttl_seconds, settings.claim_lease_seconds
    )
    placer = OrderPlacer(broker, clock.now)
    reconciler = Reconciler(store, ledger, journal, placer, clock)
    controls = TradingControls(store, clock)
    planner = OrderPlanner(
        RiskRules(
            max_lots=settings.webhook_max_qty,
            sl_percent=settings.sl_percent,
            tp_percent=settings.tp_percent,
            attach_sl_tp=settings.attach_sl_tp,
            require_short_for_buy=settings.require_short_for_buy,
            max_orders_per_day=settings.max_orders_per_day,
            max_open_lots=settings.max_open_lots,
            allowed_underlyings=settings.allowed_underlyings,
            freeze_qty=dict(settings.freeze_qty),
            invalid_levels=settings.invalid_levels,
        ),
        broker,
        masters.current,
        controls,
        clock,
    )
    rules = AlertRules(
        webhook_secret=settings.webhook_secret_token,
        default_product_type=settings.default_product_type,
        deadline_seconds=settings.alert_deadline_seconds,
        duplicate_window_seconds=settings.duplicate_window_seconds,
        hmac_secret=settings.webhook_hmac_secret,
        exact_strikes=settings.strike_rounding == "exact",
        market_closed_policy=settings.market_closed_policy,
        max_alert_age_seconds=settings.max_alert_age_seconds,
    )
    market = MarketGate(
        TradingCalendar(_holidays(settings, clock), _session(masters.current())),
        broker,
        clock,
        settings.market_hours_check,
    )
    queue = AlertQueue(
        store, clock, settings.queue_max_age_seconds, settings.claim_lease_seconds + MARKET_CHECK_SECONDS
    )
    reporter = AlertReporter(notifications, login.login_url if login else None)
    alerts = AlertService(
        rules, planner, ledger, journal, clock, placer, reconciler, controls, market, queue, reporter
    )
    return Services(
        settings, clock, store, broker, masters, journal, alerts, reconciler, login,
        notifications, redactor, controls, queue,
    )


def _channels(settings: Settings) -> list[Notifier]:
    """The notification channels the settings name."""
    from app.adapters.notifiers import HttpNotifier, PubSubNotifier, TelegramNotifier

    channels: list[Notifier] = []
    if settings.notification_topic:
        topic = settings.notification_topic
        if not topic.startswith("projects/"):
            topic = f"projects/{settings.google_cloud_project}/topics/{topic}"
        channels.append(PubSubNotifier(topic))
    if settings.notification_url:
        channels.append(HttpNotifier(settings.notification_url))
    if settings.telegram_bot_token and settings.telegram_chat_id:
        channels.append(
            TelegramNotifier(
                settings.telegram_bot_token, settings.telegram_chat_id, settings.telegram_api_base_url
            )
        )
    return channels


def _session(master: SymbolMaster) -> TradingSession:
    """The F&O session the master states (NSE's, else BSE's); 09:15-15:40 only if it states none."""
    session = master.session("NSE") or master.session("BSE")
    if session is None:
        session = FALLBACK_SESSION
        log_event(
            log,
            logging.WARNING,
            "session_assumed",
            f"the symbol master states no trading session; assuming {session.describe()} IST",
        )
    return session


def _holidays(settings: Settings, clock: Clock) -> frozenset:
    """NSE holidays for the coming year (exchange-calendars, XBOM); none needed with the check off."""
    if not settings.market_hours_check:
        return frozenset()
    from app.adapters.nse_holidays import nse_holidays

    today = clock.now().astimezone(IST).date()
    return nse_holidays(today - timedelta(days=7), today + timedelta(days=400))


def _state_store(settings: Settings) -> StateStore:
    """GCS when a bucket is configured (shared by every instance), else local files."""
    if settings.gcs_bucket_name:
        from app.adapters.gcs_state import GcsStateStore

        return GcsStateStore(settings.gcs_bucket_name)
    return LocalStateStore(f"{settings.state_dir}/state")


def _broker(
    settings: Settings,
    store: StateStore,
    clock: Clock,
    redactor: Redactor,
    notifications: Notifications,
) -> tuple[Broker, LoginService | None]:
    """The paper broker, or Fyers with its token manager and login flow."""
    if settings.broker == "paper":
        return PaperBroker(), None
    from app.adapters.fyers_auth import FyersAuth
    from app.adapters.fyers_broker import FyersBroker, point_sdk_at

    point_sdk_at(settings.fyers_api_base_url, settings.fyers_data_base_url)
    tokens = TokenManager(store, clock, settings.gcs_tokens_file, on_secret=redactor.add)
    auth = FyersAuth(
        settings.fyers_app_id,
        settings.fyers_secret_id,
        settings.fyers_redirect_uri,
        settings.fyers_api_base_url,
    )
    login = LoginService(
        tokens, auth, settings.fyers_pin, settings.fyers_auth_code, notifications
    )
    pacer = Pacer(settings.fyers_rate_per_second, settings.fyers_rate_per_minute)
    return FyersBroker(settings.fyers_app_id, tokens, pacer), login


def _source_name(settings: Settings) -> str:
    # A URL may carry credentials in its query; log only where each source points.
    return ",".join(source.split("?", 1)[0] for source in settings.symbol_master_url.split(","))
