"""The one retry policy: the error's own facts decide, the deadline bounds, the jitter is pinned."""

from __future__ import annotations

import pytest

from app.deadline import Deadline
from app.domain.errors import (
    BrokerUnavailable,
    InvalidAlert,
    LoginRequired,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
)
from app.retry import RetryPolicy, call_with_retries, should_retry, sleep_time_seconds

POLICY = RetryPolicy(attempts=4, first_delay=0.1, reserve=0.3, rate_limited_attempts=2)


@pytest.mark.parametrize(
    "error, retried",
    [
        (BrokerUnavailable("refused"), True),
        (RateLimited("429"), True),
        (LoginRequired("expired"), False),
        (OrderOutcomeUnknown("timeout"), False),
        (OrderRejected("margin"), False),
        (InvalidAlert("qty", "bad"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_an_error_that_proves_nothing_left_and_may_pass_is_retried(error, retried):
    assert should_retry(error, 1, 0, POLICY, Deadline(2.5)) is retried


def test_attempts_rate_limit_refusals_and_the_deadline_end_the_retries():
    unavailable = BrokerUnavailable("refused")
    assert not should_retry(unavailable, 4, 0, POLICY, Deadline(2.5))
    assert not should_retry(RateLimited("429"), 2, 2, POLICY, Deadline(2.5))
    assert not should_retry(unavailable, 1, 0, POLICY, Deadline(0.2))


def test_the_backoff_doubles_with_the_jitter_pinned_and_retry_after_wins():
    deadline = Deadline(10.0)
    # A jitter of 0.5 scales the backoff by exactly 1 (0.5 + 0.5).
    delays = [sleep_time_seconds(BrokerUnavailable("x"), n, POLICY, deadline, lambda: 0.5) for n in (1, 2, 3)]
    assert delays == pytest.approx([0.1, 0.2, 0.4])
    assert sleep_time_seconds(RateLimited("429", retry_after=2.0), 1, POLICY, deadline, lambda: 0.5) == 2.0


def test_no_wait_runs_past_the_reserve_of_the_deadline():
    deadline = Deadline(0.5)
    assert sleep_time_seconds(RateLimited("429", retry_after=5.0), 1, POLICY, deadline) <= 0.2


def test_the_last_error_is_raised_as_it_came_after_the_last_attempt():
    calls, slept = [], []

    def refused():
        calls.append(1)
        raise BrokerUnavailable("refused")

    with pytest.raises(BrokerUnavailable, match="refused"):
        call_with_retries(refused, POLICY, Deadline(5.0), slept.append, lambda: 0.5)
    assert len(calls) == POLICY.attempts
    assert slept == pytest.approx([0.1, 0.2, 0.4])
