"""The times and budgets the operator docs state come from the code: a change to one fails here."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from app.adapters.symbol_master import load_symbol_master
from app.bootstrap import FALLBACK_SESSION
from app.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_market_hours_doc_states_the_session_and_amo_window_the_code_uses():
    text = (DOCS / "market-hours.md").read_text(encoding="utf-8")
    session = load_symbol_master("synthetic", today=date(2026, 11, 18)).session("NSE")
    assert session == FALLBACK_SESSION
    assert f"**{session.opens:%H:%M}-{session.closes:%H:%M} IST**" in text
    assert f"after the {session.closes:%H:%M} close IST" in text
    assert f"**{session.amo_from:%H:%M} until {session.amo_until:%H:%M}**" in text
    assert f"({session.amo_until:%H:%M}-{session.opens:%H:%M}, {session.closes:%H:%M}-{session.amo_from:%H:%M})" in text


def test_the_documented_alert_budget_is_the_default():
    budget = Settings().alert_deadline_seconds
    for doc in ("architecture.md", "fyers.md"):
        assert f"{budget:g} s" in (DOCS / doc).read_text(encoding="utf-8"), doc


def test_the_documented_rate_wait_is_the_default():
    wait = Settings().rate_wait_seconds
    assert f"`RATE_WAIT_SECONDS` ({wait:g} s)" in (DOCS / "fyers.md").read_text(encoding="utf-8")


def test_the_documented_postback_limits_are_the_code_s():
    from app.services.trades import POSTBACK_READ_EVERY, POSTBACK_READS_PER_MINUTE
    from app.web.trades import POSTBACK_BUDGET

    text = (DOCS / "fyers.md").read_text(encoding="utf-8")
    assert f"`POSTBACK_BUDGET` ({POSTBACK_BUDGET:g} s)" in text
    assert f"`POSTBACK_READ_EVERY` ({POSTBACK_READ_EVERY:g} s)" in text
    assert f"`POSTBACK_READS_PER_MINUTE` ({POSTBACK_READS_PER_MINUTE})" in text


def test_the_documented_sync_job_fits_the_code():
    from app.web.trades import SYNC_BUDGET

    per_minute = Settings().fyers_rate_per_minute
    deploy = (DOCS / "deploy.md").read_text(encoding="utf-8")
    assert f"within {SYNC_BUDGET:g} s (`SYNC_BUDGET`)" in deploy
    for doc in ("deploy.md", "fyers.md"):
        words = " ".join((DOCS / doc).read_text(encoding="utf-8").split())  # sentences wrap anywhere
        assert f"3 of the {per_minute} requests a minute" in words, doc


def test_the_documented_book_grace_is_the_code_s():
    from app.domain.books import RECONCILE_GRACE

    assert RECONCILE_GRACE.total_seconds() == 60
    assert "in the last minute, `RECONCILE_GRACE`" in (DOCS / "alerts.md").read_text()


def test_the_documented_console_refresh_is_the_code_s():
    from app.web.console_views import REFRESH_SECONDS

    readme = (DOCS.parent / "README.md").read_text()
    assert f"refreshes itself every {REFRESH_SECONDS} s" in readme
