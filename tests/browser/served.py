"""What every browser test stands on: the bridge served on a real port with its own fake Fyers, and Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from tests.conftest import APP_ID, APP_SECRET, PIN, build_bridge, fyers_settings_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    """The served bridge: its base URL, the fake Fyers it talks to, and the bridge itself."""

    base: str
    fake: Any
    bridge: Any


@contextmanager
def served_bridge(var_dir, *, clock=None, channels=None, **settings) -> Iterator[Stack]:
    """The bridge on a real server, logged out, with a fake Fyers whose login redirects back to it."""
    from werkzeug.serving import make_server

    from tests.fakes.fake_fyers import FakeFyers

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = FakeFyers(app_id=APP_ID, secret_id=APP_SECRET, pin=PIN, redirect_uri=f"{base}/auth/callback").start()
    bridge = build_bridge(
        fyers_settings_for(fake, var_dir, redirect_uri=f"{base}/auth/callback", **settings),
        clock=clock,
        channels=channels,
    )
    server = make_server("127.0.0.1", port, bridge.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Stack(base, fake, bridge)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        bridge.services.broker.close()
        fake.stop()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (the test is skipped without Playwright)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@contextmanager
def phone_page(**context_options) -> Iterator[Any]:
    """A page at a phone's screen size, in a browser of its own."""
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, device_scale_factor=1, **context_options)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
