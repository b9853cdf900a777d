"""The Fyers login belongs to the browser that started it (issue 17, item 4).

A login starts when a browser opens the bridge's single-use link (`/auth/start?t=...`, from
`/auth-url`, the console or the morning notification): that browser gets a login cookie, and the
OAuth `state` is stored with a hash of it. The callback accepts the state only with that cookie;
a callback from any other browser is refused and leaves the state for the operator. Links and
states last 15 minutes. Each browser here is its own Flask test client (its own cookie jar).
"""

from __future__ import annotations

import logging
import pathlib
from datetime import timedelta

import pytest

from app.ports import Notification, Notifier
from app.services.login_state import BROWSER_COOKIE, browser_key
from tests.conftest import admin_headers, at_fyers, login_link, path_of


class Phone(Notifier):
    """The operator's phone: keeps every notification it is sent."""

    name = "phone"

    def __init__(self):
        self.received: list[Notification] = []

    def send(self, notification: Notification, timeout: float) -> None:
        """Keep it."""
        self.received.append(notification)


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def bridge(make_bridge, fyers_settings, phone):
    return make_bridge(settings=fyers_settings, channels=[phone])


def logged_in(client) -> bool:
    return client.get("/token-status", headers=admin_headers()).json["logged_in"]


def start_login(browser) -> str:
    """Open a login link in `browser` and pass Fyers's login: the callback path it is sent back to."""
    return at_fyers(browser.get(path_of(login_link(browser))))


def test_a_callback_from_another_browser_is_refused_and_the_operators_own_still_logs_in(bridge, fake_fyers):
    operator, stranger = bridge.client, bridge.app.test_client()
    callback = start_login(operator)  # the callback URL leaks: a shared screen, a proxy log, a forwarded link
    refused = stranger.get(callback)  # no login cookie at all
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "another browser" in refused.get_data(as_text=True)
    stranger.set_cookie(BROWSER_COOKIE, browser_key(None))  # a login cookie, but not the operator's
    assert stranger.get(callback).status_code == 403
    assert not logged_in(operator) and fake_fyers.count("validate-authcode") == 0
    response = operator.get(callback)  # the refusals spent nothing
    assert response.status_code == 200 and "Logged in until" in response.get_data(as_text=True)
    assert logged_in(operator) and fake_fyers.count("validate-authcode") == 1


def test_a_state_15_minutes_and_1_second_old_is_refused(bridge, fake_fyers, clock):
    operator = bridge.client
    callback = start_login(operator)
    clock.instant += timedelta(minutes=15, seconds=1)
    response = operator.get(callback)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert not logged_in(operator) and fake_fyers.count("validate-authcode") == 0


def test_a_login_link_15_minutes_and_1_second_old_is_refused(bridge, clock):
    link = login_link(bridge.client)
    clock.instant += timedelta(minutes=15, seconds=1)
    response = bridge.client.get(path_of(link))
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert BROWSER_COOKIE not in response.headers.get("Set-Cookie", "")


def test_the_notifications_one_tap_link_works_in_a_fresh_browser_once(bridge, fake_fyers, phone, caplog):
    caplog.set_level(logging.DEBUG)
    fake_fyers.refresh_enabled = False
    assert bridge.client.post("/refresh-token", headers=admin_headers()).json["status"] == "login_required"
    [message] = [n for n in phone.received if n.kind == "login_required"]
    assert message.link.startswith("https://bridge.test/auth/start?t=")  # the bridge, where the callback lands
    on_the_phone = bridge.app.test_client()  # a browser that never saw the bridge before
    started = on_the_phone.get(path_of(message.link))
    assert started.status_code == 302 and "generate-authcode" in started.headers["Location"]
    cookie = started.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Max-Age=900", "Path=/"):
        assert attribute in cookie
    response = on_the_phone.get(at_fyers(started))
    # A link sent to the phone lands on the console (issue 21): tests/test_one_tap_login.py follows it there.
    assert response.status_code == 303 and response.headers["Location"].endswith("/console?logged_in=1")
    assert logged_in(bridge.client)
    again = bridge.app.test_client().get(path_of(message.link))  # single use, whoever taps it next
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    token = message.link.split("t=", 1)[1]
    assert token not in caplog.text  # never logged


def test_the_store_keeps_only_hashes_of_the_link_and_the_browser_key(bridge, fyers_settings):
    operator = bridge.client
    link = login_link(operator)
    started = operator.get(path_of(link))
    key = started.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    stored = "".join(
        path.read_text() for path in pathlib.Path(fyers_settings.state_dir).rglob("*") if path.is_file()
    )
    assert link.split("t=", 1)[1] not in stored and key not in stored


def test_a_second_link_opened_in_the_same_browser_keeps_the_first_usable(bridge, fake_fyers):
    """A double tap (or a tap, then the console's button) in one browser keeps its login cookie."""
    operator = bridge.client
    first, second = start_login(operator), start_login(operator)
    assert operator.get(first).status_code == 200
    assert fake_fyers.count("validate-authcode") == 1
    # The successful callback dropped the cookie: the other pending state is no longer usable here.
    assert operator.get(second).status_code == 403
