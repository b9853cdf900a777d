"""Alert validation: types, aliases of case, defaults, and lot rules."""

from datetime import date
from decimal import Decimal

import pytest

from app.domain.alert import check_lots, parse_alert
from app.domain.errors import InvalidAlert
from app.domain.orders import Side
from tests.conftest import seed_alert


def parse(**overrides):
    return parse_alert(seed_alert(**overrides), default_product_type="INTRADAY")


def test_seed_payload():
    alert = parse()
    assert alert.underlying == "NIFTY" and alert.strike == Decimal(26000)
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
        ({"strikeprice": "24000.0"}, "strike", Decimal("24000.0")),
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


@pytest.mark.parametrize("qty, lot, max_lots, match", [(64, 65, 1, "whole number of lots"), (130, 65, 1, "at most 1 lot")])
def test_lot_refusals(qty, lot, max_lots, match):
    with pytest.raises(InvalidAlert, match=match):
        check_lots(qty, lot, max_lots)
