"""A position book per strategy: its own tagged orders in, Fyers's positions as the truth it is reconciled to.

The pure book first (applied once per tag, undone, reconciled), then the books in a local state
store with a real journal and notifications, then a strategy's alerts over the real SDK against
the fake Fyers: the book records the entry, a stop hit empties it, and a position closed by hand
is reconciled by the sync sweep and reported.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from fyers_apiv3 import fyersModel

from app.adapters.coalescing import POSITIONS_FRESH_FOR
from app.adapters.local_state import LocalStateStore
from app.deadline import Deadline
from app.domain.books import (
    APPLIED_KEPT,
    RECONCILE_GRACE,
    Book,
    Holding,
    apply,
    book_as_dict,
    book_from_dict,
    reconcile,
    undo,
)
from app.domain.contracts import IST
from app.domain.orders import BrokerOrder, OrderRequest, Position, Side
from app.domain.trades import Event, Protection, Seen, Trade
from app.logs import Redactor
from app.services.books import StrategyBooks
from app.services.journal import Journal
from app.services.notify import Notifications
from tests.clock import FixedClock
from tests.conftest import ADMIN, APP_ID, MARKET_MORNING, seed_alert, send_alert
from tests.test_login_binding import Phone

CE = "NSE:NIFTY25N2326000CE"
PE = "NSE:NIFTY25N2326000PE"
EARLY = MARKET_MORNING
LATER = MARKET_MORNING + timedelta(minutes=5)
SWEEP = MARKET_MORNING + timedelta(minutes=30)  # well past every holding's grace


def bought(book: Book, tag: str, qty: int, at: datetime = EARLY, symbol: str = CE) -> Book:
    return apply(book, tag, symbol, "INTRADAY", "NIFTY", qty, at)


def held_at_fyers(*rows: tuple[str, int]) -> list[Position]:
    return [Position(symbol, net, "INTRADAY") for symbol, net in rows]


# The pure book


def test_an_order_is_applied_once_per_tag():
    book = bought(Book("trend"), "T1", 65)
    assert bought(book, "T1", 65) == book  # a resend, a second look: nothing twice
    book = bought(book, "T2", 65)
    assert book.qty_of(CE) == 130
    assert [h.qty for h in book.held("NIFTY")] == [130] and book.held("BANKNIFTY") == []
    closed = apply(book, "T3", CE, "INTRADAY", "NIFTY", -130)
    assert closed.holdings == {} and closed.held() == []  # no zero-qty holding is kept


def test_undo_reverses_an_order_that_never_stood():
    book = bought(bought(Book("trend"), "T1", 65), "T2", 65)
    book = undo(book, "T2")
    assert book.qty_of(CE) == 65
    assert undo(book, "T2") == book  # undone once
    assert bought(book, "T2", 65) == book  # and not applied again by a late resend
    assert undo(book, "never-applied") == book


def test_undo_of_an_exit_the_exchange_rejected_restores_the_holding():
    book = bought(Book("trend"), "T1", 65)
    book = apply(book, "X1", CE, "INTRADAY", "NIFTY", -65)
    assert book.held() == []
    assert undo(book, "X1").qty_of(CE) == 65


def test_undo_after_a_reconcile_emptied_the_holding_never_opens_the_other_side():
    book = bought(Book("trend"), "T1", 65)
    (emptied,), _ = reconcile([book], [], SWEEP)
    assert undo(emptied, "T1").held() == []


def test_a_position_closed_by_hand_empties_the_book():
    book = bought(Book("trend"), "T1", 65)
    (fitted,), changes = reconcile([book], held_at_fyers((CE, 0)), SWEEP)
    assert fitted.held() == []
    assert changes == [
        {"strategy": "trend", "symbol": CE, "product_type": "INTRADAY", "book_qty": 65, "fyers_qty": 0, "now": 0}
    ]
    assert reconcile([fitted], [], SWEEP) == ([fitted], [])  # reconciled once


def test_a_position_partly_closed_shrinks_the_book_to_it():
    book = bought(Book("trend"), "T1", 130)
    (fitted,), changes = reconcile([book], held_at_fyers((CE, 65)), SWEEP)
    assert fitted.qty_of(CE) == 65 and [c["now"] for c in changes] == [65]


def test_a_short_closed_by_hand_empties_the_short():
    book = apply(Book("writer"), "S1", CE, "INTRADAY", "NIFTY", -65, EARLY)
    (fitted,), changes = reconcile([book], held_at_fyers((CE, 0)), SWEEP)
    assert fitted.held() == [] and changes[0]["book_qty"] == -65


def test_two_strategies_on_one_contract_the_latest_opened_shrinks_first():
    first = bought(bought(Book("trend"), "A1", 65), "A2", 65, symbol=PE)
    second = bought(Book("breakout"), "B1", 65, at=LATER)
    (a, b), changes = reconcile([first, second], held_at_fyers((CE, 65), (PE, 65)), SWEEP)
    assert a == first  # its CE and its PE stand: Fyers holds what it holds
    assert b.held() == []
    assert [(c["strategy"], c["book_qty"], c["fyers_qty"], c["now"]) for c in changes] == [("breakout", 65, 65, 0)]
    (a, b), _ = reconcile([first, second], held_at_fyers((CE, 0), (PE, 65)), SWEEP)
    assert a.qty_of(CE) == 0 and a.qty_of(PE) == 65 and b.held() == []  # gone at Fyers: every book's holding


def test_fyers_holding_more_than_the_books_grows_no_book():
    book = bought(Book("trend"), "T1", 65)
    assert reconcile([book], held_at_fyers((CE, 195)), SWEEP) == ([book], [])
    assert reconcile([book], held_at_fyers((CE, 65)), SWEEP) == ([book], [])


def test_a_holding_just_opened_or_still_working_is_not_cut():
    book = bought(Book("trend"), "T1", 65)
    assert reconcile([book], [], EARLY + RECONCILE_GRACE / 2) == ([book], [])  # its fill may be on its way
    amo = BrokerOrder("26111800000001", CE, 65, Side.BUY, "INTRADAY", "T1", "pending")
    assert reconcile([book], [], SWEEP, [amo]) == ([book], [])  # it stands at Fyers, unfilled
    assert reconcile([book], [], SWEEP, [BrokerOrder("1", CE, 65, Side.BUY, "INTRADAY", "T9", "pending")])[1]


def test_opposite_holdings_that_net_to_fyers_stand():
    long_ = bought(Book("trend"), "T1", 65)
    short = apply(Book("writer"), "S1", CE, "INTRADAY", "NIFTY", -65, EARLY)
    assert reconcile([long_, short], [], SWEEP) == ([long_, short], [])


def test_a_book_keeps_the_last_tags_and_survives_its_json():
    book = Book("trend")
    for n in range(APPLIED_KEPT + 5):
        book = bought(book, f"T{n}", 65)
    assert len(book.applied) == APPLIED_KEPT and "T0" not in book.applied
    assert book_from_dict(book_as_dict(book)) == book
    held = Holding(CE, "INTRADAY", "NIFTY", 65 * (APPLIED_KEPT + 5), EARLY.isoformat())
    assert book.holdings[f"{CE}|INTRADAY"] == held


# The books in the state store


@pytest.fixture
def clock():
    return FixedClock(EARLY)


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def books(tmp_path, clock, phone):
    store = LocalStateStore(tmp_path)
    journal = Journal(store, clock)
    return StrategyBooks(store, journal, Notifications([phone], Redactor(), clock), clock)


def order(tag: str | None, qty: int = 65, side: Side = Side.BUY, symbol: str = CE) -> OrderRequest:
    return OrderRequest(symbol, qty, side, "INTRADAY", tag)


def test_the_books_record_each_order_once_and_undo_it(books):
    books.record("trend", order("T1"), "NIFTY")
    books.record("trend", order("T1"), "NIFTY")
    books.record("trend", order(None), "NIFTY")  # untagged (CO/BO): cannot be told apart, skipped
    books.record("trend", order("X1", side=Side.SELL), "NIFTY")
    books.record("breakout", order("B1", symbol=PE), "NIFTY")
    assert books.book("trend").held() == [] and books.book("breakout").qty_of(PE) == 65
    books.undo("trend", "X1")
    assert books.book("trend").qty_of(CE) == 65
    assert sorted(b.strategy for b in books.all()) == ["breakout", "trend"]
    assert books.book("nothing yet") == Book("nothing yet")


def test_a_strategy_name_that_is_not_a_safe_document_name_is_hashed(books, tmp_path):
    books.record("Trend v2: NIFTY/15m", order("T1"), "NIFTY")
    assert books.book("Trend v2: NIFTY/15m").qty_of(CE) == 65
    (name,) = [p.name for p in (tmp_path / "books").iterdir()]
    assert name.startswith("h") and ":" not in name and " " not in name


def test_a_reconcile_is_journalled_and_told_once(books, clock, phone):
    books.record("trend", order("T1"), "NIFTY")
    books.record("breakout", order("B1", symbol=PE), "NIFTY")
    clock.instant = SWEEP
    changes = books.reconcile(held_at_fyers((PE, 65)), Deadline(2))
    assert [(c["strategy"], c["symbol"], c["now"]) for c in changes] == [("trend", CE, 0)]
    assert books.reconcile(held_at_fyers((PE, 65)), Deadline(2)) == []  # nothing left to change, nothing told
    records = Journal(books._store, clock).day(SWEEP.astimezone(IST).date())
    (record,) = [r for r in records if str(r.get("outcome")) == "book_reconciled"]
    assert record["alert_id"] == "book-trend" and record["strategy"] == "trend" and record["trade"]["book_qty"] == 65
    (told,) = phone.received
    assert told.kind == "book_reconciled" and "trend" in told.text and CE in told.text


# A strategy's alerts against the fake Fyers


def admin():
    return {"Authorization": f"Bearer {ADMIN}"}


def sync(client) -> dict:
    answer = client.post("/sync", headers=admin())
    assert answer.status_code == 200, answer.json
    return answer.json


def enter(client, key: str) -> dict:
    answer = send_alert(client, seed_alert(strategy="trend", idempotency_key=key))
    assert answer.status_code == 200, answer.json
    return answer.json


@pytest.fixture
def by_hand(fake_fyers, tmp_path):
    """The trader's own SDK client at the fake: what they do in the Fyers app."""
    model = fyersModel.FyersModel(
        client_id=APP_ID, token=fake_fyers.issue_token(), is_async=False, log_path=str(tmp_path)
    )
    yield model
    model.service.session.close()
    model.api_logger.logger_handler.close()
    model.request_logger.logger_handler.close()


def test_a_strategy_entry_is_in_its_book_and_a_stop_hit_empties_it(fyers, fake_fyers, clock):
    client, services = fyers()
    placed = enter(client, "k-stop")
    assert services.books.book("trend").qty_of(placed["symbol"]) == 65
    assert client.get("/books", headers=admin()).json["books"]["trend"][0]["qty"] == 65
    sync(client)
    stop_leg = next(r for r in fake_fyers.child_legs if r["type"] == 3)
    fake_fyers.set_ltp(placed["symbol"], float(stop_leg["stopPrice"]) - 0.5)
    clock.instant = SWEEP
    body = sync(client)
    assert "stop_hit" in [e["event"] for e in body["events"]]
    assert services.books.book("trend").held() == [] and body["books"] == []  # the exit, not a reconcile
    assert client.get("/books", headers=admin()).json["books"] == {}


def test_a_position_closed_by_hand_is_reconciled_by_the_sweep_and_reported(fyers, fake_fyers, clock, by_hand, phone):
    client, services = fyers(channels=[phone])
    placed = enter(client, "k-hand")
    sync(client)
    answer = by_hand.exit_positions({"id": f"{placed['symbol']}-INTRADAY"})
    assert answer["s"] == "ok", answer
    clock.instant = SWEEP
    time.sleep(POSITIONS_FRESH_FOR)  # the last sweep's positions are no longer shared
    body = sync(client)
    assert body["books"] == [
        {
            "strategy": "trend",
            "symbol": placed["symbol"],
            "product_type": "INTRADAY",
            "book_qty": 65,
            "fyers_qty": 0,
            "now": 0,
        }
    ]
    assert services.books.book("trend").held() == []
    journal = services.journal.day(SWEEP.astimezone(IST).date())
    assert [r["alert_id"] for r in journal if str(r.get("outcome")) == "book_reconciled"] == ["book-trend"]
    assert [n.kind for n in phone.received].count("book_reconciled") == 1
    assert sync(client)["books"] == []  # told once


def test_the_sweep_asks_fyers_nothing_for_books_that_hold_nothing(fyers, fake_fyers):
    client, _ = fyers()
    fake_fyers.reset()
    assert sync(client)["books"] == []
    assert fake_fyers.count("/api/v3/positions") == 0 and fake_fyers.count("/api/v3/orders") == 0


def test_an_entry_the_exchange_rejects_leaves_the_book(fyers, fake_fyers, clock):
    client, services = fyers()
    fake_fyers.reject_after_accept("RED:Margin Shortfall")
    placed = enter(client, "k-rejected")
    assert services.books.book("trend").qty_of(placed["symbol"]) == 65  # it may stand: booked when placed
    sync(client)  # accepted (in transit) at the first look, rejected at the next
    sync(client)
    assert services.books.book("trend").held() == []


def test_a_strategy_exit_is_booked_and_files_no_trade(fyers, clock):
    client, services = fyers()
    placed = enter(client, "k-exit")
    exit_order = OrderRequest(placed["symbol"], 65, Side.SELL, "INTRADAY", "trendexit1", closing=True)
    assert services.desk.file("exit-alert", "trend", exit_order, None, "NIFTY") is None
    assert services.books.book("trend").held() == []
    today = clock.now().astimezone(IST).date()
    assert len(services.store.list(f"trades/{today.isoformat()}/")) == 1  # the entry's trade only


def test_a_partly_filled_entry_keeps_what_filled_and_a_hit_takes_its_exit_out(books):
    books.record("trend", order("T1", qty=130), "NIFTY")
    trade = Trade("T1", "a1", CE, Side.BUY, 130, "INTRADAY", Protection.LEGS, strategy="trend")
    cancelled = replace(trade, orders={"1": Seen("1", "cancelled", filled_qty=65, role="entry")})
    books.follow(cancelled, [(Event.CANCELLED, {"order_id": "1", "filled": 65})])
    assert books.book("trend").qty_of(CE) == 65
    books.follow(cancelled, [(Event.STOP_HIT, {"qty": 65})])
    books.follow(cancelled, [(Event.STOP_HIT, {"qty": 65})])  # told once, and booked once even if told again
    assert books.book("trend").held() == []
