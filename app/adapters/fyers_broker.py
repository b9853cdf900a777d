"""FyersBroker: the Broker port on the official fyers-apiv3 SDK (sync client).

Everything Fyers and its SDK really do stops here: the SDK's dicts are copied and turned into
domain results or domain errors, every call is paced and bounded by the alert's deadline, and
the SDK's log files never reach the working directory.
"""

from __future__ import annotations

import copy
import logging
import random
import shutil
import tempfile
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Sequence

from fyers_apiv3 import fyersModel
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from app.adapters.fyers_http import DeadlineSession, Exchange
from app.adapters.pacer import Pacer
from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import (
    BrokerUnavailable,
    LoginRequired,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
)
from app.logs import log_event
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder, Position, Side
from app.ports import Broker
from app.services.tokens import TokenManager

log = logging.getLogger(__name__)

TOKEN_ERROR_CODES = frozenset({-8, -15, -16, -17})
RATE_LIMIT_CODES = frozenset({-429, -353})
ORDER_PLACED = 1101
ORDER_NOT_ACKNOWLEDGED = 201
ORDER_STATUS = {1: "cancelled", 2: "traded", 4: "transit", 5: "rejected", 6: "pending", 7: "expired"}

READ_CALL_CAP = 1.0  # seconds one quote/positions/order-book call may take
ORDER_CALL_CAP = 1.5  # seconds one order call may take (the rest of the budget is for a look-up)
ORDER_CALL_MIN = 0.2  # seconds: with less left, the order is not sent at all
READINESS_TTL = 30.0  # seconds a profile check stays good for /readyz
MARKET_STATUS_TTL = 30.0  # seconds a market-status answer is reused
NSE, FNO = 10, 11  # Fyers's exchange and segment codes for NSE F&O
_SDK_LOGGERS = ("FyersAPI", "FyersAPIRequest")


def point_sdk_at(api_base: str, data_base: str) -> None:
    """Aim the SDK's process-wide base URLs (a fake server in tests)."""
    fyersModel.Config.API = api_base
    fyersModel.Config.DATA_API = data_base


class FyersBroker(Broker):
    """Quotes, positions and orders on a Fyers account."""

    name = "fyers"

    def __init__(
        self,
        app_id: str,
        tokens: TokenManager,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._app_id = app_id
        self._tokens = tokens
        self._pacer = pacer or Pacer()
        self._sleep = sleep
        self._session = DeadlineSession()
        self._model = _quiet_model(app_id)
        self._model.service.session = self._session
        self._header_lock = threading.Lock()
        self._ready_at = -1e9
        self._ready = (False, "not checked yet")
        self._market_at = -1e9
        self._market: bool | None = None

    # -- the port ---------------------------------------------------------------------

    def quotes(self, symbols: Sequence[str], deadline: Deadline) -> dict[str, Decimal]:
        """Last traded prices (`d[].v.lp`); a symbol Fyers does not know is left out."""
        body = self._read(self._model.quotes, {"symbols": ",".join(symbols)}, deadline)
        prices = {}
        for row in body.get("d") or []:
            values = row.get("v") or {}
            if row.get("s") == "ok" and values.get("lp") is not None:
                try:
                    prices[row["n"]] = Decimal(str(values["lp"]))
                except (InvalidOperation, KeyError):
                    continue
        return prices

    def positions(self, deadline: Deadline) -> list[Position]:
        """Net positions of the day."""
        body = self._read(self._model.positions, None, deadline)
        return [
            Position(row["symbol"], int(row.get("netQty", 0)), row.get("productType", ""))
            for row in body.get("netPositions") or []
        ]

    def place_order(self, order: OrderRequest, deadline: Deadline) -> PlacedOrder:
        """Send one order once; BrokerUnavailable only when it certainly did not leave."""
        timeout = min(ORDER_CALL_CAP, deadline.remaining())
        if timeout < ORDER_CALL_MIN:
            raise BrokerUnavailable("no time left in this alert's budget to send the order")
        body, exchange = self._call(self._model.place_order, _order_payload(order), deadline, timeout)
        code = body.get("code") if body else None
        if exchange.response is None:
            if exchange.never_sent:
                raise BrokerUnavailable("Fyers could not be reached; the order was not sent")
            raise OrderOutcomeUnknown(f"the connection to Fyers failed mid-order ({_describe(exchange)})")
        if exchange.status >= 500 or body is None:
            raise OrderOutcomeUnknown(f"Fyers answered HTTP {exchange.status} to the order")
        if code == ORDER_NOT_ACKNOWLEDGED:
            raise OrderOutcomeUnknown("Fyers sent the order but the exchange has not acknowledged it")
        if body.get("s") == "ok" and body.get("id"):
            return PlacedOrder(order_id=str(body["id"]), message=str(body.get("message", ""))[:300])
        if body.get("s") == "error" and isinstance(code, int) and code < 0:
            raise OrderRejected(
                f"Fyers rejected the order: {str(body.get('message', ''))[:300]}", broker_code=code
            )
        raise OrderOutcomeUnknown(f"Fyers gave an unclear answer to the order (code {code})")

    def find_order(self, order: OrderRequest, since: datetime, deadline: Deadline) -> BrokerOrder | None:
        """The order in today's book: by tag, or for tagless CO/BO by contract, side, qty and time."""
        query = {"order_tag": f"1:{order.tag}"} if order.tag else None
        body = self._read(self._model.orderbook, query, deadline, tolerate_codes={-51})
        earliest = since.astimezone(IST).replace(tzinfo=None) - timedelta(seconds=5)
        for row in body.get("orderBook") or []:
            if order.tag:
                if str(row.get("orderTag", "")).split(":", 1)[-1] != order.tag:
                    continue
            elif not _same_order(row, order, earliest):
                continue
            return BrokerOrder(
                order_id=str(row.get("id")),
                symbol=row.get("symbol", ""),
                qty=int(row.get("qty", 0)),
                side=Side(int(row.get("side", 1))),
                product_type=row.get("productType", ""),
                tag=order.tag,
                status=ORDER_STATUS.get(row.get("status"), "unknown"),
                message=str(row.get("message", ""))[:300],
            )
        return None

    def market_open(self, deadline: Deadline) -> bool | None:
        """NSE F&O's status from Fyers (marketStatus), cached for 30 s; None if it cannot say."""
        if time.monotonic() - self._market_at < MARKET_STATUS_TTL:
            return self._market
        try:
            body = self._read(self._model.market_status, None, deadline, attempts=2)
        except BrokerUnavailable:
            return None  # the calendar decides; an order would fail on its own if closed
        status = None
        for row in body.get("marketStatus") or []:
            if row.get("exchange") == NSE and row.get("segment") == FNO:
                status = str(row.get("status", "")).upper() == "OPEN"
                if row.get("market_type", "NORMAL") == "NORMAL":
                    break
        self._market, self._market_at = status, time.monotonic()
        return status

    def readiness(self) -> tuple[bool, str]:
        """Ready with a usable token and a profile check no older than 30 s."""
        status = self._tokens.status()
        if not status.logged_in:
            return False, status.reason
        if time.monotonic() - self._ready_at < READINESS_TTL:
            return self._ready
        try:
            self._read(self._model.get_profile, None, Deadline(1.5), attempts=1)
            self._ready = (True, "logged in; Fyers answered")
        except LoginRequired as error:
            self._ready = (False, error.message)
        except BrokerUnavailable as error:
            self._ready = (False, f"Fyers did not answer: {error.message}")
        self._ready_at = time.monotonic()
        return self._ready

    # -- calls ------------------------------------------------------------------------

    def _read(
        self,
        method: Callable[..., Any],
        argument: Any,
        deadline: Deadline,
        attempts: int = 4,
        tolerate_codes: frozenset[int] | set[int] = frozenset(),
    ) -> dict[str, Any]:
        """A read, retried on unavailable or rate-limited answers while the deadline allows."""
        retrying = Retrying(
            retry=retry_if_exception(_is_retryable_read),
            stop=stop_after_attempt(attempts) | _past(deadline),
            wait=_read_wait(deadline),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                body, exchange = self._call(method, argument, deadline, deadline.timeout(READ_CALL_CAP))
                if body is None or exchange.response is None:
                    raise BrokerUnavailable(f"Fyers could not be reached ({_describe(exchange)})")
                if body.get("s") != "ok" and body.get("code") not in tolerate_codes:
                    raise BrokerUnavailable(
                        f"Fyers answered HTTP {exchange.status}: {str(body.get('message', ''))[:200]}"
                    )
                return body
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _call(
        self, method: Callable[..., Any], argument: Any, deadline: Deadline, timeout: float
    ) -> tuple[dict[str, Any] | None, Exchange]:
        """One SDK call: token, pacing, deadline; token and rate-limit answers become errors."""
        token = self._tokens.access_token()
        if timeout <= 0.05:
            raise BrokerUnavailable("this alert's time budget is spent")
        self._pacer.acquire(deadline)
        with self._header_lock:
            if self._model.token != token:
                self._model.token = token
                self._model.header = f"{self._app_id}:{token}"
        with self._session.bounded(min(timeout, deadline.remaining())) as exchange:
            try:
                result = method(argument) if argument is not None else method()
            except Exception:  # the SDK parses bodies outside its own try; the wire record tells
                result = None
        # The SDK returns one shared error dict per client: copy before anything else runs.
        body = copy.deepcopy(result) if isinstance(result, dict) else None
        if exchange.response is not None:
            code = body.get("code") if body else None
            if exchange.status == 401 or code in TOKEN_ERROR_CODES:
                self._tokens.mark_invalid(token, f"code {code}" if code else "HTTP 401")
                log_event(log, logging.WARNING, "token_rejected", "Fyers refused the access token; login required")
                raise LoginRequired("Fyers refused the access token: log in again")
            if exchange.status == 429 or code in RATE_LIMIT_CODES:
                wait = exchange.retry_after() or 1.0
                self._pacer.hold(wait)
                raise RateLimited("Fyers asked us to slow down", retry_after=wait)
        return body, exchange

    def close(self) -> None:
        """Release the HTTP session."""
        self._session.close()


def _order_payload(order: OrderRequest) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": order.qty,
        "type": order.order_type,
        "side": int(order.side),
        "productType": order.product_type,
        "limitPrice": 0,
        "stopPrice": 0,
        "validity": "DAY",
        "disclosedQty": 0,
        "offlineOrder": order.amo,
        "stopLoss": float(order.stop_loss_points or 0),
        "takeProfit": float(order.take_profit_points or 0),
    }
    if order.tag:
        payload["orderTag"] = order.tag
    if order.slice:
        payload["isSliceOrder"] = True
    if order.product_type not in ("CO", "BO") and order.stop_loss_points:
        payload["legType"] = 1  # SL/TP attached to an INTRADAY/MARGIN order, in points
    return payload


def _same_order(row: dict[str, Any], order: OrderRequest, earliest: datetime) -> bool:
    if (
        row.get("symbol") != order.symbol
        or int(row.get("qty", 0)) != order.qty
        or int(row.get("side", 0)) != int(order.side)
        or row.get("productType") != order.product_type
    ):
        return False
    try:
        placed = datetime.strptime(str(row.get("orderDateTime")), "%d-%b-%Y %H:%M:%S")
    except ValueError:
        return True  # no readable time: the contract, side, qty and product decide
    return placed >= earliest


def _is_retryable_read(error: BaseException) -> bool:
    return isinstance(error, BrokerUnavailable) and not isinstance(error, LoginRequired)


def _past(deadline: Deadline):
    def stop(state: RetryCallState) -> bool:
        return deadline.remaining() < 0.1

    return stop


def _read_wait(deadline: Deadline):
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        # Backoff 50, 100, 200 ms with jitter; the broker's Retry-After wins when it gave one.
        delay = asked if asked else 0.05 * (2 ** (state.attempt_number - 1)) * (0.5 + random.random())
        return max(0.0, min(delay, deadline.remaining() - 0.1))

    return wait


def _describe(exchange: Exchange) -> str:
    if exchange.error is not None:
        return type(exchange.error).__name__
    return f"HTTP {exchange.status}" if exchange.status else "no answer"


def _quiet_model(app_id: str) -> fyersModel.FyersModel:
    """A sync FyersModel whose log files and log lines go nowhere.

    Every FyersModel opens fyersApi.log and fyersRequests.log; the request log is at DEBUG and
    would hold URLs and bodies. They are opened in a temporary folder, closed, and the folder is
    removed; the SDK's loggers are switched off.
    """
    folder = tempfile.mkdtemp(prefix="fyers-sdk-")
    try:
        model = fyersModel.FyersModel(client_id=app_id, token="", is_async=False, log_path=folder)
        for sdk_logger in (model.api_logger, model.request_logger):
            handler = getattr(sdk_logger, "logger_handler", None)
            if handler is not None:
                handler.close()
        for name in _SDK_LOGGERS:
            sdk_log = logging.getLogger(name)
            for handler in list(sdk_log.handlers):
                handler.close()
                sdk_log.removeHandler(handler)
            sdk_log.disabled = True
            sdk_log.propagate = False
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return model
