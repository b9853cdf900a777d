"""The operator console in a real browser: Debian's Chromium driven by Playwright.

Runs against the service (served by a real HTTP server on 127.0.0.1) and the fake Fyers
server, at a phone's screen size; saves a screenshot of each page to docs/console/.
Skipped, with the reason, when Chromium or Playwright is not installed.
"""

from __future__ import annotations

import json
import pathlib
import time

import pytest
import requests

from app.adapters.coalescing import POSITIONS_FRESH_FOR
from tests.browser.served import CHROMIUM, phone_page, served_bridge
from tests.conftest import ADMIN, seed_alert

SHOTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "console"

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); browser tests skipped"
    ),
    pytest.mark.timeout(120),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The service on a real server, logged out, with the fake Fyers redirecting back to it."""
    from tests.clock import FixedClock
    from tests.conftest import MARKET_MORNING

    with served_bridge(tmp_path_factory.mktemp("console") / "var", clock=FixedClock(MARKET_MORNING)) as served:
        yield served.base, served.fake, served.bridge.services


@pytest.fixture(scope="module")
def page(stack):
    with phone_page() as page:
        yield page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def post_alert(base: str, **overrides) -> requests.Response:
    return requests.post(f"{base}/webhook", data=json.dumps(seed_alert(**overrides)), timeout=10)


def test_1_console_login_then_fyers_login_makes_the_token_active(stack, page):
    base, fake, _ = stack
    page.goto(f"{base}/console")
    assert page.url.endswith("/console/login")
    page.fill("#admin_token", "not-the-token")
    page.click("input[type=submit]")
    assert "not the admin token" in page.inner_text("#login-error")
    shot(page, "01-login.png")
    page.fill("#admin_token", ADMIN)
    page.click("input[type=submit]")
    assert "Not logged in" in page.inner_text("#token-status")
    shot(page, "02-logged-out-of-fyers.png")
    page.click("#fyers-login")  # -> Fyers (the fake) -> /auth/callback -> back to the console
    page.wait_for_url("**/console?logged_in=1")
    assert "Logged in until" in page.inner_text("#token-status")
    assert page.is_visible("#login-banner")
    shot(page, "03-logged-in.png")


def test_2_an_alert_shows_in_the_journal(stack, page):
    base, fake, _ = stack
    response = post_alert(base)
    assert response.status_code == 200, response.text
    page.goto(f"{base}/console")
    rows = page.locator(".alert-row")
    assert rows.count() == 1
    assert "placed" in rows.first.inner_text() and "NIFTY 23-Nov 26000 CE" in rows.first.inner_text()
    assert "NSE:NIFTY26NOV26000CE" in rows.first.text_content()  # the full ticker, a tap away
    assert page.inner_text("#broker-status") == "ready"
    shot(page, "04-journal.png")


def test_3_pause_refuses_the_next_alert_and_resume_allows_it(stack, page):
    base, fake, _ = stack
    page.goto(f"{base}/console")
    page.fill("input[name=reason]", "RBI policy")
    page.click("#pause")
    page.click("#confirm-pause")  # each action asks first (tests/browser/test_console_actions.py)
    assert "PAUSED: RBI policy" in page.inner_text("#paused-banner")
    refused = post_alert(base, idempotency_key="while-paused")
    assert refused.status_code == 422 and refused.json()["rule"] == "paused"
    page.reload()
    assert "risk_refused" in page.locator(".alert-row").first.inner_text()
    shot(page, "05-paused.png")
    page.click("#resume")
    page.click("#confirm-resume")
    assert not page.is_visible("#paused-banner")
    assert post_alert(base, idempotency_key="after-resume").status_code == 200
    assert len(fake.placed_orders()) == 2


def test_4_forms_without_the_csrf_token_are_refused(stack):
    base, _, _ = stack
    session = requests.Session()
    login = session.post(f"{base}/console/login", data={"admin_token": ADMIN}, allow_redirects=False, timeout=10)
    assert login.status_code == 303
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    # requests will not send a Secure cookie over http: pass it by hand, as a forged form would.
    jar = {"bridge_console": session.cookies.get("bridge_console") or cookie.split(";")[0].split("=", 1)[1]}
    forged = requests.post(
        f"{base}/console/pause", data={"reason": "x"}, cookies=jar, allow_redirects=False, timeout=10
    )
    assert forged.status_code == 403
    anonymous = requests.post(f"{base}/console/pause", data={}, allow_redirects=False, timeout=10)
    assert anonymous.status_code == 401


def test_5_positions_show_their_protection_and_a_stop_hit_after_check_now(stack, page):
    base, fake, _ = stack
    page.goto(f"{base}/console")
    assert page.locator(".position-row").count() == 1  # both entries are in one contract
    assert "legs: stop" in page.inner_text("#positions")
    stop = next(r for r in fake.child_legs if r["type"] == 3 and r["status"] == 6)
    fake.set_ltp(stop["symbol"], stop["stopPrice"] - 1)
    time.sleep(POSITIONS_FRESH_FOR)  # the page's own positions read is shared that long
    page.click("#sync")
    assert "stop_hit" in page.inner_text("#journal") and "STOP HIT" in page.inner_text("#journal")
    assert "-" in page.inner_text("#day-pl")  # a stop is a loss
    shot(page, "06-positions-and-stop-hit.png")
