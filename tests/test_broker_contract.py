"""The Broker contract, run against both brokers: the paper broker and Fyers (the real SDK against the fake Fyers)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.adapters.paper_broker import PaperBroker
from app.deadline import Deadline
from app.domain.errors import LoginRequired
from app.domain.orders import OrderRequest, Position, Side, order_tag
from app.ports import TokenSource, TokenStatus

CONTRACT = "NSE:NIFTY26NOV26000CE"
INDEX = "NSE:NIFTY50-INDEX"
LOT = 65


class IssuedSession(TokenSource):
    """One access token the fake Fyers issued, used until the broker refuses it."""

    def __init__(self, token: str):
        self._token = token
        self.refused: str | None = None

    def access_token(self) -> str:
        """The issued token; LoginRequired once the broker has refused it."""
        if self.refused:
            raise LoginRequired(self.refused)
        return self._token

    def mark_invalid(self, access_token: str, reason: str) -> None:
        """Remember the refusal: no call uses the token again."""
        self.refused = reason

    def status(self) -> TokenStatus:
        """Logged in until refused."""
        return TokenStatus(self.refused is None, None, self.refused or "issued by the fake Fyers", False)


@pytest.fixture(params=["paper", "fyers"])
def broker(request):
    if request.param == "paper":
        yield PaperBroker()
        return
    from app.adapters.fyers_broker import FyersBroker
    from app.adapters.fyers_sdk import point_sdk_at

    fake = request.getfixturevalue("fake_fyers")
    point_sdk_at(fake.api_base, fake.data_base)
    fyers = FyersBroker(fake.app_id, IssuedSession(fake.issue_token()))
    yield fyers
    fyers.close()


def buy(tag: str | None, qty: int = LOT, product: str = "INTRADAY") -> OrderRequest:
    return OrderRequest(CONTRACT, qty, Side.BUY, product, tag)


def held(broker, symbol: str = CONTRACT) -> int:
    """The net quantity held in `symbol` (a broker may also list the day's flat rows)."""
    return sum(p.net_qty for p in broker.positions(Deadline(2)) if p.symbol == symbol)


def a_minute_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=1)


def test_quotes_price_every_symbol_asked_for(broker):
    prices = broker.quotes([CONTRACT, INDEX], Deadline(2))
    assert set(prices) == {CONTRACT, INDEX}
    assert all(isinstance(price, Decimal) and price > 0 for price in prices.values())


def test_no_position_before_any_order(broker):
    assert held(broker) == 0


def test_a_placed_order_is_in_the_positions_and_found_by_its_tag(broker):
    order = buy(order_tag("contract-placed"))
    placed = broker.place_order(order, Deadline(2))
    assert placed.order_id
    found = broker.find_order(order, a_minute_ago(), Deadline(2))
    assert found is not None and found.order_id == placed.order_id
    assert (found.symbol, found.qty, found.side, found.product_type) == (CONTRACT, LOT, Side.BUY, "INTRADAY")
    assert held(broker) == LOT


def test_an_order_never_placed_is_not_found(broker):
    broker.place_order(buy(order_tag("contract-other")), Deadline(2))
    assert broker.find_order(buy(order_tag("contract-never-sent")), a_minute_ago(), Deadline(2)) is None


def test_exit_closes_the_position_once_then_finds_nothing_to_close(broker):
    broker.place_order(buy(order_tag("contract-to-exit")), Deadline(2))
    position = Position(CONTRACT, LOT, "INTRADAY")
    first = broker.exit_position(position, Deadline(2))
    assert (first.position_id, first.status) == (position.position_id, "closed")
    assert held(broker) == 0
    assert broker.exit_position(position, Deadline(2)).status == "nothing_to_close"


def test_ready_with_a_session(broker):
    ready, why = broker.readiness()
    assert ready is True and isinstance(why, str) and why


def test_market_open_answers_yes_no_or_cannot_say(broker):
    assert broker.market_open(Deadline(2)) in (True, False, None)
