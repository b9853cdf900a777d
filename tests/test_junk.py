"""Junk cannot bury real orders (issue 17, item 1).

A request that fails authentication writes no journal record: it is counted (per IST day, in this
instance's memory), logged at most once a minute per source, and shown in /admin/status and the
console. /orders and the console list newest first, a page at a time, and say when a page is cut.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest

from app.adapters.local_state import LocalStateStore
from app.services.refusals import OTHER_SOURCES, RefusalCounter
from tests.clock import FixedClock
from tests.concurrency import together
from tests.conftest import MARKET_MORNING, seed_alert, send_alert

ADMIN_HEADERS = {"Authorization": "Bearer admin-test-token"}
HTTPS = "https://localhost"
FLOOD_THREADS = 4
WRONG_PER_THREAD = 75  # 300 wrong secrets in all
GARBAGE = [b"not json at all", b"{", b"[]", b"\xff\xfe", b'{"token": 5}', b"{}"]


def junk_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "alert_unauthenticated"]


def flood(app, round_: int) -> list[int]:
    """Wrong secrets from 4 senders at once, then requests with no secret and garbage: the statuses."""

    def send(thread: int) -> list[int]:
        client = app.test_client()
        source = {"REMOTE_ADDR": f"198.51.100.{thread + 1}"}
        statuses = []
        for i in range(WRONG_PER_THREAD):
            body = json.dumps(seed_alert(token=f"wrong-{round_}-{thread}-{i}", idempotency_key=f"j{thread}-{i}"))
            statuses.append(client.post("/webhook", data=body, content_type="application/json",
                                        environ_base=source).status_code)
        no_secret = {k: v for k, v in seed_alert(idempotency_key=f"n{thread}").items() if k != "token"}
        statuses.append(client.post("/webhook", json=no_secret, environ_base=source).status_code)
        for garbage in GARBAGE:
            statuses.append(client.post("/webhook", data=garbage, content_type="text/plain",
                                        environ_base=source).status_code)
        return statuses

    answers = together(FLOOD_THREADS, send)
    return [status for statuses in answers for status in statuses]


def console_page(client, query: str = "") -> str:
    login = client.post("/console/login", data={"admin_token": "admin-test-token"}, base_url=HTTPS)
    assert login.status_code == 303
    page = client.get(f"/console{query}", base_url=HTTPS)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def shown(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html).group(1)


def test_a_wrong_secret_flood_leaves_no_journal_record_and_the_real_orders_stay_visible(
    make_bridge, clock, caplog
):
    caplog.set_level(logging.INFO)
    bridge = make_bridge()
    client, services = bridge.client, bridge.services
    order_ids = []
    for round_ in range(3):  # real alert, flood, real alert, flood, real alert
        placed = send_alert(client, seed_alert(strikeprice=26000 + 50 * round_, idempotency_key=f"real-{round_}"))
        assert placed.status_code == 200, placed.json
        order_ids.append(placed.json["order_id"])
        if round_ < 2:
            statuses = flood(bridge.app, round_)
            assert set(statuses) <= {400, 401} and statuses.count(401) >= FLOOD_THREADS * (WRONG_PER_THREAD + 1)
    junk = 2 * FLOOD_THREADS * (WRONG_PER_THREAD + 1 + len(GARBAGE))

    # Only the real alerts are in the journal.
    day = clock.now().date()
    assert len(services.store.list(f"journal/{day:%Y-%m-%d}/")) == 3
    journal = client.get("/orders", headers=ADMIN_HEADERS).json
    assert journal["total"] == 3 and journal["next"] is None
    assert [a["broker"][0]["order_id"] for a in journal["alerts"]] == order_ids[::-1]  # newest first
    assert "wrong-" not in json.dumps(journal)

    # "Orders today" comes from the day's order counter, and the refusals are counted.
    status = client.get("/admin/status", headers=ADMIN_HEADERS).json
    assert status["orders_today"] == 3 == services.controls.orders_today()
    assert status["refused_unauthenticated_today"] == junk
    html = console_page(client)
    assert shown(html, "orders-today") == "3"
    assert shown(html, "refused-today") == str(junk)
    assert html.count('class="alert-row"') == 3
    assert all(alert["decisions"][0]["symbol"] in html for alert in journal["alerts"])

    # One line per sender for the whole flood (the clock did not move), none per junk request.
    lines = junk_lines(caplog)
    sources = [line.fields["source"] for line in lines]
    assert sorted(sources) == [f"198.51.100.{t + 1}" for t in range(FLOOD_THREADS)]
    received = [r for r in caplog.records if getattr(r, "event", None) == "alert_received"]
    assert len(received) == 3
    assert not [r for r in caplog.records if getattr(r, "event", None) == "alert_rejected"]

    # A minute on, a sender's next refusal is logged again, with how many were not.
    clock.instant += timedelta(seconds=61)
    caplog.clear()
    client.post("/webhook", json=seed_alert(token="wrong"), environ_base={"REMOTE_ADDR": "198.51.100.1"})
    client.post("/webhook", json=seed_alert(token="wrong"), environ_base={"REMOTE_ADDR": "198.51.100.1"})
    [line] = junk_lines(caplog)
    assert line.fields["source"] == "198.51.100.1" and line.levelno == logging.WARNING
    assert line.fields["suppressed"] == 2 * (WRONG_PER_THREAD + 1 + len(GARBAGE)) - 1
    assert f"{line.fields['suppressed']} more from this source were not logged" in line.getMessage()


def test_a_refused_sender_address_is_counted_not_journaled(make_bridge, clock, caplog):
    bridge = make_bridge(allowed_source_ips=("52.89.214.238",))
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(5):
        response = bridge.client.post("/webhook", json=seed_alert(), environ_base=outsider)
        assert response.status_code == 403
    allowed = bridge.client.post("/webhook", json=seed_alert(), environ_base={"REMOTE_ADDR": "52.89.214.238"})
    assert allowed.status_code == 200
    assert len(bridge.services.journal.day(clock.now().date())) == 1
    assert bridge.client.get("/admin/status", headers=ADMIN_HEADERS).json["refused_unauthenticated_today"] == 5
    [line] = junk_lines(caplog)
    assert line.fields["source"] == "203.0.113.9" and line.fields["status"] == 403


def test_an_authenticated_refusal_is_still_journaled(client, services, clock):
    send_alert(client, seed_alert(qty=64, idempotency_key="bad-qty"))  # the trader's own mistake
    [record] = services.journal.day(clock.now().date())
    assert record["status"] == 400


class CountingStore(LocalStateStore):
    """The local store, counting the journal records read."""

    def __init__(self, root):
        super().__init__(root)
        self.journal_reads = 0

    def get(self, key):
        if key.startswith("journal/"):
            self.journal_reads += 1
        return super().get(key)


def test_orders_pages_newest_first_reading_only_the_page(make_bridge, tmp_path, clock):
    store = CountingStore(tmp_path / "counted")
    bridge = make_bridge(store=store)
    client = bridge.client
    for i in range(12):
        clock.instant = MARKET_MORNING + timedelta(seconds=i)
        assert send_alert(client, seed_alert(idempotency_key=f"page-{i}")).status_code == 200
    keys = [r["idempotency_key"] for r in bridge.services.journal.day(clock.now().date())]
    assert keys == [f"page-{i}" for i in range(12)]

    store.journal_reads = 0
    first = client.get("/orders?limit=5", headers=ADMIN_HEADERS).json
    assert store.journal_reads == 5  # not the day's 12
    seen, page = [], first
    while True:
        seen += [r["idempotency_key"] for r in page["alerts"]]
        assert page["total"] == 12 and page["count"] == len(page["alerts"])
        if page["next"] is None:
            break
        page = client.get("/orders", query_string={"limit": 5, "before": page["next"]}, headers=ADMIN_HEADERS).json
    assert seen == [f"page-{i}" for i in reversed(range(12))]
    assert [first["count"], page["count"]] == [5, 2]

    html = console_page(client, "?limit=5")
    assert html.count('class="alert-row"') == 5 and 'id="more"' in html
    older = re.search(r'id="more" href="/console\?before=([^"]+)"', html).group(1)
    assert older == first["next"]
    assert 'id="more"' not in console_page(client, "?limit=20")


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("before=../../tokens", "before")],
)
def test_a_bad_page_request_is_refused_naming_the_argument(client, query, field):
    response = client.get(f"/orders?{query}", headers=ADMIN_HEADERS)
    assert response.status_code == 400 and response.json["field"] == field


def test_the_count_starts_again_each_ist_day_and_many_senders_share_one_line(caplog):
    clock = FixedClock(MARKET_MORNING)
    counter = RefusalCounter(clock, max_sources=2)
    for source in ("a", "b", "c", "d"):
        counter.refused(source, 401, "missing or wrong token")
    assert counter.today() == 4
    assert [line.fields["source"] for line in junk_lines(caplog)] == ["a", "b", OTHER_SOURCES]
    clock.instant = MARKET_MORNING.replace(hour=23, minute=59)  # 23:59 IST: the same day
    assert counter.today() == 4
    clock.instant += timedelta(minutes=2)  # past midnight IST
    assert counter.today() == 0
    counter.refused("a", 401, "missing or wrong token")
    assert counter.today() == 1
