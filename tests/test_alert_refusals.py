"""Alerts that say what they got: unknown fields, unfilled placeholders, JSON syntax, tickers,
and sl/tp levels that are replaced or refused, each refusal naming the field and echoing the value."""

from __future__ import annotations

import json

import pytest

from app.domain.alert import nearest_field, parse_message, shown, underlying_named
from app.domain.errors import InvalidAlert
from app.domain.strikes import StrikeChoice, parse_relative
from tests.conftest import SECRET, seed_alert, send_alert

LEG = {"strikeprice": 26000, "optionType": "CE", "action": "BUY"}


def legs(*extra: dict) -> dict:
    return {"token": SECRET, "symbol": "NIFTY", "expiry": "WEEKLY", "legs": [LEG, *extra]}


# -- The refusals, through the app ----------------------------------------------------------------

REFUSALS = [
    # (the alert, the field named, what the message must echo, the suggestion)
    pytest.param(seed_alert(Qty=65), "Qty", "65", "qty", id="Qty"),
    pytest.param(seed_alert(product="MARGIN"), "product", '"MARGIN"', "productType", id="product"),
    pytest.param(seed_alert(stoploss=50), "stoploss", "50", "sl", id="stoploss"),
    pytest.param(seed_alert(takeprofit=200), "takeprofit", "200", "tp", id="takeprofit"),
    pytest.param(seed_alert(side="BUY"), "side", '"BUY"', "action", id="side"),
    pytest.param(seed_alert(Option_Type="CE"), "Option_Type", '"CE"', "optionType", id="Option_Type"),
    pytest.param(seed_alert(xyzzy=1), "xyzzy", "1", None, id="no-suggestion"),
    pytest.param(legs({**LEG, "Qty": 65}), "legs[1].Qty", "65", "legs[1].qty", id="leg-Qty"),
    pytest.param(legs({**LEG, "strategy": "x"}), "legs[1].strategy", "message", None, id="leg-message-field"),
    pytest.param({**legs(), "action": "SELL"}, "action", '"SELL"', None, id="leg-field-on-the-message"),
    pytest.param(
        seed_alert(action="{{strategy.order.action}}"), "action", '"{{strategy.order.action}}"', None, id="placeholder"
    ),
    pytest.param(
        seed_alert(qty="{{strategy.order.contracts}}"), "qty", "only in strategy alerts", None, id="placeholder-qty"
    ),
    pytest.param(
        seed_alert(idempotency_key="{{strategy.order.id}}-1"), "idempotency_key", "{{strategy.*}}", None,
        id="placeholder-key",
    ),
    pytest.param(
        seed_alert(strikeprice="{{plot_0}}"), "strikeprice", "{{plot_0}} unfilled", None, id="placeholder-other"
    ),
    pytest.param(
        legs({**LEG, "action": "{{strategy.order.action}}"}), "legs[1].action", "only in strategy alerts", None,
        id="placeholder-leg",
    ),
    pytest.param(seed_alert(symbol="NSE:NIFY"), "symbol", '"NSE:NIFY"', None, id="symbol-ticker"),
    pytest.param(seed_alert(symbol="BSE:NIFTY"), "symbol", '"BSE:NIFTY"', None, id="symbol-wrong-exchange"),
    pytest.param(seed_alert(symbol="NIFTY 50!"), "symbol", '"NIFTY 50!"', None, id="symbol"),
    pytest.param(seed_alert(action="HOLD"), "action", '"HOLD"', None, id="action"),
    pytest.param(seed_alert(optionType="XX"), "optionType", '"XX"', None, id="optionType"),
    pytest.param(seed_alert(productType="CNC"), "productType", '"CNC"', None, id="productType"),
    pytest.param(seed_alert(qty="sixty-five"), "qty", '"sixty-five"', None, id="qty"),
    pytest.param(seed_alert(qty=True), "qty", "true", None, id="qty-bool"),
    pytest.param(seed_alert(sl=-5), "sl", "-5", None, id="sl"),
    pytest.param(seed_alert(expiry="SOMEDAY"), "expiry", "SOMEDAY", None, id="expiry"),
    pytest.param(seed_alert(expiry=20261123), "expiry", "20261123", None, id="expiry-number"),
    pytest.param(seed_alert(strikeprice="OTM11"), "strikeprice", "OTM11", None, id="strike-range"),
    pytest.param(legs({**LEG, "strikeprice": "ITM 12"}), "legs[1].strikeprice", "ITM 12", None, id="leg-strike-range"),
    pytest.param(seed_alert(dry_run="yes"), "dry_run", '"yes"', None, id="dry_run"),
    pytest.param(seed_alert(strategy="ORB<15m>"), "strategy", '"ORB<15m>"', None, id="strategy"),
    pytest.param(seed_alert(idempotency_key="has space"), "idempotency_key", '"has space"', None, id="key"),
    pytest.param(seed_alert(meta="text"), "meta", '"text"', None, id="meta"),
    pytest.param({**legs(), "legs": "ATM"}, "legs", '"ATM"', None, id="legs"),
]


@pytest.mark.parametrize("alert, field, echoed, suggestion", REFUSALS)
def test_each_refusal_names_the_field_echoes_the_value_and_suggests(client, paper, alert, field, echoed, suggestion):
    response = send_alert(client, alert)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert echoed in response.json["message"]
    assert response.json.get("suggestion") == suggestion
    if suggestion:
        assert f"did you mean {suggestion}?" in response.json["message"]
    assert paper.orders == []


def test_a_long_value_is_echoed_short(client):
    response = send_alert(client, seed_alert(symbol="N" * 5000))
    assert response.status_code == 400 and response.json["field"] == "symbol"
    assert '"NNNN' in response.json["message"] and len(response.json["message"]) < 250


@pytest.mark.parametrize("name", ["Token", "secret_key", "tokenn"])
def test_a_misspelt_secret_is_refused_without_echoing_it(client, paper, name):
    response = send_alert(client, seed_alert(**{name: SECRET}))
    assert response.status_code == 400 and response.json["field"] == name
    assert SECRET not in json.dumps(response.json)
    assert paper.orders == []


def test_an_unfilled_placeholder_is_named_before_the_value_check(client):
    # Without the placeholder rule, this is "action must be one of BUY, SELL, EXIT".
    response = send_alert(client, seed_alert(action="{{strategy.order.action}}"))
    assert "TradingView fills {{strategy.*}} only in strategy alerts" in response.json["message"]


# -- What is allowed -------------------------------------------------------------------------------


def test_meta_comment_and_tradingview_fields_are_allowed_and_journaled(client, services, clock):
    informational = {
        "meta": {"signal": "breakout", "bar": 42},
        "comment": "{{strategy.order.comment}} is free text",
        "price": "148.5",
        "close": 148.5,
        "interval": "15",
        "ticker": "NIFTY1!",
        "exchange": "NSE",
        "timenow": "2026-11-18T04:30:00Z",
    }
    response = send_alert(client, seed_alert(**informational))
    assert response.status_code == 200, response.json
    record = services.journal.day(clock.now().date())[-1]
    assert {k: record["alert"][k] for k in informational} == informational


def test_a_large_meta_does_not_cost_the_journal_the_trading_fields(client, services, clock):
    response = send_alert(client, seed_alert(meta={"notes": "x" * 5000}))
    assert response.status_code == 200, response.json
    kept = services.journal.day(clock.now().date())[-1]["alert"]
    assert kept["symbol"] == "NIFTY" and kept["qty"] == 65 and kept["meta"].endswith("bytes, not kept>")


@pytest.mark.parametrize(
    "symbol",
    ["NIFTY", "nifty", "NIFTY1!", "NSE:NIFTY", "NIFTY50", "NSE:NIFTY50", "nse:nifty1!"],
)
def test_tradingview_tickers_for_nifty_place_the_nifty_order(client, services, symbol):
    response = send_alert(client, seed_alert(symbol=symbol, idempotency_key=f"ticker-{symbol}"))
    assert response.status_code == 200, response.json
    assert response.json["symbol"] == "NSE:NIFTY26NOV26000CE"


# -- JSON syntax -----------------------------------------------------------------------------------


def test_a_json_syntax_error_gives_line_column_and_an_excerpt(client, paper):
    body = '{"token": "' + SECRET + '",\n "symbol": "NIFTY",\n "qty": 65 "action": "BUY"}'
    response = send_alert(client, body, content_type="text/plain")
    assert response.status_code == 400 and response.json["field"] == "body"
    assert (response.json["line"], response.json["column"]) == (3, 12)
    assert "line 3, column 12" in response.json["message"] and "65" in response.json["message"]
    assert paper.orders == []


@pytest.mark.parametrize(
    "body",
    [
        '{"token": "' + SECRET + '" "symbol": "NIFTY"}',  # the error sits right after the secret
        "{'token': '" + SECRET + "', 'symbol': 'NIFTY'}",  # Python quoting
        '{"Token": "wrong-but-private"  "qty": 65}',
        '{"symbol": "NIFTY", ' + SECRET + "}",  # the secret where a key should be
    ],
)
def test_a_json_syntax_error_never_echoes_a_secret(client, body):
    response = send_alert(client, body)
    assert response.status_code == 400 and response.json["field"] == "body"
    assert "line 1" in response.json["message"]
    answer = json.dumps(response.json)
    assert SECRET[:8] not in answer and "wrong-but" not in answer


# -- sl / tp on the wrong side of the LTP ------------------------------------------------------------


def test_a_replaced_level_is_listed_in_the_answer_and_the_journal(client, services, clock):
    # The paper LTP of NIFTY 26000 CE is 148.90: a BUY's stop at 150 is above it.
    response = send_alert(client, seed_alert(sl=150, tp=300))
    assert response.status_code == 200, response.json
    assert response.json["adjustments"] == [
        {"field": "sl", "sent": 150.0, "used": 126.55, "reason": "a BUY's stop-loss must be below the LTP 148.90"}
    ]
    decision = services.journal.day(clock.now().date())[-1]["decisions"][0]
    assert decision["adjustments"] == [
        {"field": "sl", "sent": "150", "used": "126.55", "reason": "a BUY's stop-loss must be below the LTP 148.90"}
    ]


def test_levels_used_as_sent_list_no_adjustment(client):
    response = send_alert(client, seed_alert(sl=100, tp=300))
    assert response.status_code == 200 and "adjustments" not in response.json


@pytest.fixture
def refusing(make_bridge):
    return make_bridge(invalid_levels="refuse")


def test_invalid_levels_refuse_is_422_naming_the_field(refusing):
    response = send_alert(refusing.client, seed_alert(sl=100, tp=120))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "invalid_level" and response.json["field"] == "tp"
    assert "120" in response.json["message"] and "above the LTP 148.90" in response.json["message"]
    assert refusing.paper.orders == []


def test_invalid_levels_refuse_still_places_levels_on_the_right_side(refusing):
    response = send_alert(refusing.client, seed_alert(sl=100, tp=300))
    assert response.status_code == 200, response.json
    assert len(refusing.paper.orders) == 1


def test_invalid_levels_refuse_sends_no_leg_of_a_multi_leg_alert(fyers, fake_fyers):
    client, _ = fyers(invalid_levels="refuse")
    # The good leg is a BUY placed first; the second leg's stop is above any LTP.
    alert = legs({**LEG, "strikeprice": 26100, "sl": 99999}) | {"idempotency_key": "refuse-legs"}
    response = send_alert(client, alert)
    assert response.status_code == 422, response.json
    assert response.json["field"] == "legs[1].sl"
    assert fake_fyers.placed_orders() == []


# -- The domain ------------------------------------------------------------------------------------


def parse(payload):
    return parse_message(payload, default_product_type="INTRADAY")


@pytest.mark.parametrize(
    "name, suggestion",
    [("Qty", "qty"), ("product", "productType"), ("stoploss", "sl"), ("stop-loss", "sl"), ("target_price", "tp"),
     ("quantity_", "qty"), ("strike_price", "strikeprice"), ("expiration", "expiry"), ("side", "action"),
     ("idempotencyKey", "idempotency_key"), ("zzz", None)],
)
def test_nearest_field(name, suggestion):
    known = ("symbol", "strikeprice", "optionType", "expiry", "action", "qty", "lots", "productType", "sl", "tp",
             "idempotency_key")
    assert nearest_field(name, known) == suggestion


@pytest.mark.parametrize(
    "ticker, underlying",
    [
        ("NIFTY1!", "NIFTY"), ("NSE:NIFTY", "NIFTY"), ("NIFTY50", "NIFTY"), ("NSE:NIFTY50", "NIFTY"),
        ("BANKNIFTY1!", "BANKNIFTY"), ("NSE:BANKNIFTY", "BANKNIFTY"), ("NIFTYBANK", "BANKNIFTY"),
        ("NSE:NIFTYBANK", "BANKNIFTY"), ("NSE:CNXFINANCE", "FINNIFTY"), ("NSE:NIFTY_MID_SELECT", "MIDCPNIFTY"),
        ("SENSEX", "SENSEX"), ("BSE:SENSEX", "SENSEX"), ("SENSEX1!", "SENSEX"), ("BANKEX", "BANKEX"),
        ("BSE:BANKEX", "BANKEX"), (" bse:sensex ", "SENSEX"), ("RELIANCE", "RELIANCE"), ("M&M", "M&M"),
    ],
)
def test_tradingview_tickers_resolve_to_the_underlying(ticker, underlying):
    assert underlying_named(ticker) == underlying


@pytest.mark.parametrize(
    "ticker", ["BSE:NIFTY", "NSE:SENSEX", "NSE:RELIANCE", "NIFTY_50", "NIFTY!", "NSE:", "ＮＩＦＴＹ"]
)
def test_other_tickers_are_refused_with_the_value(ticker):
    with pytest.raises(InvalidAlert, match="is not an underlying") as refused:
        underlying_named(ticker)
    assert refused.value.field == "symbol" and shown(ticker) in refused.value.message


@pytest.mark.parametrize("text", ["OTM2", "otm2", "OTM 2", "OTM-2", "otm_2", " Otm 2 "])
def test_otm_with_a_space_or_dash(text):
    assert parse_relative(text) == StrikeChoice(moneyness="OTM", steps=2)


@pytest.mark.parametrize("text", ["ITM 1", "itm-10"])
def test_itm_with_a_space_or_dash(text):
    assert parse_relative(text).moneyness == "ITM"


@pytest.mark.parametrize("text", ["OTM  2", "OTM--2", "OTM 2 3", "OTM+2"])
def test_other_spellings_are_not_relative(text):
    assert parse_relative(text) is None


def test_a_leg_strike_out_of_range_names_the_leg():
    with pytest.raises(InvalidAlert) as refused:
        parse(legs({**LEG, "strikeprice": "OTM 11"}))
    assert refused.value.field == "legs[1].strikeprice" and "'OTM 11'" in refused.value.message


def test_every_documented_field_is_known():
    alert = seed_alert(strategy="s", dry_run=False, meta={}, comment="c", price=1, close=1, open=1, high=1, low=1,
                       volume=1, interval="1", ticker="NIFTY", exchange="NSE", time="t", timenow="t",
                       position_size=1, market_position="long", scope="contract")
    assert parse(alert).legs[0].underlying == "NIFTY"
    aliased = {"secret": SECRET, "symbol": "NIFTY", "strike": 26000, "option_type": "CE", "expiry": "WEEKLY",
               "action": "BUY", "quantity": 65, "stop_loss": 1, "target": 2, "product_type": "MARGIN"}
    assert parse(aliased).legs[0].product_type == "MARGIN"


def test_shown_is_bounded_and_ascii():
    assert shown("abc") == '"abc"'
    assert shown("x" * 100) == '"' + "x" * 40 + '..."'
    assert shown("\u202eYTFIN") == '"\\u202eYTFIN"'
    assert len(shown(list(range(1000)))) <= 43


@pytest.mark.parametrize("value", ['{{plot("RSI")}}', "{{ close }}", "{{syminfo.ticker}}"])
def test_any_tradingview_placeholder_left_unfilled_is_named(value):
    with pytest.raises(InvalidAlert, match="unfilled") as refused:
        parse(seed_alert(strikeprice=value))
    assert refused.value.field == "strikeprice"


def test_braces_that_are_no_placeholder_get_the_fields_own_check():
    assert parse(seed_alert(idempotency_key="{{7*7}}")).idempotency_key == "{{7*7}}"
