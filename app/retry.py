"""Calling the broker again after a failure that proves nothing reached it, inside the deadline.

As in stripe-python's `_http_client.py`, the decision (`should_retry`) is apart from the delay
(`sleep_time_seconds`): the error's own facts say whether another call is safe, the policy and
the deadline whether there is room for one; the delay is exponential, capped and jittered (the
jitter is injected so tests can pin it), and the broker's Retry-After wins over it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying

from app.deadline import Deadline
from app.domain.errors import BridgeError, RateLimited

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How many calls, how far apart, and how much of the deadline stays for what follows."""

    attempts: int  # calls in all, the first one included
    first_delay: float  # seconds of backoff after the first failure, doubled after each
    reserve: float  # seconds of the deadline that no retry and no wait may use
    rate_limited_attempts: int | None = None  # rate-limit refusals that end the calls
    max_delay: float = 1.0  # seconds: the cap on our own backoff (a Retry-After is the broker's)


def should_retry(
    error: BaseException, attempt: int, refusals: int, policy: RetryPolicy, deadline: Deadline
) -> bool:
    """Whether to call again after `attempt` failed calls, the last with `error`."""
    if not (isinstance(error, BridgeError) and error.order_never_left and error.should_retry):
        return False
    if attempt >= policy.attempts or deadline.remaining() < policy.reserve:
        return False
    return policy.rate_limited_attempts is None or refusals < policy.rate_limited_attempts


def sleep_time_seconds(
    error: BaseException | None,
    attempt: int,
    policy: RetryPolicy,
    deadline: Deadline,
    jitter: Callable[[], float] = random.random,
) -> float:
    """The wait before the next call: Retry-After, else jittered backoff; never past the reserve."""
    # The broker may ask us to wait; we defer to that over our own backoff.
    asked = getattr(error, "retry_after", None)
    backoff = min(policy.first_delay * 2 ** (attempt - 1), policy.max_delay) * (0.5 + jitter())
    return max(0.0, min(asked or backoff, deadline.remaining() - policy.reserve))


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    deadline: Deadline,
    sleep: Callable[[float], None],
    jitter: Callable[[], float] = random.random,
) -> T:
    """`call()`, called again while `should_retry` allows; the last error is raised as it came."""
    refusals = 0

    def decide(state: RetryCallState) -> bool:
        nonlocal refusals
        error = state.outcome.exception() if state.outcome else None
        if error is None:
            return False
        refusals += isinstance(error, RateLimited)
        return should_retry(error, state.attempt_number, refusals, policy, deadline)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return sleep_time_seconds(error, state.attempt_number, policy, deadline, jitter)

    for attempt in Retrying(retry=decide, wait=wait, sleep=sleep, reraise=True):
        with attempt:
            return call()
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover
