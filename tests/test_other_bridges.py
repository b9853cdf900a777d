"""Other bridges' messages, read as the trader already wrote them: order_legs (FastAPI/Dhan servers), OpenAlgo.

The multi-leg format places the hedge first, whatever order its legs are listed in; a field that
cannot apply to Fyers options is refused naming it as written (order_legs[1].orderType). OpenAlgo's
strategy message (action + position_size, no option fields) becomes the strategy's position on the
contract STRATEGY_CONTRACTS names.
"""

from __future__ import annotations

import copy

import pytest

from app.deadline import Deadline
from app.domain.openalgo import StrategyContract
from app.settings import ConfigError, Settings
from tests.conftest import ADMIN, SECRET, seed_alert, send_alert

SPOT = "NSE:NIFTY50-INDEX"
# As the FastAPI/Dhan webhook servers send it: every value a string, the sold leg listed first.
ORDER_LEGS = {
    "secret": SECRET,
    "alertType": "multi_leg_order",
    "idempotency_key": "spread-ol-1",
    # The sold leg is not held: its hedge is another contract (NAKED_SHORT looks at contracts, not spreads).
    "open_short": True,
    "order_legs": [
        {"transactionType": "S", "orderType": "MKT", "quantity": "65", "exchange": "NFO", "symbol": "NIFTY",
         "strikeprice": "ATM", "optionType": "CE", "expiry": "WEEKLY", "productType": "I", "sort_order": "1",
         "price": "0", "meta": {"leg": "short call"}},
        {"transactionType": "B", "orderType": "MKT", "quantity": "65", "exchange": "NFO", "symbol": "NIFTY",
         "strikeprice": "OTM2", "optionType": "CE", "expiry": "WEEKLY", "productType": "I", "sort_order": "2",
         "price": "0", "meta": {"leg": "hedge"}},
    ],
}
TREND = StrategyContract("trend", "NIFTY", "ATM", "WEEKLY", 1)


def order_legs(*changes: tuple[int | None, str, object], **top) -> dict:
    """The two-leg sample with (leg index, field, value) changes (None removes), and top-level ones."""
    message = copy.deepcopy(ORDER_LEGS)
    for index, name, value in changes:
        target = message if index is None else message["order_legs"][index]
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    message.update(top)
    return message


def openalgo(action: str, size, key: str, **extra) -> dict:
    """OpenAlgo's strategy webhook message, with our secret and strategy."""
    return {"token": SECRET, "strategy": "trend", "symbol": "NIFTY", "action": action, "position_size": size,
            "idempotency_key": key, **extra}


# -- order_legs ------------------------------------------------------------------------------


def test_order_legs_place_the_hedge_first_at_fyers(fyers, fake_fyers):
    client, _ = fyers()
    fake_fyers.set_ltp(SPOT, 26010.0)
    response = send_alert(client, ORDER_LEGS)
    assert response.status_code == 200, response.json
    placed = [(o["symbol"], o["side"], o["qty"], o["productType"]) for o in fake_fyers.placed_orders()]
    assert placed == [
        ("NSE:NIFTY26NOV26100CE", 1, 65, "INTRADAY"),  # the BUY (OTM2) first, though listed second
        ("NSE:NIFTY26NOV26000CE", -1, 65, "INTRADAY"),
    ]


def test_order_legs_place_the_hedge_first_on_paper(make_bridge):
    bridge = make_bridge()
    response = send_alert(bridge.client, ORDER_LEGS)
    assert response.status_code == 200, response.json
    assert [o.side.name for o in bridge.paper.orders] == ["BUY", "SELL"]
    assert [leg["side"] for leg in response.json["legs"]] == ["BUY", "SELL"]


def test_sort_order_orders_legs_of_the_same_side(make_bridge):
    bridge = make_bridge(webhook_max_qty=2)
    message = order_legs((0, "transactionType", "B"), (0, "sort_order", "2"), (1, "sort_order", "1"))
    response = send_alert(bridge.client, message)
    assert response.status_code == 200, response.json
    # Both buys: sort_order puts the OTM2 (order_legs[1]) first.
    assert [o.symbol[-7:] for o in bridge.paper.orders] == ["26100CE", "26000CE"]


def test_a_hedged_sell_without_open_short_is_refused_as_a_naked_short(make_bridge):
    bridge = make_bridge()
    response = send_alert(bridge.client, order_legs((None, "open_short", None)))
    assert response.status_code == 422 and response.json["rule"] == "NAKED_SHORT", response.json
    assert response.json["field"] == "order_legs[0].transactionType"  # the planner names it as the trader wrote it
    assert bridge.paper.orders == []


@pytest.mark.parametrize(
    ("changes", "status", "field", "says"),
    [
        ([(0, "orderType", "LMT")], 422, "order_legs[0].orderType", 'order_legs[0].orderType "LMT" is not supported'),
        ([(1, "orderType", "SL-M")], 422, "order_legs[1].orderType", "market orders"),
        ([(0, "productType", "C")], 400, "order_legs[0].productType", "options are not delivery products"),
        ([(1, "exchange", "NSE")], 400, "order_legs[1].exchange", 'order_legs[1].exchange "NSE" is the cash market'),
        ([(0, "exchange", "BFO")], 400, "order_legs[0].exchange", "trades on NFO"),
        ([(1, "instrument", "EQ")], 400, "order_legs[1].instrument", "an equity share, not an option"),
        ([(0, "instrument", "FUTIDX")], 400, "order_legs[0].instrument", "an index future"),
        ([(0, "transactionType", "X")], 400, "order_legs[0].transactionType", 'got "X"'),
        ([(1, "quantity", "sixty")], 400, "order_legs[1].quantity", 'got "sixty"'),
        ([(1, "sort_order", "first")], 400, "order_legs[1].sort_order", 'whole number, got "first"'),
        ([(1, "sort_order", None)], 400, "order_legs[1].sort_order", "give every leg a sort_order"),
        ([(1, "optionType", "XX")], 400, "order_legs[1].optionType", 'got "XX"'),
        ([(0, "strikeprice", "ATMX")], 400, "order_legs[0].strikeprice", "ATMX"),
        ([(1, "side", "B")], 400, "order_legs[1].side", "unknown field"),
        ([(None, "alertType", "single_order")], 400, "alertType", '"single_order" is not read'),
        ([(None, "order_legs", [])], 400, "order_legs", "1 to 6 legs"),
    ],
)
def test_a_field_that_cannot_apply_is_refused_naming_it_as_written(
    make_bridge, changes, status, field, says
):
    bridge = make_bridge()
    response = send_alert(bridge.client, order_legs(*changes))
    assert response.status_code == status, response.json
    assert response.json["field"] == field and says in response.json["message"], response.json
    assert bridge.paper.orders == []


def test_the_servers_own_option_field_names_are_read(make_bridge):
    # strike_price / option_type / expiry_date: how public FastAPI and Dhan-server alerts name them.
    renamed = order_legs(
        *[(i, old, None) for i in (0, 1) for old in ("strikeprice", "optionType", "expiry")],
        *[(i, new, value) for i, strike in ((0, "ATM"), (1, "OTM2"))
          for new, value in (("strike_price", strike), ("option_type", "CE"), ("expiry_date", "WEEKLY"))],
    )
    bridge = make_bridge()
    response = send_alert(bridge.client, renamed)
    assert response.status_code == 200, response.json
    assert [order.side.name for order in bridge.paper.orders if order.parent_id is None] == ["BUY", "SELL"]


@pytest.mark.parametrize("instrument", ["OPTIDX", "optidx", "OPTSTK", "OPT"])
def test_an_options_instrument_is_read(make_bridge, instrument):
    bridge = make_bridge()
    response = send_alert(bridge.client, order_legs((0, "instrument", instrument), (1, "instrument", instrument)))
    assert response.status_code == 200, response.json
    assert len(bridge.paper.orders) == 2


def test_a_quantity_off_the_lot_is_named_by_the_leg_as_listed(make_bridge):
    bridge = make_bridge()
    response = send_alert(bridge.client, order_legs((1, "quantity", "60")))
    assert response.status_code == 400 and response.json["field"] == "order_legs[1].quantity", response.json
    assert bridge.paper.orders == []


def test_each_legs_meta_and_the_sent_fields_are_journaled(make_bridge, clock):
    bridge = make_bridge()
    assert send_alert(bridge.client, ORDER_LEGS).status_code == 200
    record = bridge.services.journal.day(clock.now().date())[-1]
    kept = record["alert"]["order_legs"]
    assert [leg["meta"] for leg in kept] == [{"leg": "short call"}, {"leg": "hedge"}]
    assert [(leg["transactionType"], leg["orderType"], leg["sort_order"], leg["price"]) for leg in kept] == [
        ("S", "MKT", "1", "0"), ("B", "MKT", "2", "0"),
    ]
    assert "secret" not in record["alert"]
    listed = bridge.client.get("/orders", headers={"Authorization": f"Bearer {ADMIN}"}).json
    assert "short call" in str(listed)


def test_option_fields_at_the_top_serve_every_leg_and_a_nonzero_price_is_only_kept(make_bridge):
    bridge = make_bridge()
    message = order_legs(
        *[(i, name, None) for i in (0, 1) for name in ("symbol", "optionType", "expiry")],
        (0, "price", "148.5"), symbol="NSE:NIFTY", optionType="CE", expiry="WEEKLY",
    )
    response = send_alert(bridge.client, message)
    assert response.status_code == 200, response.json
    assert [o.symbol for o in bridge.paper.orders] == ["NSE:NIFTY26NOV26100CE", "NSE:NIFTY26NOV26000CE"]


def test_a_ticker_in_an_order_leg(make_bridge):
    from app.domain.alert import Alert

    if "ticker" not in Alert.__dataclass_fields__:
        pytest.skip("exact tickers as symbol are the TICKERS part of issue 24, not landed yet")
    bridge = make_bridge()
    message = order_legs(
        *[(i, name, None) for i in (0, 1) for name in ("strikeprice", "optionType", "expiry")],
        (0, "symbol", "NSE:NIFTY26NOV26000CE"), (1, "symbol", "nse:nifty26nov26100ce"),
    )
    response = send_alert(bridge.client, message)
    assert response.status_code == 200, response.json
    assert [o.symbol for o in bridge.paper.orders] == ["NSE:NIFTY26NOV26100CE", "NSE:NIFTY26NOV26000CE"]


# -- OpenAlgo --------------------------------------------------------------------------------


@pytest.fixture
def strategy_bridge(make_bridge):
    return make_bridge(strategy_contracts=(TREND,))


def held_by(bridge, strategy: str) -> dict[str, int]:
    return {h.symbol: h.qty for h in bridge.services.books.book(strategy).held() if h.qty}


def test_position_size_0_flattens_what_the_strategy_opened(strategy_bridge):
    opened = send_alert(strategy_bridge.client, openalgo("BUY", "1", "oa-1"))
    assert opened.status_code == 200, opened.json
    assert opened.json["symbol"] == "NSE:NIFTY26NOV26000CE" and opened.json["qty"] == 65  # 1 lot, the ATM CE
    assert held_by(strategy_bridge, "trend") == {"NSE:NIFTY26NOV26000CE": 65}
    flat = send_alert(strategy_bridge.client, openalgo("SELL", "0", "oa-2"))
    assert flat.status_code == 200, flat.json
    assert held_by(strategy_bridge, "trend") == {}
    positions = strategy_bridge.services.broker.positions(Deadline(5))
    assert all(p.net_qty == 0 for p in positions), positions


def test_fyers_position_size_0_flattens_the_strategy(fyers, fake_fyers):
    client, services = fyers(strategy_contracts=(TREND,))
    assert send_alert(client, openalgo("BUY", 1, "oa-1")).status_code == 200
    flat = send_alert(client, openalgo("BUY", 0, "oa-2"))
    assert flat.status_code == 200, flat.json
    assert {p["symbol"]: p["netQty"] for p in fake_fyers.positions if p["netQty"]} == {}
    assert [h for h in services.books.book("trend").held() if h.qty] == []
    first = fake_fyers.placed_orders()[0]
    assert first["symbol"].endswith("CE") and (first["side"], first["qty"]) == (1, 65)  # the ATM CE, 1 lot


@pytest.mark.parametrize("size", ["1", "-1", -65])
def test_sell_with_a_position_opens_the_short_side(strategy_bridge, size):
    response = send_alert(strategy_bridge.client, openalgo("sell", size, f"oa-short-{size}"))
    assert response.status_code == 200, response.json
    assert response.json["symbol"].endswith("PE") and response.json["side"] == "BUY"  # SHORT_AS buy_pe


def test_short_as_sell_ce_maps_short_to_a_sold_call(make_bridge):
    bridge = make_bridge(strategy_contracts=(TREND,), short_as="sell_ce", allow_short_options=True)
    response = send_alert(bridge.client, openalgo("SELL", 1, "oa-sell-ce"))
    assert response.status_code == 200, response.json
    assert response.json["symbol"].endswith("CE") and response.json["side"] == "SELL"


@pytest.mark.parametrize(
    ("message", "field", "says"),
    [
        (openalgo("BUY", -1, "k"), "position_size", "a short comes with SELL"),
        (openalgo("BUY", "lots", "k"), "position_size", 'got "lots"'),
        (openalgo("HOLD", 1, "k"), "action", 'must be one of BUY, SELL, got "HOLD"'),
        (openalgo("BUY", 1, "k", strategy="scalp"), "strategy", "add it to STRATEGY_CONTRACTS"),
        (openalgo("BUY", 1, "k", strategy=None), "strategy", "strategy is required"),
        (openalgo("BUY", 1, "k", symbol="BANKNIFTY"), "symbol", "is not NIFTY"),
        (openalgo("BUY", 1, "k", symbol="RELIANCE-EQ"), "symbol", "is not NIFTY"),
        (openalgo("BUY", 1, "k", quantity=65), "quantity", "STRATEGY_CONTRACTS gives strategy trend"),
        (openalgo("BUY", "{{strategy.position_size}}", "k"), "position_size", "strategy alerts"),
    ],
)
def test_an_openalgo_message_that_cannot_be_read_is_refused(strategy_bridge, message, field, says):
    message = {k: v for k, v in message.items() if v is not None}
    response = send_alert(strategy_bridge.client, message)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field and says in response.json["message"], response.json
    assert strategy_bridge.paper.orders == []


def test_a_native_alert_with_position_size_trades_as_before(strategy_bridge):
    response = send_alert(strategy_bridge.client, seed_alert(position_size="1", strategy="trend"))
    assert response.status_code == 200, response.json
    assert response.json["symbol"] == "NSE:NIFTY26NOV26000CE" and response.json["side"] == "BUY"


# -- STRATEGY_CONTRACTS ----------------------------------------------------------------------


def test_strategy_contracts_are_read_from_the_environment():
    value = "trend:NIFTY:atm:weekly:1, Straddle 9:20:BANKNIFTY:OTM1:MONTHLY:2"
    settings = Settings.from_env({"STRATEGY_CONTRACTS": value})
    assert settings.strategy_contracts == (
        TREND, StrategyContract("Straddle 9:20", "BANKNIFTY", "OTM1", "MONTHLY", 2),
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("trend:NIFTY:ATM:WEEKLY", "must look like"),
        ("trend:NIFTY:ATM:WEEKLY:0", "must look like"),
        ("trend:NIFTY:XTM:WEEKLY:1", "'trend:NIFTY:XTM:WEEKLY:1'"),
        ("trend:NIF TY:ATM:WEEKLY:1", "not an underlying"),
        ("trend:NIFTY:ATM:SOON:1", "SOON"),
        ("trend:NIFTY:ATM:WEEKLY:1,trend:BANKNIFTY:ATM:WEEKLY:1", "each strategy once"),
    ],
)
def test_a_bad_strategy_contract_fails_at_start_naming_the_item(value, says):
    with pytest.raises(ConfigError, match="STRATEGY_CONTRACTS") as raised:
        Settings.from_env({"STRATEGY_CONTRACTS": value})
    assert says in str(raised.value) and "\n" not in str(raised.value)
