"""FyersBroker: the Broker port on the official fyers-apiv3 SDK (sync client).

Everything Fyers and its SDK really do stops here: the SDK's dicts are copied and turned into
domain results or domain errors, every call is paced and bounded by the alert's deadline, and
the SDK's log files never reach the working directory.
"""

from __future__ import annotations

import copy
import logging
import random
import re
import shutil
import tempfile
import threading
import time
from dataclasses import replace
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
from app.domain.orders import (
    BrokerOrder,
    OrderRequest,
    PlacedOrder,
    Position,
    PositionExit,
    Side,
    SliceResult,
    slices_summary,
)
from app.ports import Broker
from app.services.tokens import TokenManager

log = logging.getLogger(__name__)

TOKEN_ERROR_CODES = frozenset({-8, -15, -16, -17})
RATE_LIMIT_CODES = frozenset({-429, -353})
ORDER_PLACED = 1101
ORDER_NOT_ACKNOWLEDGED = 201
SDK_TRANSPORT_ERROR = -99
# The one list of codes that report a connection, timeout or acknowledgement failure rather
# than a decision by Fyers: the order may be at Fyers, so it is looked up in the order book and
# never called rejected (`_outcome_open` and `_slice_result` read them). Where each comes from:
LOOK_UP_CODES: dict[int, str] = {
    # Fyers's reference (Place Order, `code`): "order request has been made but no
    # acknowledgement has been received ... check orderbook before placing order".
    ORDER_NOT_ACKNOWLEDGED: "sent to the exchange but not acknowledged",
}
SDK_NO_ANSWER_CODES: dict[int, str] = {
    # fyers_apiv3 3.2.0, fyersModel.FyersServiceSync.post_call/get_call: any exception from
    # `requests` before an answer (timeout, reset, refused) comes back as {"s":"error",
    # "code":-99,"message":"Bad request"}. Fyers answers -99 to a real rejection too, so this
    # reading holds only when the wire (DeadlineSession) saw no HTTP response; with one, -99
    # is Fyers's rejection.
    SDK_TRANSPORT_ERROR: "no answer from Fyers (the SDK's transport error)",
}
# The same SDK functions put the HTTP status itself in `code` (message "Bad request") when an
# answer came whose body was not JSON, e.g. a gateway's 502/504 page: `_outcome_open` checks
# the body on the wire, so such a code is never read as Fyers's.
ORDER_STATUS = {1: "cancelled", 2: "traded", 4: "transit", 5: "rejected", 6: "pending", 7: "expired"}

READ_CALL_CAP = 1.0  # seconds one quote/positions/order-book call may take
ORDER_CALL_CAP = 1.5  # seconds one order call may take (the rest of the budget is for a look-up)
ORDER_CALL_MIN = 0.2  # seconds: with less left, the order is not sent at all
READINESS_TTL = 30.0  # seconds a profile check stays good for /readyz
MARKET_STATUS_TTL = 30.0  # seconds a market-status answer (or the lack of one) is reused
NSE, FNO = 10, 11  # Fyers's exchange and segment codes for NSE F&O
# marketStatus's `status` values (the reference lists CLOSE, OPEN, POSTCLOSE_START,
# POSTCLOSE_CLOSED, PREOPEN, PREOPEN_CLOSED; its own sample answer says CLOSED).
MARKET_OPEN_STATUSES = frozenset({"OPEN"})
MARKET_CLOSED_STATUSES = frozenset(
    {"CLOSE", "CLOSED", "POSTCLOSE_START", "POSTCLOSE_CLOSED", "PREOPEN", "PREOPEN_CLOSED"}
)
# The reference's sample marketStatus answer carries `code` 200 and no top-level `s`.
MARKET_STATUS_OK = frozenset({200})
_SDK_LOGGERS = ("FyersAPI", "FyersAPIRequest")
_CHILD_LEG_ID = re.compile(r"-BO-\d+$")


def point_sdk_at(api_base: str, data_base: str) -> None:
    """Aim the SDK's process-wide base URLs (a fake server in tests)."""
    fyersModel.Config.API = api_base
    fyersModel.Config.DATA_API = data_base


# Answers to the exit-position call (DELETE /positions), from the reference's Exit Position
# section and DESIGN §2: 200 closed, 201 counter order placed but not filled, -352 nothing open.
POSITION_CLOSED = 200
EXIT_NOT_FILLED = 201
NOTHING_TO_EXIT = -352


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
        if exchange.response is None and exchange.never_sent:
            raise BrokerUnavailable("Fyers could not be reached; the order was not sent")
        open_because = _outcome_open(body, exchange)
        if open_because or body is None:
            raise OrderOutcomeUnknown(open_because or "no answer")
        code = body.get("code")
        if isinstance(body.get("data"), list) and "id" not in body:
            # A slice order's answer: one body per slice, no top-level `s` or `id`.
            return self._sliced(order, body["data"], deadline)
        if body.get("s") == "ok" and body.get("id"):
            return PlacedOrder(order_id=str(body["id"]), message=str(body.get("message", ""))[:300])
        if body.get("s") == "error" and isinstance(code, int) and code < 0:
            raise OrderRejected(
                f"Fyers rejected the order: {str(body.get('message', ''))[:300]}", broker_code=code
            )
        raise OrderOutcomeUnknown(f"Fyers gave an unclear answer to the order (code {code})")

    def _sliced(self, order: OrderRequest, answers: list[Any], deadline: Deadline) -> PlacedOrder:
        """Every slice of a sliced order's answer; OrderRejected only when none stands."""
        slices = [_slice_result(entry) for entry in answers]
        if not slices:
            raise OrderOutcomeUnknown("Fyers answered the slice order with no slices")
        slices = self._slice_quantities(order, slices, deadline)
        summary = slices_summary(slices)
        if not any(s.stands for s in slices):
            codes = {(entry.get("body") or {}).get("code") for entry in answers if isinstance(entry, dict)}
            raise OrderRejected(
                f"Fyers rejected every slice of the order: {summary}",
                broker_code=codes.pop() if len(codes) == 1 else None,
                slices=[s.as_dict() for s in slices],
            )
        first = next((s.order_id for s in slices if s.stands and s.order_id), None)
        if first is None:  # every standing slice is in transit, without an id yet
            raise OrderOutcomeUnknown(f"Fyers has not acknowledged the slices: {summary}")
        return PlacedOrder(order_id=first, message=summary, slices=tuple(slices))

    def _slice_quantities(
        self, order: OrderRequest, slices: list[SliceResult], deadline: Deadline
    ) -> list[SliceResult]:
        """The slices with their quantities from the book (the answer does not carry them)."""
        query = {"order_tag": f"1:{order.tag}"} if order.tag else None
        try:
            body = self._read(self._model.orderbook, query, deadline, attempts=1)
        except BrokerUnavailable:
            return slices  # the quantities stay unknown; ids and outcomes are what matter
        quantities = {str(row.get("id")): row.get("qty") for row in body.get("orderBook") or []}
        return [
            replace(s, qty=int(quantities[s.order_id])) if s.order_id in quantities else s
            for s in slices
        ]

    def find_order(self, order: OrderRequest, since: datetime, deadline: Deadline) -> BrokerOrder | None:
        """The order in today's book: by tag, or for tagless CO/BO by contract, side, qty and time.

        CO/BO child legs (their stop-loss and target orders) are never taken for an order; a
        sliced order is found with every one of its slices.
        """
        query = {"order_tag": f"1:{order.tag}"} if order.tag else None
        body = self._read(self._model.orderbook, query, deadline, tolerate_codes={-51})
        earliest = since.astimezone(IST).replace(tzinfo=None) - timedelta(seconds=5)
        rows = []
        for row in body.get("orderBook") or []:
            if _child_leg(row):
                continue
            if order.tag:
                if str(row.get("orderTag", "")).split(":", 1)[-1] != order.tag:
                    continue
            elif not _same_order(row, order, earliest):
                continue
            rows.append(row)
            if not (order.slice and order.tag):
                break  # a tagless slice cannot be told from another order: the first match
        if not rows:
            return None
        if order.slice and order.tag and sum(int(r.get("qty", 0)) for r in rows) < order.qty:
            # Only part of the slices shows yet: neither "absent" nor "rejected" can be
            # read from that, so this look counts as unanswered and the book is read again.
            raise BrokerUnavailable("the order book shows only part of the sliced order yet")
        row = rows[0]
        return BrokerOrder(
            order_id=str(row.get("id")),
            symbol=row.get("symbol", ""),
            qty=int(row.get("qty", 0)),
            side=Side(int(row.get("side", 1))),
            product_type=row.get("productType", ""),
            tag=order.tag,
            status=_book_status(row),
            message=str(row.get("message", ""))[:300],
            slices=tuple(_book_slice(r) for r in rows) if order.slice and order.tag else (),
        )

    def exit_position(self, position: Position, deadline: Deadline) -> PositionExit:
        """Close one position by its id with Fyers's exit call, its working orders cancelled first."""
        timeout = min(ORDER_CALL_CAP, deadline.remaining())
        if timeout < ORDER_CALL_MIN:
            raise BrokerUnavailable("no time left in this alert's budget to exit the position")
        # pending_orders_cancel: a CO's stop leg or a BO's legs are working orders of the
        # position; Fyers cancels them before it places the counter order.
        request = {"id": position.position_id, "pending_orders_cancel": 1}
        body, exchange = self._call(self._model.exit_positions, request, deadline, timeout)
        if exchange.response is None and exchange.never_sent:
            raise BrokerUnavailable("Fyers could not be reached; the exit was not sent")
        code = body.get("code") if body else None
        message = str(body.get("message", ""))[:300] if body else ""
        if code == EXIT_NOT_FILLED and exchange.response is not None:
            return PositionExit(position.position_id, "pending", message or "counter order placed, not filled")
        open_because = _outcome_open(body, exchange)
        if open_because or body is None:
            raise OrderOutcomeUnknown(f"exit of {position.position_id}: {open_because or 'no answer'}")
        if code == NOTHING_TO_EXIT:
            return PositionExit(position.position_id, "nothing_to_close", message or "no open position to exit")
        if body.get("s") == "ok" and code == POSITION_CLOSED:
            return PositionExit(position.position_id, "closed", message)
        if body.get("s") == "error" and isinstance(code, int) and code < 0:
            raise OrderRejected(f"Fyers refused to exit {position.position_id}: {message}", broker_code=code)
        raise OrderOutcomeUnknown(f"Fyers gave an unclear answer to the exit (code {code})")

    def market_open(self, deadline: Deadline) -> bool | None:
        """NSE F&O's status from Fyers (marketStatus), cached for 30 s; None if it cannot say."""
        if time.monotonic() - self._market_at < MARKET_STATUS_TTL:
            return self._market
        # One call, and whatever it gives is kept for the TTL: an answer that says nothing (or no
        # answer) must not cost every alert more calls. Without it the calendar decides, and an
        # order into a closed market fails at Fyers on its own.
        try:
            body = self._read(
                self._model.market_status, None, deadline, attempts=1, tolerate_codes=MARKET_STATUS_OK
            )
            status = _nse_fno_open(body.get("marketStatus"))
        except BrokerUnavailable:
            status = None
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


def _outcome_open(body: dict[str, Any] | None, exchange: Exchange) -> str | None:
    """Why an order answer leaves the order's fate open (to be looked up); None if it settles it."""
    if exchange.response is None:
        # Whatever the SDK put in its body (-99, SDK_NO_ANSWER_CODES), Fyers said nothing.
        return f"the connection to Fyers failed mid-order ({_describe(exchange)})"
    if body is None or not _json_answer(exchange):
        # The SDK's stand-in body (its `code` is the HTTP status), not Fyers's words.
        return f"Fyers answered HTTP {exchange.status} without a readable body"
    if exchange.status >= 500:
        return f"Fyers answered HTTP {exchange.status} to the order"
    code = body.get("code")
    if code in LOOK_UP_CODES:
        return f"Fyers {LOOK_UP_CODES[code]} (code {code})"
    return None


def _json_answer(exchange: Exchange) -> bool:
    try:
        exchange.response.json()
    except ValueError:
        return False
    return True


def _slice_result(entry: Any) -> SliceResult:
    """One slice from a slice order's `data[]`: {"statusCode", "body": {s, code, id, message}}."""
    entry = entry if isinstance(entry, dict) else {}
    reply = entry.get("body") if isinstance(entry.get("body"), dict) else {}
    code, status_code = reply.get("code"), entry.get("statusCode")
    order_id = str(reply["id"]) if reply.get("id") else None
    message = str(reply.get("message", ""))[:300]
    if reply.get("s") == "ok" and order_id and code == ORDER_PLACED:
        return SliceResult(order_id, None, "placed", message)
    fyers_refused = isinstance(code, int) and code < 0 and code not in LOOK_UP_CODES
    if reply.get("s") == "error" and fyers_refused and not (isinstance(status_code, int) and status_code >= 500):
        return SliceResult(order_id, None, "rejected", message)
    # Not acknowledged (LOOK_UP_CODES), a 5xx inside the answer, or unclear: it may be at the
    # exchange, so it stands until the order book says otherwise; never called rejected.
    return SliceResult(order_id, None, "transit", message)


def _child_leg(row: dict[str, Any]) -> bool:
    """A CO/BO stop-loss or target leg Fyers opened itself (`parentId`, id `...-BO-2`/`-BO-3`)."""
    return bool(row.get("parentId")) or bool(_CHILD_LEG_ID.search(str(row.get("id", ""))))


def _book_status(row: dict[str, Any]) -> str:
    return ORDER_STATUS.get(row.get("status"), "unknown")


def _book_slice(row: dict[str, Any]) -> SliceResult:
    return SliceResult(
        str(row.get("id")), int(row.get("qty", 0)), _book_status(row), str(row.get("message", ""))[:300]
    )


def _is_retryable_read(error: BaseException) -> bool:
    return isinstance(error, BrokerUnavailable) and not isinstance(error, LoginRequired)


def _nse_fno_open(rows: Any) -> bool | None:
    """The normal market of NSE F&O in a marketStatus list: open, closed, or None if not said."""
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or str(row.get("market_type") or "NORMAL").upper() != "NORMAL":
            continue  # auction and odd-lot sessions do not decide whether options trade
        if str(row.get("exchange")) == str(NSE) and str(row.get("segment")) == str(FNO):
            status = str(row.get("status", "")).strip().upper()
            if status in MARKET_OPEN_STATUSES:
                return True
            if status in MARKET_CLOSED_STATUSES:
                return False
            return None
    return None


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
