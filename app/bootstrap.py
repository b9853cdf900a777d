"""The one place where settings become adapters and services."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import time, timedelta
from functools import partial
from typing import Any, TypeVar

from app import chosen
from app.adapters.coalescing import CoalescingBroker
from app.adapters.pacer import Pacer
from app.adapters.paper_broker import PaperBroker
from app.adapters.symbol_master import load_symbol_master
from app.domain.calendar import TradingCalendar
from app.domain.contracts import IST, SymbolMaster
from app.domain.session import TradingSession
from app.domain.trades import Protection
from app.logs import Redactor, log_event
from app.ports import Broker, Clock, Notifier, StateStore
from app.services.alerts import AlertService
from app.services.books import StrategyBooks
from app.services.close_all import CloseAll
from app.services.controls import TradingControls
from app.services.day_lock import DayLock, LockRules
from app.services.execution import Execution
from app.services.funding import Funding
from app.services.idempotency import IdempotencyLedger
from app.services.intake import AlertRules, Intake
from app.services.journal import Journal
from app.services.login import LoginService
from app.services.login_state import LoginStates
from app.services.market import MarketGate
from app.services.notify import Notifications
from app.services.placement import OrderPlacer
from app.services.plan import RiskRules
from app.services.planning import OrderPlanner
from app.services.queue import MARKET_CHECK_SECONDS, AlertQueue, QueueDrain
from app.services.reconcile import Reconciler
from app.services.refusals import RefusalCounter
from app.services.reporting import AlertReporter, report_rate_limited
from app.services.tokens import TokenManager
from app.services.trade_news import TradeNews
from app.services.trade_report import TradeReport
from app.services.trade_store import TradeStore
from app.services.trades import TradeDesk
from app.settings import KEY_HOW_TO, PAPER_BROKERS, PAPER_DEFAULT_SECRET, ConfigError, Settings

log = logging.getLogger(__name__)
RulesT = TypeVar("RulesT")
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
    drain: QueueDrain
    desk: TradeDesk  # follows each entry after its order: fills, protection, stop and target hits
    report: TradeReport  # the bridge's positions with Fyers's P&L, and the day's summary
    day_lock: DayLock  # the day's loss and profit lines
    closer: CloseAll  # close-all and the timed square-off: each exit and cancel sent once a day
    books: StrategyBooks  # what each strategy holds, from its own orders, reconciled to Fyers's positions
    # Cloud Scheduler's OIDC verifier (app/adapters/google_oidc.py); None: job endpoints take the admin token only.
    scheduler: Any = None


class MasterHolder:
    """The symbol master in use, loaded once at start and never mutated."""

    def __init__(self, master: SymbolMaster):
        self._master = master

    def current(self) -> SymbolMaster:
        """The master to resolve against."""
        return self._master


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
    settings: Settings,
    *,
    clock: Clock | None = None,
    broker: Broker | None = None,
    store: StateStore | None = None,
    channels: list[Notifier] | None = None,
    redactor: Redactor | None = None,
) -> Services:
    """Wire the services over the adapters the settings choose, or over the ones passed in."""
    clock = clock or Clock()
    redactor = redactor or Redactor(settings.secrets())
    if settings.broker == "paper" and settings.webhook_secret_token == PAPER_DEFAULT_SECRET:
        log.warning("WEBHOOK_SECRET_TOKEN is not set: the paper broker accepts the secret 'paper'")
    if settings.protection == "none":
        log_event(
            log,
            logging.WARNING,
            "unprotected",
            "PROTECTION=none: stop-losses and targets are only reported; nothing at the broker protects a position",
        )
    if channels is None:
        channels = chosen.channels(settings)
    paper = settings.broker in PAPER_BROKERS  # no real order: every answer, record and notification says so
    notifications = Notifications(channels, redactor, clock, settings.notify_on, prefix="PAPER: " if paper else "")
    if store is None:
        store = chosen.state_store(settings)
    masters = MasterHolder(load_master(settings, clock))  # before the broker: fyers-paper's fills take its ticks
    broker, login = _broker(settings, store, clock, redactor, notifications, broker, masters)
    broker = CoalescingBroker(broker)
    journal = Journal(store, clock, paper=paper)
    ledger = IdempotencyLedger(
        store, clock, settings.idempotency_ttl_seconds, settings.claim_lease_seconds
    )
    placer = OrderPlacer(broker, clock.now)
    reconciler = Reconciler(store, ledger, journal, placer, clock)
    controls = TradingControls(store, clock)
    day_lock = DayLock(_rules(LockRules, settings), controls, broker, journal, notifications, clock)
    planner = OrderPlanner(_risk_rules(settings), broker, masters.current, controls, clock, day_lock)
    market = _market_gate(settings, broker, masters, clock)
    queue = AlertQueue(
        store, clock, settings.queue_max_age_seconds, settings.claim_lease_seconds + MARKET_CHECK_SECONDS
    )
    reporter = AlertReporter(notifications, login.login_url if login else None, RefusalCounter(clock))
    rules = _alert_rules(settings)
    trades = TradeStore(store)
    books = StrategyBooks(store, journal, notifications, clock)
    planner.books = books
    desk = TradeDesk(
        trades, broker, TradeNews(journal, notifications), clock,
        Protection(settings.protection), settings.protection_failure, books=books,
    )
    report = TradeReport(trades, broker, journal, notifications, clock, broker.rate_limited_today)
    closer = CloseAll(
        trades, broker, store, journal, notifications, clock, market.calendar, settings.square_off_at
    )
    day_lock.closer = closer  # LOCK_ACTION=close: a locked day's positions are closed, once
    funding = Funding(broker, settings.margin_check)
    execution = Execution(planner, ledger, placer, reconciler, controls, desk, funding, settings.rate_wait_seconds)
    alerts = AlertService(
        rules, Intake(rules, clock), execution, ledger, journal, reconciler, market, queue, reporter, paper=paper
    )
    drain = QueueDrain(queue, market, alerts.run_queued, settings.alert_deadline_seconds)
    return Services(
        settings, clock, store, broker, masters, journal, alerts, reconciler, login,
        notifications, redactor, controls, queue, drain, desk, report, day_lock,
        closer=closer, books=books, scheduler=chosen.scheduler_verifier(settings),
    )


def _risk_rules(settings: Settings) -> RiskRules:
    """What the planner refuses or caps, from the settings."""
    return _rules(RiskRules, settings, max_lots=settings.webhook_max_qty, freeze_qty=dict(settings.freeze_qty))


def _alert_rules(settings: Settings) -> AlertRules:
    """How an alert is checked and timed, from the settings."""
    return _rules(
        AlertRules,
        settings,
        webhook_secret=settings.webhook_secret_token,
        deadline_seconds=settings.alert_deadline_seconds,
        hmac_secret=settings.webhook_hmac_secret,
        exact_strikes=settings.strike_rounding == "exact",
    )


def _rules(kind: type[RulesT], settings: Settings, **named_otherwise: Any) -> RulesT:
    """A rules dataclass: each field is the setting of the same name, unless named otherwise."""
    same = {f.name: getattr(settings, f.name) for f in fields(kind) if f.name not in named_otherwise}
    return kind(**same, **named_otherwise)


def _market_gate(settings: Settings, broker: Broker, masters: MasterHolder, clock: Clock) -> MarketGate:
    """Market hours from the holiday calendar and the master's session, confirmed by the broker."""
    return MarketGate(
        TradingCalendar(_holidays(settings, clock), _session(masters.current())),
        broker,
        clock,
        settings.market_hours_check,
    )



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



def _broker(
    settings: Settings,
    store: StateStore,
    clock: Clock,
    redactor: Redactor,
    notifications: Notifications,
    broker: Broker | None,
    masters: MasterHolder,
) -> tuple[Broker, LoginService | None]:
    """The paper broker, or Fyers with its token manager and login flow; `broker` replaces the adapter.

    fyers-paper logs in and reads prices exactly as fyers does, through a client that cannot send an order.
    """
    if settings.broker == "paper":
        return broker or PaperBroker(settings.paper_funds), None
    from app.adapters.fyers_auth import FyersAuth
    from app.adapters.fyers_broker import FyersBroker
    from app.adapters.fyers_sdk import point_sdk_at
    from app.adapters.token_cipher import AesGcmTokenCipher

    point_sdk_at(settings.fyers_api_base_url, settings.fyers_data_base_url)
    if not settings.token_encryption_key:  # Settings built in code skip from_env's check
        raise ConfigError(f"TOKEN_ENCRYPTION_KEY is required with BROKER=fyers: {KEY_HOW_TO}")
    cipher = AesGcmTokenCipher(settings.token_encryption_key)
    tokens = TokenManager(store, clock, settings.gcs_tokens_file, cipher, on_secret=redactor.add)
    auth = FyersAuth(
        settings.fyers_app_id,
        settings.fyers_secret_id,
        settings.fyers_redirect_uri,
        settings.fyers_api_base_url,
    )
    states = LoginStates(store, clock, settings.fyers_redirect_uri)
    login = LoginService(tokens, states, auth, settings.fyers_pin, settings.fyers_auth_code, notifications)
    if broker is None:
        pacer = Pacer(
            settings.fyers_rate_per_second,
            settings.fyers_rate_per_minute,
            instances=settings.fyers_instances,
            on_refusal=partial(report_rate_limited, notifications),
        )
        forward = settings.broker == "fyers-paper"
        broker = FyersBroker(settings.fyers_app_id, tokens, pacer, read_only=forward)
        if forward:
            from app.adapters.forward_broker import ForwardBroker

            def contract_of(ticker: str):
                return masters.current().by_ticker(ticker)  # the master in use at the fill

            broker = ForwardBroker(broker, contract_of, settings.paper_slippage_ticks, settings.paper_funds)
    return broker, login



def _source_name(settings: Settings) -> str:
    # A URL may carry credentials in its query; log only where each source points.
    return ",".join(source.split("?", 1)[0] for source in settings.symbol_master_url.split(","))
