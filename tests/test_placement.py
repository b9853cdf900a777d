"""OrderPlacer: retry only what never left; look up what may have; never send twice."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.deadline import Deadline
from app.domain.errors import (
    BrokerUnavailable,
    LoginRequired,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
)
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder, Side, SliceResult
from app.services.placement import OrderPlacer

ORDER = OrderRequest("NSE:NIFTY26NOV26000CE", 65, Side.BUY, "INTRADAY", "TVabc")


class ScriptedBroker:
    """A broker that answers place_order from a script and keeps the orders it accepted."""

    def __init__(self, *script):
        self.script = list(script)
        self.book: list[BrokerOrder] = []
        self.sends = 0
        self.looks = 0

    def place_order(self, order, deadline, *, priority=None):
        self.sends += 1
        step = self.script.pop(0)
        if step == "accept":
            self.book.append(
                BrokerOrder("OID1", order.symbol, order.qty, order.side, order.product_type, order.tag, "traded")
            )
            return PlacedOrder("OID1")
        if step == "accept-then-drop":
            self.book.append(
                BrokerOrder("OID1", order.symbol, order.qty, order.side, order.product_type, order.tag, "traded")
            )
            raise OrderOutcomeUnknown("connection dropped")
        raise step

    def find_order(self, order, since, deadline, *, priority=None):
        self.looks += 1
        return next((o for o in self.book if o.tag == order.tag), None)


def placer(broker):
    return OrderPlacer(
        broker, lambda: datetime(2026, 11, 18, tzinfo=timezone.utc), sleep=lambda s: None, jitter=lambda: 0.5
    )


@pytest.mark.parametrize(
    "failure",
    [BrokerUnavailable("refused"), RateLimited("429", retry_after=0.01)],
)
def test_failures_that_prove_nothing_left_are_retried(failure):
    broker = ScriptedBroker(failure, "accept")
    assert placer(broker).place(ORDER, Deadline(2.5)).order_id == "OID1"
    assert broker.sends == 2


def test_login_required_is_not_retried():
    broker = ScriptedBroker(LoginRequired("expired"), "accept")
    with pytest.raises(LoginRequired):
        placer(broker).place(ORDER, Deadline(2.5))
    assert broker.sends == 1


def test_rejection_is_not_retried():
    broker = ScriptedBroker(OrderRejected("margin"), "accept")
    with pytest.raises(OrderRejected):
        placer(broker).place(ORDER, Deadline(2.5))
    assert broker.sends == 1


def test_ambiguous_failure_is_found_in_the_book_not_resent():
    broker = ScriptedBroker("accept-then-drop", "accept")
    placed = placer(broker).place(ORDER, Deadline(2.5))
    assert placed.order_id == "OID1" and broker.sends == 1


def test_ambiguous_failure_with_empty_book_is_pending_not_resent():
    broker = ScriptedBroker(OrderOutcomeUnknown("timeout"), "accept")
    with pytest.raises(OrderOutcomeUnknown, match="not re-sent"):
        placer(broker).place(ORDER, Deadline(0.6))
    assert broker.sends == 1 and broker.looks >= 1


def test_rejected_in_the_book_is_a_rejection():
    broker = ScriptedBroker(OrderOutcomeUnknown("201"))
    broker.book.append(
        BrokerOrder("OID9", ORDER.symbol, 65, Side.BUY, "INTRADAY", "TVabc", "rejected", "RMS: no margin")
    )
    with pytest.raises(OrderRejected, match="no margin"):
        placer(broker).place(ORDER, Deadline(2.5))


def test_retries_stop_at_the_deadline():
    broker = ScriptedBroker(*[BrokerUnavailable("refused")] * 10)
    with pytest.raises(BrokerUnavailable):
        placer(broker).place(ORDER, Deadline(0.2))
    assert broker.sends == 1


def test_a_second_rate_limit_refusal_ends_the_sends():
    refusal = RateLimited("Request limit reached, refresh after few mins", retry_after=0.01)
    broker = ScriptedBroker(refusal, refusal, "accept")
    with pytest.raises(RateLimited):
        placer(broker).place(ORDER, Deadline(2.5))
    assert broker.sends == 2  # one re-send after the first refusal, none after the second


def test_one_rate_limit_refusal_among_refused_connections_still_allows_the_sends():
    broker = ScriptedBroker(
        BrokerUnavailable("refused"), RateLimited("429", retry_after=0.01), BrokerUnavailable("refused"), "accept"
    )
    assert placer(broker).place(ORDER, Deadline(2.5)).order_id == "OID1"
    assert broker.sends == 4


class SlicedBook(ScriptedBroker):
    """The book shows a sliced order whose slices Fyers answered in part."""

    def __init__(self, *statuses):
        super().__init__(OrderOutcomeUnknown("timed out"))
        self.slices = tuple(
            SliceResult(f"OID{n}", 65, status, "RED:Margin Shortfall" if status == "rejected" else "")
            for n, status in enumerate(statuses, 1)
        )

    def find_order(self, order, since, deadline, *, priority=None):
        self.looks += 1
        first = self.slices[0]
        return BrokerOrder(
            first.order_id, order.symbol, 65, order.side, order.product_type, order.tag, first.status,
            slices=self.slices,
        )


def test_a_sliced_order_found_after_a_lost_answer_keeps_every_slice():
    sliced = OrderRequest(ORDER.symbol, 195, Side.BUY, "INTRADAY", "TVabc", slice=True)
    placed = placer(SlicedBook("rejected", "traded", "traded")).place(sliced, Deadline(2.5))
    assert placed.order_id == "OID2" and placed.partly_rejected
    assert [s.status for s in placed.slices] == ["rejected", "traded", "traded"]
    assert "slice 1 rejected: RED:Margin Shortfall" in placed.message
    with pytest.raises(OrderRejected, match="every slice"):
        placer(SlicedBook("rejected", "rejected")).place(sliced, Deadline(2.5))
