"""Placing an order exactly once: retry only what never left, look up what may have.

The retry decision (`_never_sent`) is apart from the delay (`_delay`): a failure that proves
the order did not leave (connection refused, paced out, HTTP 429) is retried inside the
deadline; an ambiguous one (timeout, dropped connection, code 201, 5xx) is never re-sent: the
order book is read until the order shows up or the deadline passes, and the alert is then
answered 202 pending and reconciled from the book later.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception

from app.deadline import Deadline
from app.domain.errors import (
    BrokerUnavailable,
    LoginRequired,
    OrderOutcomeUnknown,
    OrderRejected,
)
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder
from app.ports import Broker

MAX_SENDS = 4  # attempts at sending one order that certainly did not leave
CONFIRM_ABSENT_AFTER = 1.0  # seconds between two empty look-ups before "absent" is believed
LOOKUP_INTERVAL = 0.25  # seconds between order-book look-ups


class OrderPlacer:
    """Sends an order through a Broker so that it exists at most once."""

    def __init__(
        self,
        broker: Broker,
        now: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ):
        self._broker = broker
        self._now = now
        self._sleep = sleep
        self._jitter = jitter

    def place(self, order: OrderRequest, deadline: Deadline) -> PlacedOrder:
        """The placed order; OrderOutcomeUnknown if the book has not shown it by the deadline."""
        since = self._now()
        try:
            return self._send(order, deadline)
        except OrderOutcomeUnknown as unknown:
            # Not re-sent, even when the book looks empty: the first request may still be on
            # its way (a timeout) or in Fyers's pipeline (code 201). A missing order is
            # reported and reconciled; a duplicate could not be taken back.
            found = self.look_up(order, since, deadline)
            if found is not None:
                return found
            raise OrderOutcomeUnknown(
                "the order may have reached Fyers; it is being looked up, not re-sent ("
                + unknown.message
                + ")"
            ) from None

    def place_after_takeover(
        self, order: OrderRequest, since: datetime, deadline: Deadline
    ) -> PlacedOrder:
        """Take over from a claimer that died: the book decides whether the order exists."""
        found, absent = self._look(order, since, deadline)
        if found is not None:
            return found
        if absent:
            return self.place(order, deadline)
        raise OrderOutcomeUnknown("the order book did not answer in time; it will be looked up again")

    def look_up(self, order: OrderRequest, since: datetime, deadline: Deadline) -> PlacedOrder | None:
        """The order if the book shows it before the deadline, else None."""
        return self._look(order, since, deadline)[0]

    def _look(
        self, order: OrderRequest, since: datetime, deadline: Deadline
    ) -> tuple[PlacedOrder | None, bool]:
        """Read the book until the order shows up, is confirmed absent (True), or time runs out."""
        first_empty: float | None = None
        while deadline.remaining() > 0.05:
            try:
                found = self._broker.find_order(order, since, deadline)
            except LoginRequired:
                # The order may exist and the book cannot be read until the next login: the
                # outcome stays unknown (pending), never "not placed", which would free the
                # key for a resend to place a second order.
                return None, False
            except BrokerUnavailable:
                first_empty = None  # an unanswered look proves nothing
            else:
                if found is not None:
                    return _placed(found), False
                now = time.monotonic()
                if first_empty is None:
                    first_empty = now
                elif now - first_empty >= CONFIRM_ABSENT_AFTER:
                    return None, True
            self._sleep(min(LOOKUP_INTERVAL, max(0.0, deadline.remaining() - 0.05)))
        return None, False

    def _send(self, order: OrderRequest, deadline: Deadline) -> PlacedOrder:
        retrying = Retrying(
            retry=retry_if_exception(_never_sent),
            stop=lambda state: state.attempt_number >= MAX_SENDS or deadline.remaining() < 0.3,
            wait=self._delay(deadline),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._broker.place_order(order, deadline)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _delay(self, deadline: Deadline) -> Callable[[RetryCallState], float]:
        def delay(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            # The broker may ask us to wait; we defer to that over our own backoff.
            asked = getattr(error, "retry_after", None)
            backoff = 0.1 * (2 ** (state.attempt_number - 1)) * (0.5 + self._jitter())
            return max(0.0, min(asked or backoff, deadline.remaining() - 0.3))

        return delay


def _never_sent(error: BaseException) -> bool:
    """Only a failure that proves the order did not leave may be retried."""
    return isinstance(error, BrokerUnavailable) and not isinstance(error, LoginRequired)


def _placed(found: BrokerOrder) -> PlacedOrder:
    if found.status == "rejected":
        raise OrderRejected(f"Fyers rejected the order: {found.message or 'no reason given'}")
    return PlacedOrder(order_id=found.order_id, status=found.status, message=found.message)
