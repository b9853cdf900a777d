"""The console's home, alert list and alert detail in a real browser, on a phone and on a desktop.

Debian's Chromium driven by Playwright, against the service on a real HTTP server and the fake
Fyers, as tests/browser/test_console.py does. The clock stands in UTC, as Cloud Run's does, so
an IST time on the page is a conversion, not an accident. Screenshots go to docs/console/.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta, timezone

import pytest
import requests

from app.deadline import Deadline
from tests.browser.served import CHROMIUM, PHONE, chromium, served_bridge
from tests.browser.test_console import shot
from tests.conftest import ADMIN, SECRET, seed_alert

DESKTOP = {"width": 1280, "height": 800}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Every <td> whose text does not fit its box (scrollWidth past clientWidth): a cut-off contract. And every
# table wider than its frame: a cell pushed out of sight behind a sideways scroll is cut off on a phone too.
OVERFLOWING_CELLS = """() => Array.from(document.querySelectorAll("td, .table-wrap"))
  .filter(box => box.scrollWidth > box.clientWidth + 1)
  .map(box => box.tagName + ": " + box.innerText.slice(0, 60))"""

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); browser tests skipped"
    ),
    pytest.mark.timeout(180),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The service on a real server (its clock in UTC), the fake Fyers, and the day's alerts sent."""
    from tests.clock import FixedClock
    from tests.conftest import MARKET_MORNING

    clock = FixedClock(MARKET_MORNING.astimezone(timezone.utc))
    with served_bridge(tmp_path_factory.mktemp("home") / "var", clock=clock) as served:
        yield served.base, served.fake, served.bridge.services, clock


@pytest.fixture(scope="module")
def browser(stack):
    with chromium() as browser:
        yield browser


def open_console(browser, base: str, viewport: dict):
    """A new browser logged in to the console at this screen size."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/console")
    page.fill("#admin_token", ADMIN)
    page.click("input[type=submit]")
    page.wait_for_selector("#session")
    return context, page


@pytest.fixture(scope="module")
def day(stack, browser):
    """Fyers logged in from the console; a placed alert (one 429 on the way), a refused one, a queued one, a fill."""
    base, fake, services, _ = stack
    context, page = open_console(browser, base, PHONE)
    page.click("#fyers-login")  # -> the fake Fyers -> /auth/callback -> back to the console
    page.wait_for_url("**/console?logged_in=1")
    fake.add_fault("orders/sync", "rate_limit", retry_after=0.2)
    placed = post_alert(base, strategy="orb")
    assert placed.status_code == 200, placed.text
    refused = post_alert(base, qty=7, idempotency_key="seven", strategy="scalp")
    assert refused.status_code == 400, refused.text
    payload = {k: v for k, v in seed_alert(idempotency_key="tomorrow").items() if k != "token"}
    queued = services.queue.add(payload, "tomorrow", "queued0001", "market closed: NSE F&O opens 09:15")
    services.desk.sync(Deadline(10.0))  # the fake fills the entry: its FILLED event is journaled
    context.close()
    return {"placed": placed.json(), "refused": refused.json(), "queued": queued}


@pytest.fixture(params=["phone", "desktop"])
def page(request, stack, browser, day):
    """The console, logged in, on a phone (390x844) and on a desktop (1280x800)."""
    viewport = PHONE if request.param == "phone" else DESKTOP
    context, page = open_console(browser, stack[0], viewport)
    try:
        yield page
    finally:
        context.close()


def on_phone(page) -> bool:
    return page.viewport_size == PHONE


def post_alert(base: str, **overrides) -> requests.Response:
    return requests.post(f"{base}/webhook", data=json.dumps(seed_alert(**overrides)), timeout=10)


def readable(answer: dict) -> str:
    """The contract as the console should print it: NIFTY 23-Nov 26000 CE."""
    expiry = date.fromisoformat(answer["expiry"])
    return f"NIFTY {expiry:%d-%b} {int(answer['strike'])} {answer['option_type']}"


def test_home_shows_session_market_money_positions_waiting_429s_and_notifications(stack, browser, day, page):
    base, _, services, clock = stack
    expires_at = services.login.tokens.status().expires_at
    saved = clock.instant
    # The fake's token runs on the wall clock, days past the test's morning: look at it 5 h 12 min before
    # it ends, from a console session opened then (a 12-hour session would not reach that far).
    clock.instant = expires_at - timedelta(hours=5, minutes=12, seconds=30)
    try:
        later, later_page = open_console(browser, base, page.viewport_size)
        assert later_page.inner_text("#token-countdown") == "(expires in 5 h 12 min)"
        later.close()
    finally:
        clock.instant = saved
    page.goto(f"{base}/console")
    market = page.locator("#market-status")
    assert market.inner_text() == "not checked"
    assert market.evaluate("e => getComputedStyle(e).color") == "rgb(102, 102, 102)"  # grey, never green "open"
    assert page.inner_text("#lock-state") == "open for entries"
    assert re.search(r"Day P&L: -?\d+\.\d\d", page.inner_text("#positions"))
    assert "realized" in page.inner_text("#positions") and "unrealized" in page.inner_text("#positions")
    row = page.locator(".position-row").first
    assert readable(day["placed"]) in row.inner_text()
    assert "legs: stop 80.5, target 180.6" in row.inner_text()
    queued = page.locator(".queued-row").first
    assert "queued: market closed" in queued.inner_text() and "BUY 65 NIFTY 26000 CE" in queued.inner_text()
    assert page.inner_text("#rate-limited") == "1"
    notes = page.inner_text("#notifications")
    assert "10:00:00 IST" in notes and "04:30" not in notes  # the clock says 04:30 UTC: shown as IST
    if on_phone(page):
        shot(page, "07-home-positions-and-pl.png")


def test_the_list_shows_the_readable_contract_and_the_refusal_reason(stack, day, page):
    page.goto(f"{stack[0]}/console")
    rows = page.locator(".alert-row")
    refused = rows.filter(has_text="invalid")
    assert "invalid (400): qty must be a whole number of lots of 65 contracts, got 7" in refused.inner_text()
    placed = rows.filter(has_text="orb").filter(has_text="placed")
    contract = placed.locator("details.contract").first
    assert f"BUY 65 {readable(day['placed'])}" in contract.inner_text()
    assert not contract.locator(".ticker").is_visible()  # the full ticker is a tap away
    contract.locator("summary").click()
    assert contract.locator(".ticker").inner_text() == day["placed"]["symbol"]


def test_filters_by_strategy_and_outcome(stack, day, page):
    page.goto(f"{stack[0]}/console")
    page.select_option("#filter-strategy", "orb")
    page.click("#apply-filters")
    page.wait_for_url("**strategy=orb**")
    texts = page.locator(".alert-row").all_inner_texts()
    assert texts and all("orb" in t for t in texts) and not any("invalid" in t for t in texts)
    page.select_option("#filter-strategy", "")
    page.select_option("#filter-outcome", "refused")
    page.click("#apply-filters")
    page.wait_for_url("**outcome=refused**")
    assert page.locator(".alert-row").count() == 1
    assert "qty must be" in page.inner_text(".alert-row")


def test_the_detail_shows_the_alert_without_its_secret_decisions_answers_and_the_fill(stack, day, page):
    page.goto(f"{stack[0]}/console")
    page.locator(".alert-row").filter(has_text="orb").filter(has_text="placed").locator("a.alert-link").click()
    page.wait_for_url(f"**/console/alerts/{day['placed']['alert_id']}?date=**")
    assert SECRET not in page.content() and "token" not in page.inner_text("#received")
    assert "idempotency_key" in page.inner_text("#received") and "orb" in page.inner_text("#received")
    assert f"BUY 65 {readable(day['placed'])}" in page.inner_text("#decisions")
    assert day["placed"]["order_id"] in page.inner_text("#broker-answers")
    events = page.inner_text("#trade-events")
    assert "filled" in events and "FILLED" in events
    if on_phone(page):
        shot(page, "08-alert-detail.png")
    page.goto(f"{stack[0]}/console/alerts/{day['refused']['alert_id']}")
    assert "qty must be a whole number of lots" in page.inner_text("#reason")
    page.goto(f"{stack[0]}/console")
    page.locator(".queued-row a[href^='/console/alerts/']").first.click()  # a queued alert: no journal record yet
    assert "market closed: NSE F&O opens 09:15" in page.inner_text("#queued-note")


def test_the_home_refreshes_itself_but_not_while_a_form_is_being_filled(stack, day, page):
    base = stack[0]
    page.goto(f"{base}/console")
    before = page.locator(".alert-row").count()
    page.wait_for_function("typeof window.consoleRefresh === 'function'")
    assert post_alert(base, qty=3, idempotency_key=f"refresh-{page.viewport_size['width']}").status_code == 400
    page.fill("input[name=reason]", "half-typed")  # the pause form, being filled
    assert page.evaluate("consoleRefresh()") is False
    assert page.locator(".alert-row").count() == before and page.input_value("input[name=reason]") == "half-typed"
    page.goto(f"{base}/console")  # a fresh page: nothing typed
    page.wait_for_function("typeof window.consoleRefresh === 'function'")
    assert post_alert(base, qty=4, idempotency_key=f"refresh2-{page.viewport_size['width']}").status_code == 400
    rendered = page.get_attribute("main", "data-rendered")
    assert page.evaluate("consoleRefresh()") is True
    assert page.locator(".alert-row").count() == before + 2
    assert page.get_attribute("main", "data-refresh") == "20"  # the timer's period, in seconds
    assert rendered and page.locator("main").count() == 1


def test_no_table_cell_is_cut_off(stack, day, page):
    base = stack[0]
    for path in ("/console", f"/console/alerts/{day['placed']['alert_id']}"):
        page.goto(f"{base}{path}")
        for summary in page.locator("td details summary").all():  # open every full ticker too
            summary.click()
        assert page.locator("td").count() > 0
        assert page.evaluate(OVERFLOWING_CELLS) == [], path
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= page.viewport_size["width"], f"{path} scrolls sideways: {wide}px"
