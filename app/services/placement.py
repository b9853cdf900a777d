"""Placing an order exactly once: retry only what never left, look up what may have.

A failure that proves the order did not leave (connection refused, paced out, HTTP 429: that
one only once) is retried inside the deadline, `app.retry` deciding from the error's own facts;
an ambiguous one (timeout, dropped connection, code 201, 5xx) is never re-sent: the order book
is read until the order shows up or the deadline passes, and the alert is then answered 202
pending and reconciled from the book later.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Callable

from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable, LoginRequired, OrderOutcomeUnknown, OrderRejected
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder, Position, PositionExit, Priority, slices_summary
from app.ports import Broker
from app.retry import RetryPolicy, call_with_retries

MAX_SENDS = 4  # attempts at sending one order that certainly did not leave
# A rate-limit refusal (HTTP 429 / code -429) proves the order was not placed, so one re-send
# after Retry-After is safe; a second refusal ends the alert (503, key released): hammering a
# limit that Fyers counts against the whole day would only get the account blocked.
MAX_RATE_LIMITED_SENDS = 2
CONFIRM_ABSENT_AFTER = 1.0  # seconds between two empty look-ups before "absent" is believed
LOOKUP_INTERVAL = 0.25  # seconds between order-book look-ups
EXIT_CONFIRM_READS = 3  # position-book reads after an unconfirmed exit; other rows wait for their turn
# Backoff 100, 200, 400 ms with jitter; 300 ms of the deadline stay for the look-up and answer.
SENDING = RetryPolicy(
    attempts=MAX_SENDS, first_delay=0.1, reserve=0.3, rate_limited_attempts=MAX_RATE_LIMITED_SENDS
)


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

    def close_position(self, position: Position, deadline: Deadline) -> PositionExit:
        """Exit a position with the broker's call, sent once; a doubt is settled by the position book.

        Never re-sent: a second exit while the first counter order is still working would
        place a second counter order and turn the position around.
        """
        try:
            result = self._broker.exit_position(position, deadline, priority=Priority.EXIT)
        except OrderOutcomeUnknown as unknown:
            result = PositionExit(position.position_id, "pending", unknown.message)
        if result.status != "pending":
            return result
        for _ in range(EXIT_CONFIRM_READS):
            if deadline.remaining() < 0.3:
                break
            try:
                rows = self._broker.positions(deadline, priority=Priority.EXIT)
            except (BrokerUnavailable, LoginRequired):
                break  # unread, it stays pending: the trader is told to check
            row = next((p for p in rows if p.position_id == position.position_id), None)
            if row is not None and row.net_qty == 0:
                return PositionExit(position.position_id, "closed", "the position book shows it closed")
            self._sleep(min(LOOKUP_INTERVAL, max(0.0, deadline.remaining() - 0.3)))
        return PositionExit(
            position.position_id,
            "pending",
            f"exit sent, not confirmed: check the position in Fyers; it is not sent again ({result.message})",
        )

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
                # A closing order's look-up is part of the exit; any other is a LOOKUP.
                found = self._broker.find_order(order, since, deadline, priority=order.lookup_priority)
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
        return call_with_retries(
            lambda: self._broker.place_order(order, deadline, priority=order.priority),  # EXIT when it closes
            SENDING,
            deadline,
            self._sleep,
            self._jitter,
        )


def _placed(found: BrokerOrder) -> PlacedOrder:
    if found.slices:
        # A sliced order: every slice in the book, standing or rejected.
        summary = slices_summary(found.slices)
        standing = [s for s in found.slices if s.stands]
        if not standing:
            raise OrderRejected(
                f"Fyers rejected every slice of the order: {summary}",
                slices=[s.as_dict() for s in found.slices],
            )
        first = standing[0]
        return PlacedOrder(first.order_id or found.order_id, first.status, summary, found.slices)
    if found.status == "rejected":
        raise OrderRejected(f"Fyers rejected the order: {found.message or 'no reason given'}")
    return PlacedOrder(order_id=found.order_id, status=found.status, message=found.message)
