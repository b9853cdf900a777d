"""Issue 21, item 3: each console action asks first, acts once on a CSRF-checked POST, and is audited.

Through the test client, on the real SDK against the fake Fyers: a confirmation page sends nothing
to Fyers and changes nothing; a POST without the session's CSRF token (or with a forged one) is
refused 403; the real POST does the thing once and writes one audit entry, listed by /admin/audit.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from decimal import Decimal

import pytest

from app.adapters.local_state import LocalStateStore
from app.domain.contracts import IST
from app.services.audit import Audit
from tests.clock import FixedClock
from tests.conftest import ADMIN, admin_headers, browser_login, seed_alert, send_alert

HTTPS = "https://bridge.test"  # the console's cookie is Secure
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
EVENING = datetime(2026, 11, 18, 20, 0, tzinfo=IST)


@pytest.fixture
def bridge(make_bridge, fyers_settings, fake_fyers):
    """Logged in to Fyers and to the console; a Rs 1,000 daily loss line."""

    def build(**overrides):
        built = make_bridge(settings=fyers_settings, max_daily_loss=Decimal(1000), **overrides)
        assert browser_login(built.client, fake_fyers).status_code == 200
        fake_fyers.reset()
        assert built.client.post("/console/login", data={"admin_token": ADMIN}, base_url=HTTPS).status_code == 303
        return built

    return build


def ask(client, path: str):
    page = client.get(path, base_url=HTTPS)
    assert page.status_code == 200, page.get_data(as_text=True)
    return page


def form_of(page) -> dict[str, str]:
    """The confirmation form's hidden fields, as the browser would post them."""
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page.get_data(as_text=True))}


def action_of(page) -> str:
    return re.search(r'<form method="post" action="([^"]+)">', page.get_data(as_text=True)).group(1)


def refused_without_csrf(client, page) -> None:
    """Neither a form without the token nor a forged one gets through."""
    fields = form_of(page)
    without = {k: v for k, v in fields.items() if k != "csrf_token"}
    assert client.post(action_of(page), data=without, base_url=HTTPS).status_code == 403
    assert client.post(action_of(page), data={**fields, "csrf_token": "forged"}, base_url=HTTPS).status_code == 403


def confirmed(client, page):
    answer = client.post(action_of(page), data=form_of(page), base_url=HTTPS)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console"), answer.get_data(as_text=True)
    return answer


def audited(client) -> list[dict]:
    answer = client.get("/admin/audit", headers=admin_headers())
    assert answer.status_code == 200
    return answer.json["entries"]


def result_line(client) -> str:
    page = client.get("/console", base_url=HTTPS).get_data(as_text=True)
    return html.unescape(re.search(r'action-result" role="status">([^<]*)<', page).group(1))


def exits(fake) -> int:
    return fake.count("positions", "DELETE")


def test_pause_and_resume_each_ask_first_then_act_once_and_are_audited(bridge):
    built = bridge()
    client, services = built.client, built.services
    page = ask(client, "/console/pause?reason=RBI%20policy")
    assert "RBI policy" in page.get_data(as_text=True) and services.controls.paused() is None  # asking does nothing
    refused_without_csrf(client, page)
    assert services.controls.paused() is None and audited(client) == []

    confirmed(client, page)

    assert services.controls.paused()["reason"] == "RBI policy"
    assert [(e["action"], e["actor"], e["details"]) for e in audited(client)] == [
        ("pause", "console", {"reason": "RBI policy"})
    ]
    assert result_line(client) == "Trading paused: RBI policy."
    page = ask(client, "/console/resume")
    assert services.controls.paused() is not None
    refused_without_csrf(client, page)
    confirmed(client, page)
    assert not services.controls.paused()
    assert [e["action"] for e in audited(client)] == ["resume", "pause"]  # newest first


def test_closing_one_position_sends_one_exit_for_the_net_confirmed(bridge, fake_fyers):
    built = bridge()
    client = built.client
    first = send_alert(client, seed_alert(idempotency_key="one", strikeprice=26000)).json
    second = send_alert(client, seed_alert(idempotency_key="two", strikeprice=26100)).json
    position_id = f"{first['symbol']}-INTRADAY"
    page = ask(client, f"/console/positions/close?id={position_id}")
    text = page.get_data(as_text=True)
    assert position_id in text and "Yes, close this position" in text and exits(fake_fyers) == 0
    refused_without_csrf(client, page)
    fields = form_of(page)
    stale = client.post(action_of(page), data={**fields, "net_qty": str(int(fields["net_qty"]) * 2)}, base_url=HTTPS)
    assert stale.status_code == 409 and "changed since you confirmed" in stale.get_data(as_text=True)
    assert exits(fake_fyers) == 0 and form_of(stale)["claim"] != fields["claim"]  # shown again, to confirm anew

    confirmed(client, page)
    again = client.post(action_of(page), data=fields, base_url=HTTPS)  # a double tap

    assert again.status_code in (303, 409) and exits(fake_fyers) == 1
    still_open = [p["symbol"] for p in fake_fyers.positions if p["netQty"]]
    assert still_open == [second["symbol"]]  # the other position is not touched
    (entry,) = audited(client)
    assert entry["action"] == "close_position" and entry["details"]["position_id"] == position_id
    assert entry["details"]["net_qty"] == int(fields["net_qty"])


def test_a_confirmation_is_used_once_even_when_the_position_stays_open(bridge, fake_fyers):
    built = bridge()
    client = built.client
    placed = send_alert(client, seed_alert(idempotency_key="one")).json
    page = ask(client, f"/console/positions/close?id={placed['symbol']}-INTRADAY")
    fake_fyers.add_fault("positions", "drop_after_accept", times=None)  # an exit whose answer never comes back
    built.services.store.create(
        f"console-actions/{EVENING.date()}/{form_of(page)['claim']}.json", {"position_id": "taken by a first tap"}
    )

    answer = confirmed(client, page)

    assert answer.status_code == 303 and exits(fake_fyers) == 0
    assert "already sent for this confirmation" in result_line(client)


def test_close_all_is_audited(bridge, fake_fyers):
    built = bridge()
    client = built.client
    send_alert(client, seed_alert(idempotency_key="one"))
    page = ask(client, "/console/close-all")
    assert exits(fake_fyers) == 0
    refused_without_csrf(client, page)
    confirmed(client, page)
    assert exits(fake_fyers) == 1
    (entry,) = audited(client)
    assert entry["action"] == "close_all" and len(entry["details"]["exits"]) == 1
    assert result_line(client).startswith("Close-all: 1 exit(s)")


def test_cancelling_a_queued_alert(bridge, clock):
    built = bridge(market_hours_check=True, market_closed_policy="queue")
    client, services = built.client, built.services
    clock.instant = EVENING
    queued = client.post("/webhook", data=json.dumps(seed_alert()), content_type="application/json")
    assert queued.status_code == 202, queued.json
    queue_id = queued.json["queue_id"]
    page = ask(client, f"/console/queue/cancel?id={queue_id}")
    assert "Cancel this queued alert?" in page.get_data(as_text=True)
    refused_without_csrf(client, page)
    assert services.queue.find(queue_id)["state"] == "queued"

    confirmed(client, page)

    assert services.queue.find(queue_id)["state"] == "cancelled"
    assert [(e["action"], e["details"]["status"]) for e in audited(client)] == [("cancel_queued", "cancelled")]
    assert client.get(f"/console/queue/cancel?id={queue_id}", base_url=HTTPS).status_code == 409  # nothing to ask


def test_retrying_a_pending_look_up_reads_the_book_and_never_sends_again(bridge, fake_fyers):
    built = bridge()
    client = built.client
    fake_fyers.add_fault("orders/sync", "drop_after_accept", hidden_reads=1000)
    pending = send_alert(client, seed_alert())
    assert pending.status_code == 202, pending.json
    alert_id = pending.json["alert_id"]
    calls = len(fake_fyers.calls)
    page = ask(client, f"/console/pending/retry?id={alert_id}")
    assert len(fake_fyers.calls) == calls  # asking reads nothing at Fyers
    refused_without_csrf(client, page)
    fake_fyers.settle()

    confirmed(client, page)

    assert built.services.store.list("pending/") == []
    assert fake_fyers.count("orders/sync", "POST") == 1
    assert [(e["action"], e["details"]["status"]) for e in audited(client)] == [("retry_pending", "placed")]


def test_lifting_the_day_lock(bridge, fake_fyers):
    built = bridge()
    client, services = built.client, built.services
    first = send_alert(client, seed_alert(idempotency_key="first"))
    fake_fyers.set_ltp(first.json["symbol"], first.json["ltp"] - 20)  # Rs 1,300 down: past the line
    assert send_alert(client, seed_alert(idempotency_key="second", strikeprice=26100)).status_code == 422
    page = ask(client, "/console/day-lock/lift")
    assert "MAX_DAILY_LOSS" in page.get_data(as_text=True) and services.controls.paused()["day"]
    refused_without_csrf(client, page)

    confirmed(client, page)

    assert not services.controls.paused()
    assert [(e["action"], e["details"]["status"]) for e in audited(client)] == [("lift_day_lock", "lifted")]
    assert send_alert(client, seed_alert(idempotency_key="third", strikeprice=26200)).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/console/pause", "/console/resume", "/console/positions/close", "/console/queue/cancel",
     "/console/pending/retry", "/console/day-lock/lift", "/console/actions"],
)
def test_every_action_needs_a_console_session(paper_bridge, path):
    assert paper_bridge.client.get(path, base_url=HTTPS).status_code == 303
    if path != "/console/actions":
        assert paper_bridge.client.post(path, data={}, base_url=HTTPS).status_code == 401


def test_the_audit_log_needs_the_admin_token(paper_bridge):
    assert paper_bridge.client.get("/admin/audit").status_code == 401


def test_the_actions_page_lists_todays_audit_newest_first_in_ist(bridge):
    built = bridge()
    client = built.client
    confirmed(client, ask(client, "/console/pause?reason=first"))
    confirmed(client, ask(client, "/console/resume"))
    page = ask(client, "/console/actions").get_data(as_text=True)
    rows = re.findall(r'class="muted audit-at">([^<]*)</span> <strong class="audit-action">([a-z_]+)<', page)
    assert [action for _, action in rows] == ["resume", "pause"]
    assert all(time.endswith("IST") for time, _ in rows)


def test_audit_entries_of_one_instant_from_two_writers_are_all_kept(tmp_path):
    store, clock = LocalStateStore(tmp_path), FixedClock(EVENING)
    one, two = Audit(store, clock), Audit(store, clock)
    for n in range(8):
        (one if n % 2 else two).record("console", "pause", {"n": n})
    assert [e["details"]["n"] for e in one.recent(100)] == list(range(7, -1, -1))
    assert one.recent(3)[0]["at"] == EVENING.isoformat()
