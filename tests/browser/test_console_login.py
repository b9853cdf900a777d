"""The daily login in one tap, in a real browser: Debian's Chromium driven by Playwright.

The morning notification's link, opened on a phone that has no console session yet: Fyers's
login (the fake), back to the console, which asks for the console login once ("remember this
phone") and goes on to the console logged in. Then a spent link's failure page and its retry,
and the phone under Trusted devices. Screenshots go to docs/console/.
"""

from __future__ import annotations

import pytest
import requests

from tests.browser.served import CHROMIUM, phone_page, served_bridge
from tests.browser.test_console import shot
from tests.conftest import ADMIN, admin_headers
from tests.test_login_binding import Phone

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); browser tests skipped"
    ),
    pytest.mark.timeout(120),
]


ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The service on a real server, not logged in anywhere, its notifications kept by a phone."""
    from tests.clock import FixedClock
    from tests.conftest import MARKET_MORNING

    phone = Phone()
    var = tmp_path_factory.mktemp("login") / "var"
    with served_bridge(var, clock=FixedClock(MARKET_MORNING), channels=[phone]) as served:
        yield served.base, served.fake, phone


@pytest.fixture(scope="module")
def page(stack):
    with phone_page(user_agent=ANDROID_CHROME) as page:
        yield page


def morning_link(base: str, fake, phone) -> str:
    """The 08:45 job cannot refresh: the login link the phone is sent."""
    fake.refresh_enabled = False
    answer = requests.post(f"{base}/refresh-token", headers=admin_headers(), timeout=10)
    assert answer.json()["status"] == "login_required"
    return [n for n in phone.received if n.kind == "login_required"][-1].link


def test_1_the_notification_link_logs_in_to_fyers_and_lands_on_the_console(stack, page):
    base, fake, phone = stack
    link = morning_link(base, fake, phone)

    page.goto(link)  # one tap: -> Fyers (the fake) -> /auth/callback -> /console, which asks for its login

    page.wait_for_url("**/console/login?next=*")
    assert "Logged in to Fyers" in page.inner_text("#fyers-done")
    page.fill("#admin_token", ADMIN)
    page.check("#remember")
    page.click("input[type=submit]")
    page.wait_for_url("**/console?logged_in=1")
    assert page.is_visible("#login-banner")
    assert "Logged in until" in page.inner_text("#token-status")
    shot(page, "login-from-a-notification-link.png")


def test_2_a_spent_link_offers_a_new_login_that_works(stack, page):
    base, fake, phone = stack
    link = [n for n in phone.received if n.kind == "login_required"][-1].link

    page.goto(link)  # already used by test 1

    assert "already used" in page.inner_text("#failure-reason")
    assert page.get_attribute("#back-to-console", "href") == "/console"
    shot(page, "login-failed-with-retry.png")
    page.click("#retry-login")  # this phone is remembered: a new Fyers login, straight back
    page.wait_for_url("**/console?logged_in=1")
    assert page.is_visible("#login-banner")


def test_3_the_phone_is_a_trusted_device_until_revoked(stack, page):
    base, _, _ = stack
    page.goto(f"{base}/console")
    page.click("#devices-link")
    page.wait_for_url("**/console/devices")
    row = page.locator(".device-row")
    assert row.count() == 1 and "Chrome on Android" in row.inner_text() and "this device" in row.inner_text()
    shot(page, "trusted-devices.png")
    page.click(".device-row summary")  # the confirmation step
    page.click(".device-row button.revoke")
    page.wait_for_url("**/console/login")
    page.goto(f"{base}/console")
    assert page.url.endswith("/console/login")  # the remembered session is gone
