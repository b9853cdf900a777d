"""An exact Fyers ticker as the symbol: the master's contract as is, in a single alert, in legs and in an EXIT.

The tickers are picked from the synthetic master at test time (it follows Fyers's weekly and monthly
formats); the paper broker and the fake Fyers (real SDK, real HTTP) place what the bridge sends.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from app.adapters.symbol_master import load_symbol_master
from app.domain.contracts import IST, Contract
from tests.clock import FixedClock
from tests.conftest import MARKET_MORNING, SECRET, send_alert


def listed(underlying: str, kind: str, strike_index: int = 40, option_type: str = "CE", today=None) -> Contract:
    """A contract the synthetic master lists: the nearest `kind` (weekly or monthly) expiry, a strike near spot."""
    today = today or MARKET_MORNING
    master = load_symbol_master("synthetic", today=today.date())
    for expiry in master.expiries(underlying, today):
        contract = master.resolve(
            underlying, expiry, master.strikes(underlying, expiry, option_type)[strike_index], option_type, today
        )
        if contract.monthly == (kind == "monthly"):
            return contract
    raise AssertionError(f"no {kind} {underlying} contract listed")


def ticker_alert(symbol: str, key: str, **fields):
    return {"token": SECRET, "symbol": symbol, "action": "BUY", "idempotency_key": key, **fields}


def entries(paper, symbol: str):
    """The paper broker's entry orders for a symbol (not the protection legs placed with them)."""
    return [order for order in paper.orders if order.symbol == symbol and order.parent_id is None]


CASES = {
    "nifty-weekly": ("NIFTY", "weekly", str.upper),
    "nifty-monthly": ("NIFTY", "monthly", str.upper),
    "banknifty-monthly": ("BANKNIFTY", "monthly", str.upper),
    "sensex-weekly-bse": ("SENSEX", "weekly", str.upper),
    "lower-case": ("NIFTY", "weekly", str.lower),
}


@pytest.mark.parametrize("underlying, kind, spell", CASES.values(), ids=CASES.keys())
def test_an_exact_ticker_trades_that_contract_on_the_paper_broker(make_bridge, underlying, kind, spell):
    bridge = make_bridge(webhook_max_qty=2)
    contract = listed(underlying, kind)
    response = send_alert(bridge.client, ticker_alert(spell(contract.ticker), "exact", lots=2))
    assert response.status_code == 200, response.json
    assert response.json["symbol"] == contract.ticker
    assert response.json["expiry"] == contract.expiry.isoformat()
    [order] = entries(bridge.paper, contract.ticker)
    assert (order.qty, order.side.name) == (2 * contract.lot_size, "BUY")


@pytest.mark.parametrize("kind", ["weekly", "monthly"])
def test_an_exact_ticker_reaches_fyers_as_is(fyers, fake_fyers, kind):
    client, _ = fyers()
    contract = listed("NIFTY", kind, strike_index=44, option_type="PE")
    response = send_alert(client, ticker_alert(contract.ticker, f"fyers-{kind}"))
    assert response.status_code == 200, response.json
    [order] = fake_fyers.placed_orders()
    assert (order["symbol"], order["qty"], order["side"]) == (contract.ticker, contract.lot_size, 1)


def test_tickers_in_legs_place_the_hedge_first(client, paper):
    sold, hedge = listed("NIFTY", "weekly", 40), listed("NIFTY", "weekly", 44)
    message = {
        "token": SECRET,
        "idempotency_key": "ticker-spread",
        "open_short": True,
        "legs": [{"symbol": sold.ticker, "action": "SELL"}, {"symbol": hedge.ticker.lower(), "action": "BUY"}],
    }
    response = send_alert(client, message)
    assert response.status_code == 200, response.json
    placed = [order for order in paper.orders if order.parent_id is None]
    assert [(o.symbol, o.side.name, o.qty) for o in placed] == [
        (hedge.ticker, "BUY", hedge.lot_size),
        (sold.ticker, "SELL", sold.lot_size),
    ]


def test_an_exit_with_a_ticker_exits_that_contract(client, paper):
    held, other = listed("NIFTY", "weekly", 40), listed("NIFTY", "weekly", 42)
    assert send_alert(client, ticker_alert(held.ticker, "open-1")).status_code == 200
    assert send_alert(client, ticker_alert(other.ticker, "open-2")).status_code == 200
    response = send_alert(client, ticker_alert(held.ticker, "exit", action="EXIT"))
    assert response.status_code == 200 and response.json["status"] == "closed", response.json
    assert [(o.side.name, o.qty) for o in entries(paper, held.ticker)] == [("BUY", 65), ("SELL", 65)]
    assert [o.side.name for o in entries(paper, other.ticker)] == ["BUY"]  # the other contract stays held


def test_a_dry_run_shows_the_ticker_s_contract(client, paper):
    contract = listed("NIFTY", "monthly")
    response = send_alert(client, ticker_alert(contract.ticker, "dry"), path="/webhook/test")
    assert response.status_code == 200, response.json
    [order] = response.json["orders"]
    assert (order["symbol"], order["expiry"], order["qty"]) == (
        contract.ticker, contract.expiry.isoformat(), contract.lot_size
    )
    assert (order["strike"], order["option_type"]) == (float(contract.strike), "CE")
    assert paper.orders == []


TICKER = "NSE:NIFTY26D0126000CE"  # listed on the test clock (weekly, 1 Dec 2026)
REFUSED = {
    "strikeprice": ({"strikeprice": 26000}, "strikeprice"),
    "optionType": ({"optionType": "CE"}, "optionType"),
    "expiry": ({"expiry": "WEEKLY"}, "expiry"),
    "strike-alias": ({"strike": 26000}, "strikeprice"),
    "position": ({"position": "long", "strategy": "trend"}, "symbol"),
    "scope-underlying": ({"action": "EXIT", "scope": "underlying"}, "scope"),
}


@pytest.mark.parametrize("extra, field", REFUSED.values(), ids=REFUSED.keys())
def test_a_ticker_with_a_field_it_answers_is_400_naming_that_field(client, paper, extra, field):
    response = send_alert(client, ticker_alert(TICKER, "refused", **extra))
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    # Read as a ticker (before, the symbol itself was refused as no underlying).
    assert "not an underlying" not in response.json["message"] and TICKER in response.json["message"]
    assert paper.orders == []


@pytest.mark.parametrize(
    "shared, leg, field",
    [
        ({}, {"strikeprice": "ATM"}, "legs[0].strikeprice"),
        ({}, {"optionType": "PE"}, "legs[0].optionType"),
        ({"expiry": "WEEKLY"}, {}, "expiry"),
        ({"optionType": "CE"}, {}, "optionType"),
    ],
)
def test_a_ticker_leg_with_a_contract_field_is_400_naming_it(client, paper, shared, leg, field):
    message = {"token": SECRET, **shared, "legs": [{"symbol": TICKER, "action": "BUY", **leg}]}
    response = send_alert(client, message)
    assert response.status_code == 400 and response.json["field"] == field, response.json
    assert "is not read with an exact ticker: the ticker names the contract" in response.json["message"]
    assert paper.orders == []


def test_a_malformed_ticker_is_400_naming_symbol(client, paper):
    response = send_alert(client, ticker_alert("NSE:NIFTY26X0126000CE", "malformed"))
    assert response.status_code == 400 and response.json["field"] == "symbol"
    assert "not a Fyers option ticker" in response.json["message"]


# -- unknown or expired: 422 naming the nearest listed contracts -----------------------------------


def expiry_day_of(contract: Contract) -> datetime:
    return datetime.combine(contract.expiry, datetime.min.time(), IST).replace(hour=10)


@pytest.mark.parametrize(
    "when",
    ["18:30 on its expiry day", "the day after"],
)
def test_an_expired_ticker_is_422_naming_listed_contracts(make_bridge, settings, when):
    contract = listed("NIFTY", "weekly")
    clock = FixedClock(expiry_day_of(contract))
    bridge = make_bridge(clock=clock)  # the master is loaded on the expiry day: it lists the contract
    if when == "the day after":
        bridge = make_bridge(clock=FixedClock(expiry_day_of(contract) + timedelta(days=1)))
    else:
        # Past the contract's last instant (15:40) in the evening session, on the master loaded that morning.
        clock.instant = clock.instant.replace(hour=18, minute=30)
    response = send_alert(bridge.client, ticker_alert(contract.ticker, "expired"))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "contract_not_found"
    message = response.json["message"]
    why = "stopped trading at" if when.startswith("18:30") else "is not a listed contract"
    assert f"{contract.ticker} {why}" in message
    nearest = response.json["nearest_contracts"]
    assert len(nearest) == 3 and all(name in message for name in nearest)
    next_weekly = listed("NIFTY", "weekly", today=expiry_day_of(contract) + timedelta(days=1))
    assert nearest[0] == next_weekly.ticker  # the same strike, on the nearest expiry still trading
    assert bridge.paper.orders == []


@pytest.mark.parametrize(("hour", "minute", "trades"), [(15, 35, True), (15, 41, False)])
def test_on_its_expiry_day_a_ticker_trades_until_its_last_instant(make_bridge, hour, minute, trades):
    contract = listed("NIFTY", "weekly")
    assert contract.expiry.weekday() == 1  # NIFTY's weeklies expire on Tuesdays
    clock = FixedClock(expiry_day_of(contract))
    bridge = make_bridge(clock=clock)  # the master loaded that morning
    clock.instant = clock.instant.replace(hour=hour, minute=minute)
    response = send_alert(bridge.client, ticker_alert(contract.ticker, f"expiry-{hour}{minute}"))
    if trades:
        assert response.status_code == 200, response.json
        assert [order.symbol for order in entries(bridge.paper, contract.ticker)] == [contract.ticker]
    else:
        assert response.status_code == 422 and "stopped trading at" in response.json["message"], response.json
        assert bridge.paper.orders == []


def test_an_unlisted_strike_is_422_naming_the_nearest_strikes(client, paper):
    response = send_alert(client, ticker_alert("nse:nifty26d0126010ce", "unlisted"))
    assert response.status_code == 422 and response.json["status"] == "contract_not_found", response.json
    assert response.json["nearest_contracts"] == [
        "NSE:NIFTY26D0126000CE", "NSE:NIFTY26D0126050CE", "NSE:NIFTY26D0125950CE"
    ]
    assert "NSE:NIFTY26D0126010CE is not a listed contract" in response.json["message"]
    assert paper.orders == []


def test_a_ticker_of_an_unknown_underlying_is_422_listing_the_underlyings(client, paper):
    response = send_alert(client, ticker_alert("NSE:NIFTYIT26DEC40000CE", "unknown"))
    assert response.status_code == 422, response.json
    assert "no options are listed for underlying 'NIFTYIT'" in response.json["message"]
    assert "BANKNIFTY" in response.json["message"] and "SENSEX" in response.json["message"]
    assert paper.orders == []


def test_a_monthly_ticker_of_a_month_gone_names_the_nearest_monthly_strikes(client):
    contract = listed("BANKNIFTY", "monthly")
    gone = contract.ticker.replace(f"{contract.expiry:%y}{contract.expiry:%b}".upper(), "26OCT")
    response = send_alert(client, ticker_alert(gone, "gone"))
    assert response.status_code == 422, response.json
    assert response.json["nearest_contracts"][0] == contract.ticker
    assert date(2026, 10, 1) < contract.expiry


@pytest.mark.parametrize(
    "bare, exchange", [("NIFTY26D0126000CE", "NSE"), ("nifty26dec26000pe", "NSE"), ("SENSEX26D0385000CE", "BSE")]
)
def test_a_ticker_without_its_exchange_is_400_saying_which_to_add(client, paper, bare, exchange):
    response = send_alert(client, ticker_alert(bare, "bare"))
    assert response.status_code == 400 and response.json["field"] == "symbol", response.json
    assert f"write {exchange}:{bare.upper()}" in response.json["message"]
    assert paper.orders == []


@pytest.mark.parametrize("underlying", ["NIFTY", "RELIANCE", "NIFTY50", "M&M"])
def test_an_underlying_that_ends_like_a_ticker_is_still_an_underlying(underlying):
    from app.domain.tickers import ticker_named

    assert ticker_named(underlying, "symbol") is None
