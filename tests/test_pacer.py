"""The pacer keeps every one-second window at 10 requests and every minute at 200."""

import pytest

from app.adapters.pacer import Pacer
from app.deadline import Deadline
from app.domain.errors import RateLimited


class ManualTime:
    """A clock that moves only when something sleeps."""

    def __init__(self):
        self.now = 1000.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def paced(per_second=10, per_minute=200):
    time = ManualTime()
    return Pacer(per_second, per_minute, clock=time.clock, sleep=time.sleep), time


def max_in_window(times, span):
    return max(sum(1 for u in times if t <= u < t + span) for t in times)


def test_bursts_are_spread_to_ten_a_second():
    pacer, time = paced()
    sent = []
    for _ in range(35):
        pacer.acquire(Deadline(1e9, clock=time.clock))
        sent.append(time.now)
    assert max_in_window(sent, 1.0) == 10
    assert sent[-1] - sent[0] >= 3.0


def test_two_hundred_a_minute():
    pacer, time = paced(per_second=1000, per_minute=200)
    sent = []
    for _ in range(450):
        pacer.acquire(Deadline(1e9, clock=time.clock))
        sent.append(time.now)
    assert max_in_window(sent, 60.0) == 200


def test_no_slot_before_the_deadline_is_refused_without_waiting():
    pacer, time = paced(per_second=2)
    pacer.acquire(Deadline(5, clock=time.clock))
    pacer.acquire(Deadline(5, clock=time.clock))
    with pytest.raises(RateLimited):
        pacer.acquire(Deadline(0.5, clock=time.clock))
    assert time.now == 1000.0


def test_retry_after_holds_everything():
    pacer, time = paced()
    pacer.hold(2.0)
    pacer.acquire(Deadline(10, clock=time.clock))
    assert time.now == pytest.approx(1002.0)
