"""docs/alerts.md's "Coming from another bridge": each sample message, as written for its bridge and adapted to an
option, trades on the paper broker through the `make run` process (main.py on the embedded default)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests

from app.adapters.symbol_master import load_symbol_master
from app.domain.contracts import IST
from app.settings import PAPER_DEFAULT_SECRET
from tests.service_process import ROOT, ServiceProcess

ADMIN = "paper-admin"
SAMPLE = re.compile(r"<!-- sample: (\w+) -->\n```json\n(.*?)```", re.S)
# The docs' example tickers: weekly NSE:NIFTY26D0126000CE (year, month code, day), monthly NSE:NIFTY26DEC26000PE.
WEEKLY_TICKER = re.compile(r"\b(NSE|BSE):([A-Z]+)(\d{2})([1-9OND])(\d{2})(\d+)(CE|PE)\b")
MONTHLY_TICKER = re.compile(r"\b(NSE|BSE):([A-Z]+)(\d{2})([A-Z]{3})(\d+)(CE|PE)\b")
EXPECTED = [
    "order_legs",
    "ticker_weekly",
    "ticker_monthly",
    "openalgo_long_entry",
    "openalgo_long_exit",
    "openalgo_short_entry",
    "openalgo_short_exit",
]


def section() -> str:
    """The text of docs/alerts.md's "Coming from another bridge" section."""
    text = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    assert "\n## Coming from another bridge\n" in text
    return text.split("\n## Coming from another bridge\n", 1)[1].split("\n## ", 1)[0]


def doc_samples() -> dict[str, str]:
    """The section's sample messages by name, in the order the docs show them."""
    return dict(SAMPLE.findall(section()))


def strategy_contracts() -> str:
    """The STRATEGY_CONTRACTS value the section states for the OpenAlgo samples."""
    (value,) = set(re.findall(r"`STRATEGY_CONTRACTS=([^`\s]+)`", section()))
    return value


def listed_today(now: datetime) -> dict[str, str]:
    """Each example ticker of the docs' samples mapped to the same strike and type listed in today's master."""
    master = load_symbol_master("synthetic", today=now.date())

    def listed(underlying: str, strike: str, option_type: str, monthly: bool) -> str:
        for expiry in master.expiries(underlying, now):
            contract = master.resolve(underlying, expiry, Decimal(strike), option_type, now)
            if contract.monthly == monthly:
                return contract.ticker
        raise AssertionError(f"no {'monthly' if monthly else 'weekly'} {underlying} {strike} {option_type} listed")

    text = "\n".join(doc_samples().values())
    tickers = {m.group(0): listed(m.group(2), m.group(6), m.group(7), False) for m in WEEKLY_TICKER.finditer(text)}
    tickers |= {m.group(0): listed(m.group(2), m.group(5), m.group(6), True) for m in MONTHLY_TICKER.finditer(text)}
    return tickers


def filled(sample: str, tickers: dict[str, str]) -> str:
    """The sample as sent: the paper secret, today's tickers, and `{{timenow}}` as TradingView fills it now."""
    body = sample.replace("YOUR_SECRET", PAPER_DEFAULT_SECRET)
    for example, today in tickers.items():
        body = body.replace(example, today)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body.replace("{{timenow}}", stamp)


def legs_of(answer: dict) -> list[dict]:
    return answer.get("legs") or [answer]


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    """Every sample sent in the docs' order to one `make run` process: name -> (HTTP status, answer, books after)."""
    tmp_path = tmp_path_factory.mktemp("other-bridge")
    env = {"STATE_DIR": str(tmp_path / "var"), "ADMIN_TOKEN": ADMIN, "STRATEGY_CONTRACTS": strategy_contracts()}
    service = ServiceProcess(env, tmp_path).start()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    try:
        tickers = listed_today(datetime.now(IST))  # the process's master lists from the same IST day
        answers = {}
        for name, sample in doc_samples().items():
            response = requests.post(
                f"{service.base}/webhook",
                data=filled(sample, tickers),
                headers={"Content-Type": "text/plain"},  # what TradingView sends
                timeout=10,
            )
            books = requests.get(f"{service.base}/books", headers=admin, timeout=10).json()["books"]
            answers[name] = (response.status_code, response.json(), books)
        yield answers, tickers
    finally:
        service.stop()


def test_the_section_shows_every_format_and_states_the_strategy_setting():
    assert list(doc_samples()) == EXPECTED
    assert strategy_contracts() == "trend:NIFTY:ATM:WEEKLY:1"
    text = "\n".join(doc_samples().values())
    examples = {m.group(0) for pattern in (WEEKLY_TICKER, MONTHLY_TICKER) for m in pattern.finditer(text)}
    assert examples == {"NSE:NIFTY26D0126000CE", "NSE:NIFTY26D0126500CE", "NSE:NIFTY26DEC26000PE"}


def test_the_order_legs_sample_places_the_hedge_first(sent):
    answers, tickers = sent
    status, answer, _ = answers["order_legs"]
    assert status == 200 and answer["status"] == "placed", answer
    placed = [(leg["side"], leg["qty"], leg["symbol"], leg["status"]) for leg in legs_of(answer)]
    assert placed == [
        ("BUY", 65, tickers["NSE:NIFTY26D0126500CE"], "placed"),  # the hedge, though its sort_order is 2
        ("SELL", 65, tickers["NSE:NIFTY26D0126000CE"], "placed"),
    ]


@pytest.mark.parametrize(
    ("name", "example"), [("ticker_weekly", "NSE:NIFTY26D0126000CE"), ("ticker_monthly", "NSE:NIFTY26DEC26000PE")]
)
def test_an_exact_ticker_sample_trades_that_contract(sent, name, example):
    answers, tickers = sent
    status, answer, _ = answers[name]
    assert status == 200 and answer["status"] == "placed", answer
    assert (answer["side"], answer["qty"], answer["symbol"]) == ("BUY", 65, tickers[example])


@pytest.mark.parametrize(("name", "option_type"), [("openalgo_long_entry", "CE"), ("openalgo_short_entry", "PE")])
def test_an_openalgo_entry_buys_the_strategy_s_contract(sent, name, option_type):
    status, answer, books = sent[0][name]
    assert status == 200 and answer["status"] == "placed", answer
    (leg,) = [leg for leg in legs_of(answer) if leg["side"] == "BUY"]
    assert leg["qty"] == 65 and leg["symbol"].endswith(option_type)
    assert [(h["symbol"], h["qty"]) for h in books["trend"]] == [(leg["symbol"], 65)]


@pytest.mark.parametrize(
    ("name", "entry"), [("openalgo_long_exit", "openalgo_long_entry"), ("openalgo_short_exit", "openalgo_short_entry")]
)
def test_an_openalgo_position_size_0_leaves_the_strategy_flat(sent, name, entry):
    answers, _ = sent
    status, answer, books = answers[name]
    assert status == 200 and answer["status"] in ("placed", "closed"), answer
    held = legs_of(answers[entry][1])[-1]["symbol"]
    assert [(leg["side"], leg["symbol"]) for leg in legs_of(answer)] == [("SELL", held)]
    assert "trend" not in books
