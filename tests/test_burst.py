"""A burst of 20 simultaneous alerts at 150 ms broker latency: few broker calls, no 429.

The bounded twin of benchmark (b): it asserts call counts, never times.
"""

from __future__ import annotations

import pytest

from tests.concurrency import together
from tests.conftest import answered, browser_login, seed_alert

STRIKES = [25500 + 50 * i for i in range(10)]


@pytest.mark.timeout(60)
def test_twenty_simultaneous_alerts_cost_about_n_plus_two_calls_and_no_429(fyers_bridge, fake_fyers):
    services, app = fyers_bridge.services, fyers_bridge.app  # the real pacer: 10/s, 200/min
    try:
        assert browser_login(app.test_client(), fake_fyers).status_code == 200
        fake_fyers.latency = 0.15
        calls_before = len(fake_fyers.calls)

        def send(i):
            alert = seed_alert(
                strikeprice=STRIKES[i % 10],
                optionType="CE" if i < 10 else "PE",
                idempotency_key=f"burst-{i}",
            )
            return answered(app.test_client().post("/webhook", json=alert)).status_code

        answers = together(20, send)
        calls = fake_fyers.calls[calls_before:]
        # Counts, not times: the last of 20 orders leave about 2 s in (Fyers's 10/s), at the
        # edge of the alert's budget, so on a loaded machine one may be answered 202 (pending)
        # or 503 (not sent) instead of 200. docs/benchmarks.md has the times.
        assert len(answers) == 20 and set(answers) <= {200, 202, 503}
        orders_sent = sum(1 for c in calls if c["path"] == "orders/sync")
        assert orders_sent == sum(1 for a in answers if a in (200, 202)) >= 18
        assert len(fake_fyers.placed_orders()) <= 20
        assert len(calls) <= 24, [c["path"] for c in calls]
        assert not [c for c in calls if c["status"] == 429]
    finally:
        services.broker.close()
