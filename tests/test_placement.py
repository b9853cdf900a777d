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
from app.domain.orders import BrokerOrder, OrderRequest, PlacedOrder, Side
from app.services.placement import OrderPlacer

ORDER = OrderRequest("NSE:NIFTY26NOV26000CE", 65, Side.BUY, "INTRADAY", "TVabc")


class ScriptedBroker:
    """A broker that answers place_order from a script and keeps the orders it accepted."""

    def __init__(self, *script):
        self.script = list(script)
        self.book: list[BrokerOrder] = []
        self.sends = 0
        self.looks = 0

    def place_order(self, order, deadline):
        self.sends += 1
        step = self.script.pop(0)
        if step == "accept":
            self.book.append(BrokerOrder("OID1", order.symbol, order.qty, order.side, order.product_type, order.tag, "traded"))
            return PlacedOrder("OID1")
        if step == "accept-then-drop":
            self.book.append(BrokerOrder("OID1", order.symbol, order.qty, order.side, order.product_type, order.tag, "traded"))
            raise OrderOutcomeUnknown("connection dropped")
        raise step

    def find_order(self, order, since, deadline):
        self.looks += 1
        return next((o for o in self.book if o.tag == order.tag), None)


def placer(broker):
    return OrderPlacer(broker, lambda: datetime(2026, 11, 18, tzinfo=timezone.utc), sleep=lambda s: None, jitter=lambda: 0.5)


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
    broker.book.append(BrokerOrder("OID9", ORDER.symbol, 65, Side.BUY, "INTRADAY", "TVabc", "rejected", "RMS: no margin"))
    with pytest.raises(OrderRejected, match="no margin"):
        placer(broker).place(ORDER, Deadline(2.5))


def test_retries_stop_at_the_deadline():
    broker = ScriptedBroker(*[BrokerUnavailable("refused")] * 10)
    with pytest.raises(BrokerUnavailable):
        placer(broker).place(ORDER, Deadline(0.2))
    assert broker.sends == 1
