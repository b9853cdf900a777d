"""Position intent in the alert: `position`, `long_as`, `short_as` and `open_short`, as TradingView sends them."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain.alert import PositionIntent, parse_message
from app.domain.dialects import read_message
from app.domain.errors import InvalidAlert
from app.domain.openalgo import StrategyContract
from app.settings import ConfigError, Settings

# docs/alerts.md's position-intent template, as TradingView fills it on a strategy's order fill.
TEMPLATE = {
    "token": "secret",
    "strategy": "trend1",
    "symbol": "NIFTY",
    "position": "long",
    "qty": "130",
    "strikeprice": "ATM",
    "expiry": "WEEKLY",
    "productType": "INTRADAY",
    "timenow": "2026-11-20T09:20:00Z",
    "idempotency_key": "trend1-long-2026-11-20T09:20:00Z",
}


def parsed(**changes):
    """The template with `changes` (a None value drops the field), parsed as the intake does."""
    payload = {**TEMPLATE, **changes}
    return parse_message({k: v for k, v in payload.items() if v is not None}, default_product_type="INTRADAY")


def refused(**changes) -> InvalidAlert:
    with pytest.raises(InvalidAlert) as caught:
        parsed(**changes)
    return caught.value


# -- accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize("sent, position", [("long", "long"), ("short", "short"), ("LONG", "long"), ("Short", "short")])
def test_tradingview_position_and_size_strings_read_as_the_target(sent, position):
    message = parsed(position=sent)
    assert message.intent == PositionIntent(position, "buy_ce", "buy_pe")
    (leg,) = message.legs
    assert leg.qty == 130 and leg.lots is None  # contracts, the target size
    assert leg.option_type is None and leg.action == "BUY"  # the planner decides both
    assert leg.strike.moneyness == "ATM" and leg.expiry == "WEEKLY" and leg.underlying == "NIFTY"
    assert message.strategy == "trend1" and not message.multi_leg and not message.open_short


@pytest.mark.parametrize("qty", ["0", 0, "0.0", "", None])
def test_flat_needs_no_size_and_names_no_contract(qty):
    message = parsed(position="flat", qty=qty)
    (leg,) = message.legs
    assert message.intent.position == "flat"
    assert leg.strike is None and leg.expiry is None and leg.option_type is None
    assert leg.qty is None and leg.lots is None


def test_flat_without_contract_fields():
    message = parsed(position="flat", qty=None, strikeprice=None, expiry=None, productType=None)
    assert message.legs[0].strike is None and message.intent.position == "flat"


@pytest.mark.parametrize("action", ["buy", "sell", "EXIT", None])
def test_action_is_optional_and_unused_with_position(action):
    # TradingView's {{strategy.order.action}} says "buy" or "sell": the book decides the orders.
    assert parsed(position="short", action=action).legs[0].action == "BUY"


def test_long_as_and_short_as_in_any_case():
    message = parsed(long_as="SELL_PE", short_as="Sell_Ce")
    assert message.intent == PositionIntent("long", "sell_pe", "sell_ce")


def test_the_defaults_come_from_the_caller():
    message = parse_message(TEMPLATE, default_product_type="INTRADAY", long_as="sell_pe", short_as="sell_ce")
    assert message.intent == PositionIntent("long", "sell_pe", "sell_ce")
    assert parsed(long_as="buy_ce").intent.long_as == "buy_ce"  # the alert's own word wins


@pytest.mark.parametrize("sent, expected", [(True, True), ("true", True), ("FALSE", False), (False, False)])
def test_open_short_with_position_and_on_a_plain_sell(sent, expected):
    assert parsed(open_short=sent).open_short is expected
    sell = {"symbol": "NIFTY", "strikeprice": "ATM", "optionType": "CE", "expiry": "WEEKLY", "action": "SELL"}
    message = parse_message({**sell, "open_short": sent}, default_product_type="INTRADAY")
    assert message.open_short is expected and message.intent is None and message.legs[0].action == "SELL"


def test_open_short_on_legs():
    legs = [{"strikeprice": "ATM", "optionType": "CE", "action": "SELL"}]
    message = parse_message(
        {"symbol": "NIFTY", "expiry": "WEEKLY", "legs": legs, "open_short": "true"}, default_product_type="MARGIN"
    )
    assert message.open_short and message.multi_leg and message.intent is None


def test_lots_and_risk_size_a_long():
    assert parsed(qty=None, lots="2").legs[0].lots == 2
    leg = parsed(qty=None, risk="1500").legs[0]
    assert leg.risk == Decimal("1500") and leg.qty is None


def test_a_long_without_size_is_one_lot_as_today():
    leg = parsed(qty=None).legs[0]
    assert leg.qty is None and leg.lots is None and leg.risk is None


def test_without_position_an_alert_reads_as_before():
    message = parse_message(
        {"symbol": "NIFTY", "strikeprice": 26000, "optionType": "CE", "expiry": "WEEKLY", "action": "BUY"},
        default_product_type="INTRADAY",
    )
    assert message.intent is None and message.legs[0].option_type == "CE" and not message.open_short


# -- refused, naming the field and showing the value -------------------------------------------


@pytest.mark.parametrize(
    "changes, field, shown",
    [
        ({"position": "sideways"}, "position", '"sideways"'),
        ({"position": 1}, "position", "1"),
        ({"long_as": "sell_ce"}, "long_as", '"sell_ce"'),
        ({"short_as": "buy_ce"}, "short_as", '"buy_ce"'),
        ({"open_short": "yes"}, "open_short", '"yes"'),
        ({"action": "hold"}, "action", '"hold"'),
        ({"optionType": "CE"}, "optionType", '"CE"'),
        ({"option_type": "PE"}, "optionType", '"PE"'),
        ({"qty": "0"}, "qty", '"0"'),
        ({"position": "short", "qty": 0}, "qty", "0"),
        ({"qty": "12.5"}, "qty", '"12.5"'),
        ({"position": "flat", "qty": "130"}, "qty", '"130"'),
        ({"position": "flat", "qty": None, "lots": "1"}, "lots", '"1"'),
        ({"position": "flat", "qty": "abc"}, "qty", '"abc"'),
        ({"position": "flat", "qty": None, "risk": "1500"}, "risk", '"1500"'),
        ({"position": "flat", "qty": "0", "strikeprice": "ATM7X"}, "strikeprice", '"ATM7X"'),
        ({"position": "flat", "qty": "0", "expiry": "SOMEDAY"}, "expiry", "SOMEDAY"),
        ({"scope": "underlying"}, "scope", '"underlying"'),
        ({"qty": None, "lots": "1", "risk": "1500"}, "risk", '"1500"'),
    ],
)
def test_refusals_name_the_field_and_echo_the_value(changes, field, shown):
    error = refused(**changes)
    assert error.field == field, error.message
    assert shown in error.message


@pytest.mark.parametrize("missing", ["strikeprice", "expiry", "symbol"])
@pytest.mark.parametrize("position", ["long", "short"])
def test_long_and_short_need_the_contract_to_open(position, missing):
    assert refused(position=position, **{missing: None}).field == missing


def test_position_needs_a_strategy():
    error = refused(strategy=None)
    assert error.field == "strategy"
    assert error.message == "position intent needs a strategy: its book says what it holds"


def test_position_is_single_leg_only():
    legs = [{"strikeprice": "ATM", "action": "BUY"}]
    error = refused(legs=legs, strikeprice=None, expiry="WEEKLY", qty=None, productType=None)
    assert error.field == "position" and '"long"' in error.message


def test_position_inside_a_leg_belongs_to_the_message():
    legs = [{"strikeprice": "ATM", "optionType": "CE", "action": "BUY", "position": "long"}]
    with pytest.raises(InvalidAlert) as caught:
        parse_message({"symbol": "NIFTY", "expiry": "WEEKLY", "legs": legs}, default_product_type="INTRADAY")
    assert caught.value.field == "legs[0].position"


@pytest.mark.parametrize("name, value", [("long_as", "sell_pe"), ("short_as", "sell_ce")])
def test_a_mapping_without_position_is_refused(name, value):
    order = {"symbol": "NIFTY", "strikeprice": "ATM", "optionType": "CE", "expiry": "WEEKLY", "action": "BUY"}
    with pytest.raises(InvalidAlert) as caught:
        parse_message({**order, name: value}, default_product_type="INTRADAY")
    assert caught.value.field == name and f'"{value}"' in caught.value.message


def test_without_position_action_stays_required():
    error = refused(position=None)
    assert error.field == "action"


# -- settings ----------------------------------------------------------------------------------


def test_settings_read_the_option_mapping_and_the_short_opt_in():
    default = Settings.from_env({})
    assert (default.long_as, default.short_as, default.allow_short_options) == ("buy_ce", "buy_pe", False)
    chosen = Settings.from_env({"LONG_AS": "SELL_PE", "SHORT_AS": "sell_ce", "ALLOW_SHORT_OPTIONS": "true"})
    assert (chosen.long_as, chosen.short_as, chosen.allow_short_options) == ("sell_pe", "sell_ce", True)
    with pytest.raises(ConfigError, match="LONG_AS"):
        Settings.from_env({"LONG_AS": "buy_pe"})


def test_the_intake_takes_its_defaults_from_the_settings(make_bridge):
    bridge = make_bridge(long_as="sell_pe", short_as="sell_ce")
    message = bridge.services.alerts.intake.message(dict(TEMPLATE))
    assert message.intent == PositionIntent("long", "sell_pe", "sell_ce")


# -- docs/alerts.md --------------------------------------------------------------------------

ALERTS_MD = Path(__file__).resolve().parent.parent / "docs" / "alerts.md"
# What TradingView fills in, for a strategy that has just gone long 130 contracts.
FILLED = {
    "strategy.market_position": "long",
    "strategy.market_position_size": "130",
    "strategy.order.action": "buy",
    "strategy.order.contracts": "130",
    "strategy.order.id": "Long",
    "strategy.order.price": "26012.5",
    "strategy.order.comment": "",
    "timenow": "2026-11-20T09:20:00Z",
    "ticker": "NIFTY",
    "interval": "15",
    "close": "26000",
}


def _templates() -> list[str]:
    return [b for b in re.findall(r"```json\n(.*?)```", ALERTS_MD.read_text(), re.S) if "YOUR_SECRET" in b]


def _filled(template: str) -> dict:
    return json.loads(re.sub(r"\{\{([\w.]+)\}\}", lambda m: FILLED[m.group(1)], template))


def test_alerts_md_leads_with_the_position_intent_template():
    first = _filled(_templates()[0])
    assert first["position"] == "long" and first["qty"] == "130" and first["strategy"]
    message = parse_message(first, default_product_type="INTRADAY")
    assert message.intent == PositionIntent("long") and message.legs[0].qty == 130
    flat = parse_message({**first, "position": "flat", "qty": "0"}, default_product_type="INTRADAY")
    assert flat.intent.position == "flat" and flat.legs[0].strike is None


# The STRATEGY_CONTRACTS docs/alerts.md states for its OpenAlgo samples.
DOC_CONTRACTS = (StrategyContract("trend", "NIFTY", "ATM", "WEEKLY", 1),)


def test_every_template_in_alerts_md_parses_and_every_sell_says_open_short():
    for template in _templates():
        payload = _filled(template)
        # Another bridge's messages ("Coming from another bridge") are read as the intake reads them.
        parse = lambda ours: parse_message(ours, default_product_type="INTRADAY")  # noqa: E731
        message = read_message(payload, DOC_CONTRACTS, parse)
        if any(leg.action == "SELL" for leg in message.legs) and "{{strategy.order.action}}" not in template:
            assert message.open_short, template
