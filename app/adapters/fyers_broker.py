"""FyersBroker: the Broker port on the official fyers-apiv3 SDK (sync client).

Everything Fyers and its SDK really do stops here: the SDK's dicts are turned into domain
results or domain errors (fyers_answers.py reads them), and every call is paced and bounded by
the alert's deadline (fyers_sdk.py makes it).
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Sequence

from app.adapters.fyers_answers import (
    EXIT_NOT_FILLED,
    MARKET_STATUS_OK,
    NOTHING_TO_EXIT,
    POSITION_CLOSED,
    margin_of,
    nse_fno_open,
    outcome_open,
    prices_of,
    refused,
    slice_result,
)
from app.adapters.fyers_http import Exchange
from app.adapters.fyers_orders import (
    book_order,
    fills_of,
    margin_payload,
    order_payload,
    orders_of,
    positions_of,
    rows_of_order,
)
from app.adapters.fyers_sdk import FyersClient
from app.adapters.pacer import Pacer
from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable, LoginRequired, OrderOutcomeUnknown, OrderRejected, PacedOut
from app.domain.orders import (
    BrokerOrder,
    Fill,
    Margin,
    OrderRequest,
    PlacedOrder,
    Position,
    PositionExit,
    Priority,
    SliceResult,
    slices_summary,
)
from app.ports import Broker, TokenSource
from app.retry import RetryPolicy, call_with_retries

ORDER_CALL_CAP = 1.5  # seconds one order call may take (the rest of the budget is for a look-up)
ORDER_CALL_MIN = 0.2  # seconds: with less left, the order is not sent at all
READINESS_TTL = 30.0  # seconds a profile check stays good for /readyz
MARKET_STATUS_TTL = 30.0  # seconds a market-status answer (or the lack of one) is reused
# Backoff 50, 100, 200 ms with jitter; 100 ms of the deadline stay for the caller.
READS = RetryPolicy(attempts=4, first_delay=0.05, reserve=0.1)
ONE_READ = replace(READS, attempts=1)
INVALID_ORDER_ID = -51  # the order book's answer to `?id=` for an id it does not hold


class FyersBroker(Broker):
    """Quotes, positions and orders on a Fyers account."""

    name = "fyers"

    def __init__(
        self,
        app_id: str,
        tokens: TokenSource,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        read_only: bool = False,
    ):
        self._tokens = tokens
        self._pacer = pacer or Pacer()
        # read_only: every order call is refused before it is sent (BROKER=fyers-paper reads only).
        self._fyers = FyersClient(app_id, tokens, self._pacer, read_only=read_only)
        self._sleep = sleep
        self._jitter = jitter
        self._ready_at = -1e9
        self._ready = (False, "not checked yet")
        self._market_at = -1e9
        self._market: bool | None = None

    def quotes(
        self, symbols: Sequence[str], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> dict[str, Decimal]:
        """Last traded prices; a symbol Fyers does not know is left out."""
        return prices_of(self._read("quotes", {"symbols": ",".join(symbols)}, deadline, priority=priority))

    def positions(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Position]:
        """Net positions of the day."""
        return positions_of(self._read("positions", None, deadline, priority=priority))

    def place_order(self, order: OrderRequest, deadline: Deadline, *, priority: Priority | None = None) -> PlacedOrder:
        """Send one order once; BrokerUnavailable only when it certainly did not leave."""
        body, exchange = self._send(
            "place_order", order_payload(order), deadline, "the order", priority or order.priority
        )
        open_because = outcome_open(body, exchange)
        if open_because or body is None:
            raise OrderOutcomeUnknown(open_because or "no answer")
        if isinstance(body.get("data"), list) and "id" not in body:
            # A slice order's answer: one body per slice, no top-level `s` or `id`.
            return self._sliced(order, body["data"], deadline)
        if body.get("s") == "ok" and body.get("id"):
            return PlacedOrder(order_id=str(body["id"]), message=str(body.get("message", ""))[:300])
        if refused(body):
            raise OrderRejected(
                f"Fyers rejected the order: {str(body.get('message', ''))[:300]}", broker_code=body["code"]
            )
        raise OrderOutcomeUnknown(f"Fyers gave an unclear answer to the order (code {body.get('code')})")

    def _sliced(self, order: OrderRequest, answers: list[Any], deadline: Deadline) -> PlacedOrder:
        """Every slice of a sliced order's answer; OrderRejected only when none stands."""
        slices = [slice_result(entry) for entry in answers]
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
            body = self._read("orderbook", query, deadline, ONE_READ, priority=order.lookup_priority)
        except (BrokerUnavailable, LoginRequired):
            return slices  # the quantities stay unknown; ids and outcomes are what matter
        quantities = {str(row.get("id")): row.get("qty") for row in body.get("orderBook") or []}
        return [replace(s, qty=int(quantities[s.order_id])) if s.order_id in quantities else s for s in slices]

    def find_order(
        self, order: OrderRequest, since: datetime, deadline: Deadline, *, priority: Priority | None = None
    ) -> BrokerOrder | None:
        """The order in today's book: by tag, or for tagless CO/BO by contract, side, qty and time."""
        query = {"order_tag": f"1:{order.tag}"} if order.tag else None
        body = self._read(
            "orderbook", query, deadline, tolerate_codes={-51}, priority=priority or order.lookup_priority
        )
        rows = rows_of_order(body, order, since)
        if not rows:
            return None
        if order.slice and order.tag and sum(int(r.get("qty", 0)) for r in rows) < order.qty:
            # Only part of the slices shows yet: neither "absent" nor "rejected" can be
            # read from that, so this look counts as unanswered and the book is read again.
            raise BrokerUnavailable("the order book shows only part of the sliced order yet")
        return book_order(rows, order)

    def exit_position(
        self, position: Position, deadline: Deadline, *, priority: Priority = Priority.EXIT
    ) -> PositionExit:
        """Close one position by its id with Fyers's exit call, its working orders cancelled first."""
        # pending_orders_cancel: a CO's stop leg or a BO's legs are working orders of the
        # position; Fyers cancels them before it places the counter order.
        request = {"id": position.position_id, "pending_orders_cancel": 1}
        body, exchange = self._send("exit_positions", request, deadline, "the exit", priority)
        code = body.get("code") if body else None
        message = str(body.get("message", ""))[:300] if body else ""
        if code == EXIT_NOT_FILLED and exchange.response is not None:
            return PositionExit(position.position_id, "pending", message or "counter order placed, not filled")
        open_because = outcome_open(body, exchange)
        if open_because or body is None:
            raise OrderOutcomeUnknown(f"exit of {position.position_id}: {open_because or 'no answer'}")
        if code == NOTHING_TO_EXIT:
            return PositionExit(position.position_id, "nothing_to_close", message or "no open position to exit")
        if body.get("s") == "ok" and code == POSITION_CLOSED:
            return PositionExit(position.position_id, "closed", message)
        if refused(body):
            raise OrderRejected(f"Fyers refused to exit {position.position_id}: {message}", broker_code=code)
        raise OrderOutcomeUnknown(f"Fyers gave an unclear answer to the exit (code {code})")

    def order_book(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[BrokerOrder]:
        """Today's orders (GET /orders, the whole book), oldest first."""
        return orders_of(self._read("orderbook", None, deadline, priority=priority))

    def order_by_id(
        self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.LOOKUP
    ) -> BrokerOrder | None:
        """One order by its id (GET /orders?id=); None when Fyers has no such id (code -51) or no row."""
        # Not the SDK's get_orders(): it reads the whole book and raises KeyError on an error answer.
        body = self._read("orderbook", {"id": order_id}, deadline, tolerate_codes={INVALID_ORDER_ID}, priority=priority)
        if body.get("s") != "ok":
            return None
        # Only the row with that id counts, whatever else the filter lets through.
        return next((order for order in orders_of(body) if order.order_id == order_id), None)

    def fills(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Fill]:
        """Today's trades (GET /tradebook; the SDK sends no filter), oldest first."""
        return fills_of(self._read("tradebook", None, deadline, priority=priority))

    def cancel_order(self, order_id: str, deadline: Deadline, *, priority: Priority = Priority.EXIT) -> None:
        """Cancel one working order (DELETE /orders/sync), sent once; Fyers's refusal is OrderRejected."""
        body, exchange = self._send("cancel_order", {"id": order_id}, deadline, "the cancel", priority)
        open_because = outcome_open(body, exchange)
        if open_because or body is None:
            raise OrderOutcomeUnknown(f"cancel of {order_id}: {open_because or 'no answer'}")
        if body.get("s") == "ok":
            return  # code 1103, "Successfully cancelled order"
        message = str(body.get("message", ""))[:300]
        if refused(body):
            raise OrderRejected(f"Fyers refused to cancel {order_id}: {message}", broker_code=body["code"])
        raise OrderOutcomeUnknown(f"Fyers gave an unclear answer to the cancel of {order_id} (code {body.get('code')})")

    def _send(
        self, method: str, request: dict[str, Any], deadline: Deadline, subject: str, priority: Priority
    ) -> tuple[dict[str, Any] | None, Exchange]:
        """One order-changing call, never retried; BrokerUnavailable only when it certainly did not leave."""
        timeout = min(ORDER_CALL_CAP, deadline.remaining())
        if timeout < ORDER_CALL_MIN:
            raise PacedOut(f"no time left in this alert's budget to send {subject}")
        body, exchange = self._fyers.call(method, request, deadline, timeout, priority, keep_for_call=ORDER_CALL_MIN)
        if exchange.response is None and exchange.never_sent:
            raise BrokerUnavailable(f"Fyers could not be reached; {subject} was not sent")
        return body, exchange

    def margin(
        self, orders: list[OrderRequest], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> Margin | None:
        """What the orders need and the account has free (POST /multiorder/margin); None when Fyers does not say."""
        return margin_of(self._read("multiorder_margin", margin_payload(orders), deadline, priority=priority))

    def market_open(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> bool | None:
        """NSE F&O's status from Fyers (marketStatus), cached for 30 s; None if it cannot say."""
        if time.monotonic() - self._market_at < MARKET_STATUS_TTL:
            return self._market
        # One call, and whatever it gives is kept for the TTL: an answer that says nothing (or no
        # answer) must not cost every alert more calls. Without it the calendar decides, and an
        # order into a closed market fails at Fyers on its own.
        try:
            body = self._read("market_status", None, deadline, ONE_READ, MARKET_STATUS_OK, priority)
            status = nse_fno_open(body.get("marketStatus"))
        except (BrokerUnavailable, LoginRequired):
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
            self._read("get_profile", None, Deadline(1.5), ONE_READ)
            self._ready = (True, "logged in; Fyers answered")
        except LoginRequired as error:
            self._ready = (False, error.message)
        except BrokerUnavailable as error:
            self._ready = (False, f"Fyers did not answer: {error.message}")
        self._ready_at = time.monotonic()
        return self._ready

    def _read(
        self,
        method: str,
        argument: Any,
        deadline: Deadline,
        policy: RetryPolicy = READS,
        tolerate_codes: frozenset[int] | set[int] = frozenset(),
        priority: Priority = Priority.LOOKUP,
    ) -> dict[str, Any]:
        """A read, retried on unavailable or rate-limited answers while the policy and deadline allow."""
        return call_with_retries(
            lambda: self._fyers.read(method, argument, deadline, tolerate_codes, priority),
            policy,
            deadline,
            self._sleep,
            self._jitter,
        )

    def rate_limited_today(self) -> int:
        """429s Fyers sent this instance today (IST)."""
        return self._pacer.refusals_today()

    def close(self) -> None:
        """Release the HTTP session."""
        self._fyers.close()
