"""The daily login in one tap (issue 21, item 4), through the test client.

"Remember this phone" gives that device a session of CONSOLE_REMEMBER_DAYS, listed under Trusted
devices and revocable there at once; the morning notification's link goes through Fyers's login
and lands on the console (asking for the console login first when the browser has none); every
failed login offers a fresh start; and at 09:10 IST on a trading day with no login yet, a second,
louder reminder. Each browser is its own test client (its own cookie jar).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from app.domain.contracts import IST
from app.services.login_state import BROWSER_COOKIE, browser_key
from tests.clock import FixedClock
from tests.conftest import ADMIN, admin_headers, at_fyers, browser_login, path_of
from tests.test_login_binding import Phone

HTTPS = "https://bridge.test"  # the console's cookie is Secure; the callback's host
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)
LAPTOP_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def bridge(make_bridge, fyers_settings, phone):
    return make_bridge(settings=fyers_settings, channels=[phone])


def console_login(client, remember: bool = False, user_agent: str = PHONE_UA, **extra):
    """The console login form, sent."""
    form = {"admin_token": ADMIN, **({"remember": "1"} if remember else {}), **extra}
    return client.post("/console/login", data=form, base_url=HTTPS, headers={"User-Agent": user_agent})


def on_console(client) -> bool:
    """Whether the browser's console session is live (the page, not a redirect to the login)."""
    return client.get("/console", base_url=HTTPS).status_code == 200


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# -- Remember this phone -------------------------------------------------------------------


def test_a_remembered_phone_stays_logged_in_past_12_hours_and_an_ordinary_session_does_not(bridge, clock):
    phone, laptop = bridge.client, bridge.app.test_client()
    remembered = console_login(phone, remember=True)
    ordinary = console_login(laptop, user_agent=LAPTOP_UA)
    assert remembered.status_code == ordinary.status_code == 303
    # The browser keeps each cookie as long as its server-side session lasts.
    assert _cookie_days(remembered) == pytest.approx(30, abs=0.01)
    assert _cookie_days(ordinary) == pytest.approx(0.5, abs=0.01)

    clock.instant += timedelta(hours=12, minutes=1)

    assert on_console(phone) and not on_console(laptop)
    clock.instant += timedelta(days=30)
    assert not on_console(phone)  # remembered, but not for ever


def test_remember_days_is_a_setting(make_bridge, fyers_settings, clock):
    client = make_bridge(settings=fyers_settings, console_remember_days=7).client
    assert "Remember this phone for 7 days" in client.get("/console/login", base_url=HTTPS).get_data(as_text=True)
    console_login(client, remember=True)
    clock.instant += timedelta(days=6, hours=23)
    assert on_console(client)
    clock.instant += timedelta(hours=2)
    assert not on_console(client)


def test_a_revoked_phone_is_refused_at_once_on_every_instance(bridge, make_bridge, fyers_settings, clock):
    phone, laptop = bridge.client, bridge.app.test_client()
    console_login(phone, remember=True)
    console_login(laptop, remember=True, user_agent=LAPTOP_UA)
    page = laptop.get("/console/devices", base_url=HTTPS).get_data(as_text=True)
    assert "Chrome on Android" in page and "Firefox on Linux" in page and "(this device)" in page
    phone_id = re.search(r'name="device_id" value="([0-9a-f]{64})">\s*<p>Revoke Chrome on Android', page).group(1)
    forged = laptop.post("/console/devices/revoke", data={"device_id": phone_id, "csrf_token": "x"}, base_url=HTTPS)
    assert forged.status_code == 403 and on_console(phone)

    revoked = laptop.post("/console/devices/revoke", data={"device_id": phone_id, "csrf_token": csrf_of(page)},
                          base_url=HTTPS)

    assert revoked.status_code == 303 and revoked.headers["Location"].endswith("/console/devices?revoked=1")
    assert not on_console(phone)
    # Another instance over the same state refuses the phone's cookie too.
    other = make_bridge(settings=fyers_settings, store=bridge.services.store).app.test_client()
    other.set_cookie("bridge_console", phone.get_cookie("bridge_console", domain="bridge.test").value,
                     domain="bridge.test")
    assert not on_console(other)
    assert on_console(laptop)
    listed = laptop.get("/console/devices", base_url=HTTPS).get_data(as_text=True)
    assert "Chrome on Android" not in listed and "Firefox on Linux" in listed
    [entry] = [e for e in bridge.services.store.list("audit/")]
    assert bridge.services.store.get(entry).data["action"] == "revoke_device"


def test_revoking_this_phone_logs_it_out(bridge):
    client = bridge.client
    console_login(client, remember=True)
    page = client.get("/console/devices", base_url=HTTPS).get_data(as_text=True)
    device = re.search(r'name="device_id" value="([0-9a-f]{64})"', page).group(1)
    answer = client.post("/console/devices/revoke", data={"device_id": device, "csrf_token": csrf_of(page)},
                         base_url=HTTPS)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console/login")
    assert not on_console(client)


def test_an_ordinary_session_is_not_a_trusted_device(bridge):
    console_login(bridge.client)
    page = bridge.client.get("/console/devices", base_url=HTTPS).get_data(as_text=True)
    assert "No remembered device" in page


def _cookie_days(response) -> float:
    expires = re.search(r"Expires=([^;]+)", response.headers["Set-Cookie"]).group(1)
    when = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds() / 86400


# -- Log in to Fyers from the console, and from the notification's link ----------------------


def test_log_in_to_fyers_needs_only_the_console_session(bridge, fake_fyers):
    client = bridge.client
    console_login(client)
    page = client.get("/console", base_url=HTTPS).get_data(as_text=True)
    started = client.post("/console/fyers-login", data={"csrf_token": csrf_of(page)}, base_url=HTTPS)
    assert started.status_code == 303  # no Authorization header anywhere
    callback = at_fyers(client.get(path_of(started.headers["Location"]), base_url=HTTPS))
    back = client.get(callback, base_url=HTTPS)
    assert back.status_code == 303 and back.headers["Location"].endswith("/console?logged_in=1")
    assert "Logged in until" in client.get("/console?logged_in=1", base_url=HTTPS).get_data(as_text=True)


def morning_link(bridge, fake_fyers, phone) -> str:
    """The 08:45 refresh job finds no way to refresh: the notification's login link."""
    fake_fyers.refresh_enabled = False
    assert bridge.client.post("/refresh-token", headers=admin_headers()).json["status"] == "login_required"
    [sent] = [n for n in phone.received if n.kind == "login_required"]
    return sent.link


def test_the_notification_link_lands_on_the_console_logged_in(bridge, fake_fyers, phone):
    browser = bridge.app.test_client()  # the phone's browser, with its console session
    console_login(browser, remember=True)
    link = morning_link(bridge, fake_fyers, phone)

    started = browser.get(path_of(link), base_url=HTTPS)  # one tap: straight to Fyers's login
    back = browser.get(at_fyers(started), base_url=HTTPS)

    assert back.status_code == 303 and back.headers["Location"].endswith("/console?logged_in=1")
    page = browser.get("/console?logged_in=1", base_url=HTTPS).get_data(as_text=True)
    assert 'id="login-banner"' in page and "Logged in until" in page


def test_without_a_console_session_the_link_asks_for_the_console_login_and_then_goes_on(bridge, fake_fyers, phone):
    browser = bridge.app.test_client()
    link = morning_link(bridge, fake_fyers, phone)
    back = browser.get(at_fyers(browser.get(path_of(link), base_url=HTTPS)), base_url=HTTPS)
    assert back.headers["Location"].endswith("/console?logged_in=1")  # Fyers's session is already stored

    asked = browser.get("/console?logged_in=1", base_url=HTTPS)

    assert asked.status_code == 303 and "/console/login?next=" in asked.headers["Location"]
    form = browser.get(path_of(asked.headers["Location"]), base_url=HTTPS).get_data(as_text=True)
    assert 'id="fyers-done"' in form and 'name="next" value="/console?logged_in=1"' in form
    logged = console_login(browser, next="/console?logged_in=1")
    assert logged.status_code == 303 and logged.headers["Location"] == "/console?logged_in=1"
    assert "Logged in until" in browser.get("/console?logged_in=1", base_url=HTTPS).get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/console", "/consolex", "/console/../x"])
def test_the_login_goes_on_only_to_a_console_page(bridge, target):
    assert console_login(bridge.client, next=target).headers["Location"] == "/console"


def test_an_auth_url_link_still_ends_on_its_own_page(bridge, fake_fyers):
    assert browser_login(bridge.client, fake_fyers).status_code == 200


# -- Failure pages offer a retry -------------------------------------------------------------


def _used_link(bridge, browser) -> str:
    link = path_of(bridge.services.login.login_url())
    browser.get(link, base_url=HTTPS)
    return link


FAILURES = {
    "malformed": lambda bridge, browser: browser.get("/auth/start?t=x", base_url=HTTPS),
    "used": lambda bridge, browser: browser.get(_used_link(bridge, browser), base_url=HTTPS),
    "state mismatch": lambda bridge, browser: _from_another_browser(bridge, browser),
}


def _from_another_browser(bridge, browser):
    callback = at_fyers(bridge.client.get(path_of(bridge.services.login.login_url()), base_url=HTTPS))
    browser.set_cookie(BROWSER_COOKIE, browser_key(None), domain="bridge.test")
    return browser.get(callback, base_url=HTTPS)


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failure_page_offers_a_fresh_start_and_the_way_back(bridge, failure):
    stranger = bridge.app.test_client()
    page = FAILURES[failure](bridge, stranger)
    assert page.status_code in (400, 403) and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Login failed" in text and 'href="/console/login?next=/console"' in text and 'href="/console"' in text


def test_with_a_console_session_the_retry_is_a_new_fyers_login(bridge, clock):
    browser = bridge.app.test_client()
    console_login(browser)
    link = path_of(bridge.services.login.login_url())
    clock.instant += timedelta(minutes=16)

    page = browser.get(link, base_url=HTTPS)

    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "expired" in text and 'action="/console/fyers-login"' in text
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    again = browser.post("/console/fyers-login", data={"csrf_token": csrf_of(text)}, base_url=HTTPS)
    assert again.status_code == 303 and "/auth/start?t=" in again.headers["Location"]


# -- 09:10: the louder reminder --------------------------------------------------------------

WEDNESDAY_0910 = datetime(2026, 11, 18, 9, 10, tzinfo=IST)


@pytest.fixture
def at_0910(make_bridge, fyers_settings, phone):
    clock = FixedClock(WEDNESDAY_0910)
    return make_bridge(settings=fyers_settings, clock=clock, channels=[phone], market_hours_check=True), clock


def test_at_0910_on_a_trading_day_without_a_login_a_louder_reminder_is_sent_once(at_0910, phone):
    bridge, _ = at_0910
    answer = bridge.client.post("/login-reminder", headers=admin_headers())
    assert answer.status_code == 200 and answer.json["status"] == "reminded"
    [sent] = phone.received
    assert sent.kind == "login_reminder" and "NOT LOGGED IN" in sent.text
    assert sent.link.startswith("https://bridge.test/auth/start?t=")


def test_no_reminder_when_logged_in(at_0910, fake_fyers, phone):
    bridge, _ = at_0910
    assert browser_login(bridge.client, fake_fyers).status_code == 200
    answer = bridge.client.post("/login-reminder", headers=admin_headers())
    assert answer.json == {"status": "logged_in"} and phone.received == []


@pytest.mark.parametrize("day", [datetime(2026, 11, 24, 9, 10, tzinfo=IST), datetime(2026, 11, 21, 9, 10, tzinfo=IST)],
                         ids=["an NSE holiday", "a Saturday"])
def test_no_reminder_when_the_market_does_not_open(at_0910, phone, day):
    bridge, clock = at_0910
    clock.instant = day
    answer = bridge.client.post("/login-reminder", headers=admin_headers())
    assert answer.json == {"status": "not_a_trading_day"} and phone.received == []


def test_the_reminder_is_a_job_endpoint(at_0910, phone):
    bridge, _ = at_0910
    assert bridge.client.post("/login-reminder").status_code == 401 and phone.received == []
