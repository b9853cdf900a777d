"""Each console action through its confirmation, in Debian's Chromium on a phone screen, against the fake Fyers.

One trader's morning, in order: pause and resume; close one position; close all (its confirmation
saved to docs/console/); look a pending order up; lift the day's loss lock; cancel a queued alert.
Each action's result line shows on the console, and the actions page lists every one in the audit log.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal

import pytest
import requests

from app.adapters.coalescing import POSITIONS_FRESH_FOR
from app.domain.contracts import IST
from tests.browser.served import CHROMIUM, phone_page, served_bridge
from tests.browser.test_console import shot
from tests.conftest import ADMIN, seed_alert

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; browser tests skipped"),
    pytest.mark.timeout(180),
]
EVENING = datetime(2026, 11, 18, 20, 0, tzinfo=IST)  # the market is closed: alerts are queued


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The service on a real server (queue policy, a Rs 1,000 loss line), with the fake Fyers."""
    from tests.clock import FixedClock
    from tests.conftest import MARKET_MORNING

    clock = FixedClock(MARKET_MORNING)
    var = tmp_path_factory.mktemp("actions") / "var"
    with served_bridge(
        var, clock=clock, market_hours_check=True, market_closed_policy="queue", max_daily_loss=Decimal(1000)
    ) as served:
        yield served.base, served.fake, clock


@pytest.fixture(scope="module")
def page(stack):
    base, _, _ = stack
    with phone_page() as page:
        page.goto(f"{base}/console")
        page.fill("#admin_token", ADMIN)
        page.click("input[type=submit]")
        page.click("#fyers-login")  # -> the fake Fyers -> /auth/callback -> back to the console
        page.wait_for_url("**/console?logged_in=1")
        yield page


def alert(base: str, key: str, strike: int) -> requests.Response:
    payload = seed_alert(idempotency_key=key, strikeprice=strike)
    return requests.post(f"{base}/webhook", data=json.dumps(payload), timeout=10)


def result(page) -> str:
    return page.inner_text(".action-result")


def fresh_console(page, base: str) -> None:
    time.sleep(POSITIONS_FRESH_FOR)  # the positions book is shared that long
    page.goto(f"{base}/console")


def test_1_pause_and_resume_ask_first(stack, page):
    base, _, _ = stack
    page.goto(f"{base}/console")
    page.fill("input[name=reason]", "RBI policy")
    page.click("#pause")
    assert "New entries are refused" in page.inner_text("#confirm") and not page.is_visible("#paused-banner")
    page.click("#confirm-pause")
    assert "PAUSED: RBI policy" in page.inner_text("#paused-banner")
    assert result(page) == "Trading paused: RBI policy."
    page.click("#resume")
    page.click("#confirm-resume")
    assert not page.is_visible("#paused-banner") and result(page) == "Trading resumed."


def test_2_close_one_position_then_close_all(stack, page):
    base, fake, _ = stack
    first, second = alert(base, "one", 26000), alert(base, "two", 26100)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    fresh_console(page, base)
    page.click(f'a.close-one[href*="{first.json()["symbol"].split(":")[1]}"]')  # the link's ":" is %3A
    assert f'{first.json()["symbol"]}-INTRADAY' in page.inner_text("#confirm-facts")
    assert fake.count("positions", "DELETE") == 0  # asking sends nothing
    page.click("#confirm-close-position")
    assert result(page).startswith(f'Close {first.json()["symbol"]}-INTRADAY')
    assert fake.count("positions", "DELETE") == 1

    fresh_console(page, base)
    page.click("#close-all")
    assert page.locator(".close-position").count() == 1
    shot(page, "close-all-confirmation.png")
    page.click("#confirm-close-all")
    assert result(page).startswith("Close-all: 1 exit(s)")
    assert [p for p in fake.positions if p["netQty"]] == []


def test_3_retry_a_pending_look_up(stack, page):
    base, fake, _ = stack
    fake.add_fault("orders/sync", "drop_after_accept", hidden_reads=1000)
    pending = alert(base, "lost-answer", 26200)
    assert pending.status_code == 202, pending.text
    page.goto(f"{base}/console")
    page.click(".retry-pending")
    assert "Nothing is sent" in page.inner_text("#confirm")
    fake.settle()
    page.click("#confirm-retry-pending")
    assert result(page) == f'Alert {pending.json()["alert_id"]}: placed'
    assert fake.count("orders/sync", "POST") == 3  # the two entries of test 2, and this one: never sent again


def test_4_lift_the_day_lock(stack, page):
    base, fake, _ = stack
    entry = alert(base, "losing", 26300)
    assert entry.status_code == 200, entry.text
    fake.set_ltp(entry.json()["symbol"], entry.json()["ltp"] - 20)  # Rs 1,300 down: past the line
    assert alert(base, "refused", 26400).status_code == 422
    page.goto(f"{base}/console")
    page.click("#lift-lock")
    assert "MAX_DAILY_LOSS" in page.inner_text("#confirm-facts")
    page.click("#confirm-lift-lock")
    assert result(page) == "Day lock (MAX_DAILY_LOSS) lifted." and not page.is_visible("#paused-banner")


def test_5_cancel_a_queued_alert_and_read_the_audit_log(stack, page):
    base, _, clock = stack
    morning = clock.instant
    clock.instant = EVENING
    queued = alert(base, "evening", 26000)
    clock.instant = morning
    assert queued.status_code == 202 and queued.json()["status"] == "queued", queued.text
    page.goto(f"{base}/console")
    page.click(".cancel-queued")
    assert "no order is placed" in page.inner_text("#confirm")
    page.click("#confirm-cancel-queued")
    assert result(page) == f'Queued alert {queued.json()["queue_id"]} cancelled.'

    page.click("#actions-link")
    actions = page.locator(".audit-action").all_inner_texts()
    assert actions == ["cancel_queued", "lift_day_lock", "retry_pending", "close_all", "close_position",
                       "resume", "pause"]
    assert all(t.endswith("IST") for t in page.locator(".audit-at").all_inner_texts())
    shot(page, "actions-and-audit.png")
