"""On BROKER=fyers-paper the console's PAPER band stays in view on a phone, on every page, and passes axe."""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from tests.browser.served import CHROMIUM, PHONE, chromium, free_port
from tests.browser.test_console_a11y import blocking_violations
from tests.clock import FixedClock
from tests.conftest import ADMIN, APP_ID, APP_SECRET, MARKET_MORNING, PIN, build_bridge, fyers_settings_for
from tests.fakes.fake_fyers import FakeFyers

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; browser tests skipped"),
    pytest.mark.timeout(120),
]


@contextmanager
def served_forward_test(var_dir):
    """A BROKER=fyers-paper bridge on a real port, with its fake Fyers; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = FakeFyers(app_id=APP_ID, secret_id=APP_SECRET, pin=PIN).start()
    settings = fyers_settings_for(fake, var_dir, redirect_uri=f"{base}/auth/callback")
    bridge = build_bridge(dataclasses.replace(settings, broker="fyers-paper"), clock=FixedClock(MARKET_MORNING))
    server = make_server("127.0.0.1", port, bridge.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        bridge.services.broker.close()
        fake.stop()


def test_the_paper_band_stays_in_view_on_every_console_page(tmp_path):
    with served_forward_test(tmp_path / "var") as base, chromium() as browser:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        try:
            page.goto(f"{base}/console/login")
            assert page.inner_text("#paper-banner") == "PAPER — no real orders"
            page.fill("#admin_token", ADMIN)
            page.click("input[type=submit]")
            page.wait_for_url("**/console")
            band = page.locator("#paper-banner")
            assert band.is_visible()
            page.mouse.wheel(0, 5000)  # the band is sticky: scrolled down, it is still at the top of the screen
            page.wait_for_timeout(200)
            box = band.bounding_box()
            assert box is not None and abs(box["y"]) < 1 and box["height"] > 10
            assert blocking_violations(page) == []
            page.goto(f"{base}/console/devices")
            assert page.locator("#paper-banner").is_visible()
        finally:
            context.close()
