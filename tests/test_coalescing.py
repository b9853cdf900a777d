"""CoalescingBroker: concurrent quote requests share calls; positions are single-flight."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from app.adapters.coalescing import CoalescingBroker
from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable
from app.domain.orders import Position, Priority
from tests.concurrency import together


class SlowBroker:
    """Answers quotes and positions after a delay, counting calls."""

    name = "slow"

    def __init__(self, delay=0.1, fail=False):
        self.delay = delay
        self.fail = fail
        self.quote_calls: list[list[str]] = []
        self.position_calls = 0
        self.quote_priorities: list[Priority] = []

    def quotes(self, symbols, deadline, *, priority=Priority.QUOTE):
        self.quote_calls.append(list(symbols))
        self.quote_priorities.append(priority)
        time.sleep(self.delay)
        if self.fail:
            raise BrokerUnavailable("down")
        return {s: Decimal(len(s)) for s in symbols}

    def positions(self, deadline, *, priority=Priority.LOOKUP):
        self.position_calls += 1
        time.sleep(self.delay)
        return [Position("X", 1, "INTRADAY")]

    def place_order(self, order, deadline, *, priority=None):
        return None


def test_a_lone_request_goes_out_at_once():
    inner = SlowBroker(delay=0)
    assert CoalescingBroker(inner).quotes(["A"], Deadline(1)) == {"A": Decimal(1)}
    assert inner.quote_calls == [["A"]]


def test_concurrent_requests_share_two_calls():
    inner = SlowBroker(delay=0.1)
    broker = CoalescingBroker(inner)
    results = together(20, lambda i: broker.quotes([f"SYM{i}"], Deadline(2)))
    assert [r[f"SYM{i}"] for i, r in enumerate(results)] == [Decimal(len(f"SYM{i}")) for i in range(20)]
    assert len(inner.quote_calls) <= 2
    assert sorted(s for call in inner.quote_calls for s in call) == sorted(f"SYM{i}" for i in range(20))


def test_a_batch_never_exceeds_fifty_symbols():
    inner = SlowBroker(delay=0.1)
    broker = CoalescingBroker(inner)
    together(80, lambda i: broker.quotes([f"S{i}"], Deadline(3)))
    assert all(len(call) <= 50 for call in inner.quote_calls)


def test_a_failure_reaches_every_waiter():
    inner = SlowBroker(delay=0.05, fail=True)
    broker = CoalescingBroker(inner)
    results = together(5, lambda i: broker.quotes([f"S{i}"], Deadline(2)))
    assert all(isinstance(r, BrokerUnavailable) for r in results)
    with pytest.raises(BrokerUnavailable):
        broker.quotes(["again"], Deadline(1))  # and the next request starts afresh


def test_positions_are_single_flight_and_dropped_after_an_order():
    inner = SlowBroker(delay=0.05)
    broker = CoalescingBroker(inner)
    together(10, lambda i: broker.positions(Deadline(2)))
    assert inner.position_calls == 1
    broker.place_order(None, Deadline(1))
    broker.positions(Deadline(1))
    assert inner.position_calls == 2


def test_nobody_waits_for_calls_made_for_others():
    """Each batch is led by one of its members: a caller waits for at most the call ahead and its own."""
    inner = SlowBroker(delay=0.2)
    broker = CoalescingBroker(inner)

    def one(i):
        time.sleep(0.05 * i)  # arrivals spread over 0.55 s: several batches follow each other
        began = time.monotonic()
        broker.quotes([f"S{i}"], Deadline(5))
        return time.monotonic() - began

    waits = together(12, one)
    assert len(inner.quote_calls) >= 3
    assert max(waits) < 0.2 * 2 + 0.15, waits  # the first caller used to lead every later batch too


def test_a_shared_call_runs_at_the_highest_priority_of_its_members():
    """An exit's quote that joins a batch led by an entry's lifts the whole call to EXIT."""
    inner = SlowBroker(delay=0.2)
    broker = CoalescingBroker(inner)

    def one(i):
        time.sleep(0.05 * i)  # 0: the call in flight; 1 leads the next batch; 2 (an exit) joins it
        priority = Priority.EXIT if i == 2 else Priority.QUOTE
        return broker.quotes([f"S{i}"], Deadline(5), priority=priority)

    together(3, one)
    assert inner.quote_calls == [["S0"], ["S1", "S2"]]
    assert inner.quote_priorities == [Priority.QUOTE, Priority.EXIT]
