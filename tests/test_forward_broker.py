"""BROKER=fyers-paper: Fyers's login and live prices, paper orders; the real SDK against the fake Fyers.

A market order fills at the fake's LTP moved against the trader by PAPER_SLIPPAGE_TICKS, within
Fyers's market-price-protection band; a live price through a stop leg is a stop hit at the next
sweep; a whole day (entry, stop hit, EXIT alert, close-all) never reaches an order endpoint; the
read-only client refuses every order method without a request.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.adapters.forward_broker import ForwardBroker, market_fill, protection_band
from app.adapters.fyers_sdk import FyersClient, point_sdk_at
from app.adapters.pacer import Pacer
from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.errors import Unexecutable
from app.domain.orders import Side
from app.ports import TokenSource, TokenStatus
from app.settings import ConfigError, Settings
from tests.conftest import ADMIN, APP_ID, browser_login, fyers_settings_for, seed_alert, send_alert

SYMBOL = "NSE:NIFTY26NOV26000CE"  # the seed alert's contract on the clock's day
# The SDK's order-side calls (and the SDK-less margin post): none may leave in this mode.
ORDER_METHODS = (
    "place_order", "modify_order", "cancel_order", "exit_positions", "place_gtt_order", "modify_gtt_order",
    "cancel_gtt_order", "place_multileg_order", "place_basket_orders", "modify_basket_orders",
    "cancel_basket_orders", "convert_position", "attach_position_legs", "multiorder_margin",
)
ORDER_PATHS = {"orders/sync", "orders/async", "multi-order/sync", "multiorder/margin", "gtt/orders/sync"}


def admin():
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def forward(make_bridge, tmp_path, fake_fyers):
    """Build a logged-in fyers-paper bridge against the fake; keyword overrides change the settings."""

    def build(**overrides):
        settings = replace(fyers_settings_for(fake_fyers, tmp_path / "var"), broker="fyers-paper")
        bridge = make_bridge(settings=settings, **overrides)
        assert browser_login(bridge.client, fake_fyers).status_code == 200
        return bridge

    return build


def simulator(bridge) -> ForwardBroker:
    broker = bridge.services.broker.inner
    assert isinstance(broker, ForwardBroker) and broker.name == "fyers-paper"
    return broker


def enter(bridge, **overrides) -> dict:
    answer = send_alert(bridge.client, seed_alert(**overrides))
    assert answer.status_code == 200, answer.json
    return answer.json


def sync(bridge) -> dict:
    answer = bridge.client.post("/sync", headers=admin())
    assert answer.status_code == 200, answer.json
    return answer.json


def order_calls(fake) -> list[tuple[str, str]]:
    """Every request to an order endpoint: orders, exits and legs on positions, GTT, the margin calculator."""
    return [
        (call.method, call.path)
        for call in fake.calls
        if call.path in ORDER_PATHS or (call.path == "positions" and call.method != "GET")
    ]


@pytest.mark.parametrize(
    "ltp, action, expected",
    [
        (200.0, "BUY", "200.05"),  # one tick, well inside the band
        (5.0, "BUY", "6.50"),  # LTP <= 10: the band is Rs 1.5; 60 ticks (Rs 3) would leave it
        (15.0, "BUY", "17.25"),  # 10-20: 15 % (Rs 2.25)
        (25.0, "BUY", "27.50"),  # above 20: 10 % (Rs 2.50)
        (15.0, "SELL", "12.75"),  # a sell slips down, to the band's lower edge
    ],
)
def test_a_market_order_fills_at_the_live_ltp_slipped_against_the_trader_within_the_band(
    forward, fake_fyers, ltp, action, expected
):
    slippage = 1 if ltp == 200.0 else 60
    bridge = forward(paper_slippage_ticks=slippage, allow_short_options=True)
    fake_fyers.set_ltp(SYMBOL, ltp)
    placed = enter(bridge, action=action, sl=None, tp=None)
    assert placed["symbol"] == SYMBOL
    (order,) = simulator(bridge).orders
    assert order.status == "traded" and order.traded_price == Decimal(expected)
    assert order_calls(fake_fyers) == [] and fake_fyers.orders == []


def test_the_band_and_the_slippage_by_hand():
    tick = Decimal("0.05")
    assert protection_band(Decimal("10")) == Decimal("1.5") and protection_band(Decimal("20")) == Decimal("3.00")
    assert market_fill(Decimal("100"), Side.BUY, 2, tick, banded=True) == Decimal("100.10")
    assert market_fill(Decimal("100"), Side.SELL, 2, tick, banded=True) == Decimal("99.90")
    assert market_fill(Decimal("25.30"), Side.BUY, 100, tick, banded=True) == Decimal("27.80")  # 27.83 rounded in
    assert market_fill(Decimal("25.30"), Side.SELL, 100, tick, banded=True) == Decimal("22.80")  # 22.77 rounded in
    assert market_fill(Decimal("0.10"), Side.SELL, 5, tick, banded=False) == tick  # never below one tick


def test_a_live_price_through_the_stop_is_a_stop_hit_with_its_pnl(forward, fake_fyers):
    bridge = forward()
    fake_fyers.set_ltp(SYMBOL, 200.0)
    enter(bridge, sl=180, tp=240)
    sync(bridge)
    (entry,) = simulator(bridge).orders
    assert entry.traded_price == Decimal("200.05")
    stop = next(o for o in simulator(bridge).order_book(Deadline(2)) if o.order_id.endswith("-BO-2"))
    assert stop.status == "pending"
    fake_fyers.set_ltp(SYMBOL, float(stop.stop_price) - 0.5)
    sync(bridge)
    day = bridge.services.journal.day(bridge.services.clock.now().astimezone(IST).date())
    (hit,) = [r for r in day if str(r.get("outcome")) == "stop_hit"]
    exit_price = stop.stop_price - Decimal("0.55")  # the crossing LTP, one tick against the trader
    assert Decimal(str(hit["trade"]["exit_price"])) == exit_price
    assert Decimal(str(hit["trade"]["pnl"])) == (exit_price - entry.traded_price) * 65
    assert order_calls(fake_fyers) == [] and fake_fyers.orders == []


def test_a_whole_day_never_calls_an_order_endpoint(forward, fake_fyers):
    bridge = forward(market_hours_check=True)  # the market's status comes from Fyers too
    fake_fyers.set_ltp(SYMBOL, 200.0)
    enter(bridge, sl=180, tp=240, idempotency_key="entry-1")
    sync(bridge)
    fake_fyers.set_ltp(SYMBOL, 170.0)  # through the stop
    sync(bridge)
    fake_fyers.set_ltp(SYMBOL, 210.0)
    enter(bridge, sl=190, tp=250, idempotency_key="entry-2")
    exited = enter(bridge, action="EXIT", qty=None, idempotency_key="exit-2")
    assert exited["closing"] is True
    enter(bridge, sl=190, tp=250, idempotency_key="entry-3")
    closed = bridge.client.post("/admin/close-all", json={"confirm": True}, headers=admin())
    assert closed.status_code == 200, closed.json
    sync(bridge)
    held = [p for p in simulator(bridge).positions(Deadline(2)) if p.net_qty]
    assert held == []
    assert len([o for o in simulator(bridge).orders if o.status == "traded"]) >= 5  # 3 entries, an exit, a close
    assert bridge.client.get("/readyz").status_code == 200  # readiness asks Fyers's profile
    assert order_calls(fake_fyers) == [] and fake_fyers.orders == [] and fake_fyers.gtt_orders == []
    # Beyond the login's own exchange, nothing but reads reached Fyers.
    asked = {(call.method, call.path) for call in fake_fyers.calls} - {("POST", "validate-authcode")}
    assert asked == {("GET", "generate-authcode"), ("GET", "quotes"), ("GET", "marketStatus"), ("GET", "profile")}


def test_without_a_live_price_nothing_is_booked_and_the_book_still_reads(forward, fake_fyers):
    bridge = forward()
    fake_fyers.set_ltp(SYMBOL, 200.0)
    enter(bridge, sl=180, tp=240, idempotency_key="before")
    fake_fyers.add_fault("quotes", "status", status=503, times=None)
    answer = send_alert(bridge.client, seed_alert(idempotency_key="blind"))
    assert answer.status_code == 503, answer.json  # as when Fyers cannot be reached: certainly not placed
    assert len(simulator(bridge).orders) == 1
    assert sync(bridge)  # the paper book stands at its last live prices
    fake_fyers.clear_faults()
    fake_fyers.set_ltp(SYMBOL, 170.0)
    sync(bridge)
    assert [o.status for o in simulator(bridge).order_book(Deadline(2))] == ["traded", "traded", "cancelled"]


def test_the_paper_price_control_cannot_move_a_live_price(forward, fake_fyers):
    bridge = forward()
    fake_fyers.set_ltp(SYMBOL, 200.0)
    enter(bridge, sl=180, tp=240)
    moved = bridge.client.post("/admin/paper/price", json={"symbol": SYMBOL, "price": 100.0}, headers=admin())
    assert moved.status_code == 422 and "prices from Fyers" in moved.json["message"]
    sync(bridge)
    assert [o.status for o in simulator(bridge).order_book(Deadline(2))] == ["traded", "pending", "pending"]


class FixedToken(TokenSource):
    """One token the fake issued, for a client built by hand."""

    def __init__(self, token: str):
        self.token = token

    def access_token(self) -> str:
        return self.token

    def mark_invalid(self, access_token: str, reason: str) -> None:
        raise AssertionError(f"the fake refused the token: {reason}")

    def status(self) -> TokenStatus:
        return TokenStatus(True, None, "fixed", False)


@pytest.fixture
def read_only_client(fake_fyers):
    point_sdk_at(fake_fyers.api_base, fake_fyers.data_base)
    client = FyersClient(APP_ID, FixedToken(fake_fyers.issue_token()), Pacer(), read_only=True)
    yield client
    client.close()


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_the_read_only_client_refuses_each_order_method_without_a_request(read_only_client, fake_fyers, method):
    before = len(fake_fyers.calls)
    with pytest.raises(Unexecutable, match=f"read-only.*{method} is never sent"):
        read_only_client.call(method, {"id": "26112000000001"}, Deadline(2), 1.0)
    assert len(fake_fyers.calls) == before


def test_the_read_only_client_still_reads(read_only_client, fake_fyers):
    body = read_only_client.read("quotes", {"symbols": SYMBOL}, Deadline(2))
    assert body["s"] == "ok" and [(c.method, c.path) for c in fake_fyers.calls] == [("GET", "quotes")]


def test_fyers_paper_needs_what_fyers_needs():
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_TOKEN is required"):
        Settings.from_env({"BROKER": "fyers-paper"})
    assert Settings.from_env({}).paper_slippage_ticks == 1
    with pytest.raises(ConfigError, match="PAPER_SLIPPAGE_TICKS"):
        Settings.from_env({"PAPER_SLIPPAGE_TICKS": "-1"})
