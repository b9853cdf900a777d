"""The console's accessibility, checked by axe-core in Debian's Chromium on a phone and a desktop screen.

axe-core comes bundled with axe-playwright-python (requirements-dev.txt): nothing is fetched. A
serious or critical violation fails the test, named with the elements it was found on.
"""

from __future__ import annotations

import pytest

from tests.browser.served import CHROMIUM, PHONE, chromium
from tests.browser.test_console import stack  # noqa: F401 - `stack` is a fixture
from tests.conftest import ADMIN

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; browser tests skipped"),
    pytest.mark.timeout(120),
]
DESKTOP = {"width": 1280, "height": 800}
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def blocking_violations(page) -> list[str]:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed")
    results = axe.Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_console_pages_have_no_serious_accessibility_violation(stack, browser, viewport):  # noqa: F811
    base, _, _ = stack
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        page.goto(f"{base}/console/login")
        assert blocking_violations(page) == []
        page.fill("#admin_token", ADMIN)
        page.click("input[type=submit]")
        page.wait_for_url("**/console")
        assert blocking_violations(page) == []
    finally:
        context.close()
