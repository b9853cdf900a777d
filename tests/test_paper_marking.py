"""Every paper answer, journal record, notification and page says PAPER, never on BROKER=fyers; the README rehearsal."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
import requests

from app.domain.contracts import IST
from tests.conftest import ADMIN, TOKEN_KEY, admin_headers, seed_alert, send_alert
from tests.service_process import ROOT, ServiceProcess, free_port
from tests.test_login_binding import Phone

HTTPS = "https://bridge.test"  # the console's cookie is Secure
BANNER = "PAPER — no real orders"


def records(bridge) -> list[dict]:
    return bridge.services.journal.day(bridge.services.clock.now().astimezone(IST).date())


def console_home(client) -> str:
    assert client.post("/console/login", data={"admin_token": ADMIN}, base_url=HTTPS).status_code == 303
    page = client.get("/console", base_url=HTTPS)
    assert page.status_code == 200
    return page.get_data(as_text=True)


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def paper(make_bridge, phone):
    return make_bridge(channels=[phone], notify_on="all")


def test_a_paper_order_is_answered_as_paper(paper):
    answer = send_alert(paper.client)
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "placed" and answer.json["order_id"]
    assert answer.json["paper"] is True and answer.json["message"].startswith("PAPER:")


def test_a_resent_paper_alert_is_answered_as_paper_once(paper):
    first = send_alert(paper.client)
    again = send_alert(paper.client)
    assert again.json["order_id"] == first.json["order_id"]
    assert again.json["paper"] is True and again.json["message"] == first.json["message"]
    assert not again.json["message"].startswith("PAPER: PAPER:")


def test_a_refused_paper_alert_says_paper_too(paper):
    refused = send_alert(paper.client, qty=7)  # not a multiple of the lot
    assert refused.status_code == 400 and refused.json["paper"] is True
    assert refused.json["message"].startswith("PAPER:")


def test_a_multi_leg_paper_answer_says_paper(paper):
    legs = [
        {"symbol": "NIFTY", "strikeprice": 26000, "optionType": "CE", "expiry": "WEEKLY", "action": "BUY", "qty": 65},
        {"symbol": "NIFTY", "strikeprice": 26000, "optionType": "PE", "expiry": "WEEKLY", "action": "BUY", "qty": 65},
    ]
    answer = send_alert(paper.client, {"token": seed_alert()["token"], "legs": legs, "idempotency_key": "straddle-1"})
    assert answer.status_code == 200, answer.json
    assert len(answer.json["legs"]) == 2
    assert answer.json["paper"] is True and answer.json["message"].startswith("PAPER:")


def test_paper_journal_records_and_trade_events_carry_paper(paper):
    placed = send_alert(paper.client).json
    assert paper.client.post("/sync", headers=admin_headers()).status_code == 200
    day = records(paper)
    (alert,) = [r for r in day if r["alert_id"] == placed["alert_id"] and "trade" not in r]
    events = [r for r in day if "trade" in r]
    assert {str(r["outcome"]) for r in events} >= {"filled", "protected"}
    assert alert["paper"] is True and all(r["paper"] is True for r in events)
    assert alert["answer"]["body"]["paper"] is True  # the stored answer a resend replays


def test_every_paper_notification_starts_with_paper(paper, phone):
    placed = send_alert(paper.client).json
    paper.client.post("/sync", headers=admin_headers())
    kinds = {n.kind for n in phone.received}
    assert {"order_placed", "filled"} <= kinds, kinds
    assert all(n.text.startswith("PAPER: ") and not n.text.startswith("PAPER: PAPER:") for n in phone.received)
    assert placed["order_id"] in next(n.text for n in phone.received if n.kind == "order_placed")
    assert all(n["text"].startswith("PAPER: ") for n in paper.services.notifications.recent())


def test_the_paper_console_shows_the_banner_on_every_page(paper):
    assert BANNER in paper.client.get("/console/login", base_url=HTTPS).get_data(as_text=True)
    assert BANNER in console_home(paper.client)


def test_a_fyers_bridge_says_nothing_of_paper(fyers, phone):
    client, services = fyers(channels=[phone], notify_on="all")
    answer = send_alert(client)
    assert answer.status_code == 200, answer.json
    assert "paper" not in answer.json and not answer.json["message"].startswith("PAPER")
    client.post("/sync", headers=admin_headers())
    day = services.journal.day(services.clock.now().astimezone(IST).date())
    assert any("trade" in r for r in day) and not any("paper" in r for r in day)
    assert phone.received and not any("PAPER" in n.text for n in phone.received)
    assert "PAPER" not in console_home(client)


def rehearsal_blocks() -> list[str]:
    """The shell blocks of the README's "Rehearse on live prices": the fake, the bridge, the curls."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Rehearse on live prices", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_the_readme_rehearsal_runs_as_written(tmp_path):
    fake_cmd, bridge_cmd, curls = rehearsal_blocks()
    fake_port = free_port()
    args = shlex.split(fake_cmd.split("#", 1)[0].replace("9000", str(fake_port)))
    assert args[:3] == [".venv/bin/python", "-m", "tests.fakes.fake_fyers"] and "--token" in args
    fake = subprocess.Popen([sys.executable, *args[1:]], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout.readline().startswith("api_base=")  # serving
        generated = re.sub(r"\$\(python3 -c '[^']*'\)", "generated", bridge_cmd)  # the key: the test's own
        words = shlex.split(generated.replace("\\\n", " "))
        assert words[-2:] == ["make", "run"]
        env = dict(w.split("=", 1) for w in words[:-2] if "=" in w)
        env = {k: v.replace("9000", str(fake_port)) for k, v in env.items()}
        assert env["BROKER"] == "fyers-paper" and env["TOKEN_ENCRYPTION_KEY"] == "generated"
        env.update(STATE_DIR=str(tmp_path / "var"), TOKEN_ENCRYPTION_KEY=TOKEN_KEY)
        service = ServiceProcess(env, tmp_path).start()
        try:
            rehearse(service.base, env, curls, fake_port)
        finally:
            service.stop()
    finally:
        fake.terminate()
        fake.wait(timeout=10)
        fake.stdout.close()


def here(url: str, base: str) -> str:
    """A URL on the README's redirect host (:8080) at this bridge's free port instead."""
    assert url.startswith("http://localhost:8080/"), url
    return url.replace("http://localhost:8080", base, 1)


def rehearse(base: str, env: dict[str, str], curls: str, fake_port: int) -> None:
    """The README's login, alert, sweep and positions, against a bridge at `base`."""
    admin = {"Authorization": f"Bearer {env['ADMIN_TOKEN']}"}
    link = requests.get(f"{base}/auth-url", headers=admin, timeout=10).json()["login_url"]
    started = requests.get(here(link, base), allow_redirects=False, timeout=10)
    cookie = {"Cookie": started.headers["Set-Cookie"].split(";", 1)[0]}  # Secure: requests keeps it off http
    at_fyers = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    callback = here(at_fyers.headers["Location"], base)
    assert callback.startswith(f"{base}/auth/callback?")
    back = requests.get(callback, headers=cookie, timeout=10)
    assert back.status_code == 200 and "Logged in until" in back.text
    alert = json.loads(re.search(r"-d '(\{.*?\})'", curls, re.S).group(1))
    assert alert["token"] == env["WEBHOOK_SECRET_TOKEN"]
    placed = requests.post(f"{base}/webhook", json=alert, timeout=10).json()
    assert placed["status"] == "placed" and placed["paper"] is True and placed["message"].startswith("PAPER:")
    assert "localhost:8080/sync" in curls and "localhost:8080/positions" in curls
    events = requests.post(f"{base}/sync", headers=admin, timeout=10).json()["events"]
    assert [e["event"] for e in events] == ["filled", "protected"]
    assert events[0]["price"] == round(placed["ltp"] + 0.05, 2)  # the live LTP plus one tick against a buy
    (position,) = requests.get(f"{base}/positions", headers=admin, timeout=10).json()["positions"]
    assert position["net_qty"] == 65
    book = requests.get(
        f"http://127.0.0.1:{fake_port}/api/v3/orders", headers={"Authorization": "TESTAPP-100:FIXED"}, timeout=10
    ).json()
    assert book["orderBook"] == []  # nothing ever reached Fyers's order endpoints
