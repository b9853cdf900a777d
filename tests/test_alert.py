"""Alert validation: types, aliases of case, defaults, and lot rules."""

from datetime import date
from decimal import Decimal

import pytest

from app.domain.alert import check_lots, parse_alert, parse_message
from app.domain.errors import InvalidAlert, RiskRefused
from app.domain.orders import Side
from app.domain.strikes import StrikeChoice
from tests.conftest import seed_alert


def parse(**overrides):
    return parse_alert(seed_alert(**overrides), default_product_type="INTRADAY")


def test_seed_payload():
    alert = parse()
    assert alert.underlying == "NIFTY" and alert.strike.exact == Decimal(26000)
    assert alert.option_type == "CE" and alert.expiry == "WEEKLY" and alert.side is Side.BUY
    assert alert.qty == 65 and alert.product_type == "INTRADAY"
    assert alert.stop_loss == Decimal("80.5") and alert.take_profit == Decimal(140)
    assert alert.idempotency_key == "alert-123"


@pytest.mark.parametrize(
    "overrides, attribute, expected",
    [
        ({"action": "sell"}, "side", Side.SELL),
        ({"action": " Buy "}, "side", Side.BUY),
        ({"qty": "130"}, "qty", 130),
        ({"qty": "65.0"}, "qty", 65),
        ({"qty": None}, "qty", None),
        ({"symbol": "banknifty"}, "underlying", "BANKNIFTY"),
        ({"optionType": "pe"}, "option_type", "PE"),
        ({"expiry": "monthly"}, "expiry", "MONTHLY"),
        ({"expiry": "2026-11-23"}, "expiry", date(2026, 11, 23)),
        ({"strikeprice": "24000.0"}, "strike", StrikeChoice(exact=Decimal("24000.0"))),
        ({"strikeprice": "atm"}, "strike", StrikeChoice(moneyness="ATM")),
        ({"strikeprice": "ITM2"}, "strike", StrikeChoice(moneyness="ITM", steps=2)),
        ({"strikeprice": "otm10"}, "strike", StrikeChoice(moneyness="OTM", steps=10)),
        ({"action": "exit"}, "action", "EXIT"),
        ({"productType": None}, "product_type", "INTRADAY"),
        ({"productType": "bo"}, "product_type", "BO"),
        ({"sl": None, "tp": ""}, "take_profit", None),
        ({"idempotency_key": 42}, "idempotency_key", "42"),
    ],
)
def test_accepted_variants(overrides, attribute, expected):
    assert getattr(parse(**overrides), attribute) == expected


def test_header_key_used_when_body_has_none():
    payload = seed_alert(idempotency_key=None, productType=None)
    alert = parse_alert(payload, default_product_type="MARGIN", header_key="h-1")
    assert alert.idempotency_key == "h-1" and alert.product_type == "MARGIN"


@pytest.mark.parametrize(
    "field, value",
    [
        ("strikeprice", float("nan")),
        ("strikeprice", float("inf")),
        ("strikeprice", "1e999"),
        ("strikeprice", 10**30),
        ("sl", -1),
        ("qty", -65),
        ("qty", {"n": 1}),
        ("action", 1),
    ],
)
def test_rejected_values_name_the_field(field, value):
    with pytest.raises(InvalidAlert) as raised:
        parse(**{field: value})
    assert raised.value.field == field


@pytest.mark.parametrize(
    "qty, lot, max_lots, expected",
    [(None, 65, 1, 65), (65, 65, 1, 65), (130, 65, 2, 130), (30, 30, 1, 30)],
)
def test_lots(qty, lot, max_lots, expected):
    assert check_lots(qty, lot, max_lots) == expected


def test_a_part_lot_is_invalid():
    with pytest.raises(InvalidAlert, match="whole number of lots"):
        check_lots(64, 65, 1)


def test_too_many_lots_is_refused_by_the_rule():
    with pytest.raises(RiskRefused, match="at most 1 lot") as refused:
        check_lots(130, 65, 1)
    assert refused.value.rule == "WEBHOOK_MAX_QTY"


@pytest.mark.parametrize(
    "payload, expected",
    [
        (
            {"secret": "s", "option_type": "pe", "strike": 24000, "quantity": "65", "stop_loss": 5, "target": 9},
            ("PE", Decimal(24000), 65, Decimal(5), Decimal(9)),
        ),
        (
            {"token": "s", "optionType": "CE", "strike": 1, "strikeprice": 24000, "qty": 65},
            ("CE", Decimal(24000), 65, None, None),
        ),
    ],
)
def test_aliases_of_the_other_seed_systems(payload, expected):
    base = {"symbol": "NIFTY", "expiry": "2026-11-23", "action": "buy"}
    leg = parse_message({**base, **payload}, default_product_type="INTRADAY").legs[0]
    assert (leg.option_type, leg.strike.exact, leg.qty, leg.stop_loss, leg.take_profit) == expected


def test_lots_instead_of_qty_and_not_both():
    base = seed_alert(qty=None, lots="2")
    assert parse_message(base, default_product_type="INTRADAY").legs[0].lots == 2
    with pytest.raises(InvalidAlert) as both:
        parse_message(seed_alert(lots=2), default_product_type="INTRADAY")
    assert both.value.field == "lots"


def test_legs_share_the_message_fields_and_errors_name_the_leg():
    message = parse_message(
        {"token": "s", "symbol": "NIFTY", "expiry": "WEEKLY", "strategy": "Straddle 1", "idempotency_key": "k",
         "legs": [{"strikeprice": "ATM", "optionType": "CE", "action": "SELL"},
                  {"strikeprice": "ATM", "optionType": "PE", "action": "SELL"}]},
        default_product_type="MARGIN",
    )
    assert message.multi_leg and message.strategy == "Straddle 1"
    assert [leg.option_type for leg in message.legs] == ["CE", "PE"]
    assert all(leg.product_type == "MARGIN" and leg.underlying == "NIFTY" for leg in message.legs)
    with pytest.raises(InvalidAlert) as bad:
        parse_message(
            {
                "symbol": "NIFTY",
                "expiry": "WEEKLY",
                "legs": [
                    {"strikeprice": 1, "optionType": "CE", "action": "BUY"},
                    {"strikeprice": "x", "optionType": "CE", "action": "BUY"},
                ],
            },
            default_product_type="INTRADAY",
        )
    assert bad.value.field == "legs[1].strikeprice"
