"""Size by risk: `risk` (rupees) or `risk_pct` (of CAPITAL) instead of qty or lots, the arithmetic shown."""

from __future__ import annotations

import json
import pathlib
import re
from decimal import Decimal

import pytest

from app.domain.alert import parse_message
from app.domain.errors import InvalidAlert, RiskRefused
from app.domain.sizing import risk_rupees, size_by_risk, size_leg
from app.settings import Settings
from tests.conftest import SECRET, seed_alert, send_alert

NIFTY_CE = "NSE:NIFTY26NOV26000CE"  # the seed alert's contract on the test day


def risk_alert(**overrides):
    """The seed alert sized by risk: no qty."""
    return seed_alert(qty=None, **overrides)


# -- The arithmetic ------------------------------------------------------------------------------

SIZES = [
    # (risk, entry, stop, lot size, max lots) -> (lots, capped_by)
    pytest.param("1950", "130", "100", 65, 10, 1, None, id="exactly-one-lot"),
    pytest.param("2000", "130", "100", 65, 10, 1, None, id="a-little-over-one-lot"),
    pytest.param("5000", "130", "100", 65, 10, 2, None, id="2.56-lots-round-down"),
    pytest.param("5849.99", "130", "100", 65, 10, 2, None, id="a-paisa-short-of-three"),
    pytest.param("5850", "130", "100", 65, 10, 3, None, id="exactly-three"),
    pytest.param("20000", "130", "100", 65, 3, 3, "WEBHOOK_MAX_QTY", id="capped-by-webhook-max-qty"),
    pytest.param("5850", "130", "100", 65, 3, 3, None, id="at-the-cap-not-capped"),
    pytest.param("20000", "130", "100", 65, None, 10, None, id="no-cap"),
    pytest.param("2000", "250", "212.50", 30, 10, 1, None, id="banknifty-lot-30"),
    pytest.param("5000", "250", "212.50", 30, 10, 4, None, id="banknifty-4.44-lots"),
    pytest.param("3000", "100", "115", 65, 10, 3, None, id="a-sell-stop-above-the-entry"),
    pytest.param("500", "12.35", "12.30", 65, 200, 153, None, id="a-one-tick-stop"),
]


@pytest.mark.parametrize("risk, entry, stop, lot_size, max_lots, lots, capped_by", SIZES)
def test_lots_are_the_whole_lots_within_the_risk(risk, entry, stop, lot_size, max_lots, lots, capped_by):
    sizing = size_by_risk(Decimal(risk), Decimal(entry), Decimal(stop), lot_size, max_lots)
    assert (sizing.lots, sizing.capped_by) == (lots, capped_by)
    assert sizing.qty == lots * lot_size
    assert sizing.per_lot == lot_size * abs(Decimal(entry) - Decimal(stop))
    # Never more than asked.
    assert sizing.lots * sizing.per_lot <= Decimal(risk)


@pytest.mark.parametrize(
    "risk, entry, stop, lot_size, one_lot",
    [
        pytest.param("1949.99", "130", "100", 65, "1950.00", id="just-under-one-lot"),
        pytest.param("1000", "250", "212.50", 30, "1125.00", id="banknifty"),
    ],
)
def test_less_than_one_lot_of_risk_is_refused(risk, entry, stop, lot_size, one_lot):
    with pytest.raises(RiskRefused, match=rf"one lot of {lot_size} risks Rs {one_lot} .* more than the Rs {risk}"):
        size_by_risk(Decimal(risk), Decimal(entry), Decimal(stop), lot_size, 10)


def test_risk_pct_is_a_percentage_of_capital_rounded_down_to_the_paisa():
    assert risk_rupees(None, Decimal("1"), Decimal("500000"), "risk_pct") == Decimal("5000.00")
    assert risk_rupees(None, Decimal("0.333"), Decimal("100000"), "risk_pct") == Decimal("333.00")
    assert risk_rupees(None, Decimal("0.0333"), Decimal("100001"), "risk_pct") == Decimal("33.30")
    assert risk_rupees(Decimal("2000"), None, None, "risk") == Decimal("2000")
    with pytest.raises(InvalidAlert, match="CAPITAL is not set") as refused:
        risk_rupees(None, Decimal("1"), None, "legs[1].risk_pct")
    assert refused.value.field == "legs[1].risk_pct"


def test_a_leg_sized_by_risk_pct_shows_the_capital():
    [leg] = parse_message(risk_alert(risk_pct="1"), default_product_type="INTRADAY").legs
    sizing = size_leg(leg, Decimal("500000"), Decimal("130"), Decimal("100"), 65, 10)
    assert sizing.shown(float) == {
        "risk": 5000.0,
        "per_lot": 1950.0,
        "lots": 2,
        "qty": 130,
        "entry": 130.0,
        "stop": 100.0,
        "capped_by": None,
        "risk_pct": 1.0,
        "capital": 500000.0,
    }
    [plain] = parse_message(seed_alert(), default_product_type="INTRADAY").legs
    assert size_leg(plain, None, Decimal("130"), Decimal("100"), 65, 10) is None


def test_capital_is_read_from_the_environment():
    assert Settings.from_env({"CAPITAL": "500000"}).capital == Decimal("500000")
    assert Settings.from_env({}).capital is None


# -- The alert's fields ------------------------------------------------------------------------------


def parsed(payload):
    return parse_message(payload, default_product_type="INTRADAY")


def test_risk_is_read_from_a_number_or_a_string():
    assert parsed(risk_alert(risk="2000")).legs[0].risk == Decimal("2000")
    assert parsed(risk_alert(risk=2000.5)).legs[0].risk == Decimal("2000.5")
    assert parsed(risk_alert(risk_pct="0.5")).legs[0].risk_pct == Decimal("0.5")
    assert parsed(risk_alert(risk_pct=100)).legs[0].risk_pct == Decimal("100")


def legs_message(*legs, **shared):
    return {"token": SECRET, "symbol": "NIFTY", "expiry": "WEEKLY", "legs": list(legs), **shared}


LEG = {"strikeprice": 26000, "optionType": "CE", "action": "BUY"}

BAD = [
    # (the alert, the field named, what the message must echo)
    pytest.param(risk_alert(risk="two thousand"), "risk", '"two thousand"', id="risk-text"),
    pytest.param(risk_alert(risk=0), "risk", "0", id="risk-zero"),
    pytest.param(risk_alert(risk="-2000"), "risk", '"-2000"', id="risk-negative"),
    pytest.param(risk_alert(risk=True), "risk", "true", id="risk-bool"),
    pytest.param(risk_alert(risk_pct=0), "risk_pct", "0", id="risk_pct-zero"),
    pytest.param(risk_alert(risk_pct="100.5"), "risk_pct", '"100.5"', id="risk_pct-over-100"),
    pytest.param(risk_alert(risk_pct="1%"), "risk_pct", '"1%"', id="risk_pct-percent-sign"),
    pytest.param(seed_alert(risk=2000), "risk", "qty 65", id="risk-and-qty"),
    pytest.param(risk_alert(risk="2000", lots=2), "risk", "lots 2", id="risk-and-lots"),
    pytest.param(risk_alert(risk=2000, risk_pct=1), "risk", "risk_pct 1", id="risk-and-risk_pct"),
    pytest.param(seed_alert(risk_pct=1), "risk_pct", "qty 65", id="risk_pct-and-qty"),
    pytest.param(risk_alert(action="EXIT", risk=2000), "risk", "an EXIT closes what is held", id="exit"),
    pytest.param(
        legs_message(LEG, {**LEG, "lots": 1, "risk": "2000"}), "legs[1].risk", "legs[1].lots 1", id="leg-and-lots"
    ),
    pytest.param(legs_message(LEG, {**LEG, "risk_pct": 200}), "legs[1].risk_pct", "200", id="leg-risk_pct"),
    pytest.param(
        legs_message({**LEG, "action": "EXIT"}, risk=2000), "legs[0].risk", "an EXIT closes", id="shared-risk-on-exit"
    ),
]


@pytest.mark.parametrize("alert, field, echoed", BAD)
def test_a_bad_or_conflicting_risk_is_400_naming_the_field(make_bridge, alert, field, echoed):
    bridge = make_bridge(capital=Decimal("500000"), webhook_max_qty=10)
    response = send_alert(bridge.client, alert)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert echoed in response.json["message"]
    assert bridge.paper.orders == []


def test_risk_pct_without_capital_is_400_saying_capital_is_not_set(make_bridge):
    bridge = make_bridge(webhook_max_qty=10)
    response = send_alert(bridge.client, risk_alert(risk_pct="1", sl=100))
    assert response.status_code == 400, response.json
    assert response.json["field"] == "risk_pct"
    assert "CAPITAL is not set" in response.json["message"]
    assert bridge.paper.orders == []


# -- Through the paper bridge ----------------------------------------------------------------------------


@pytest.fixture
def bridge(make_bridge):
    """A paper bridge allowing 10 lots, NIFTY 26000 CE at 130."""
    built = make_bridge(webhook_max_qty=10, capital=Decimal("500000"))
    built.paper.set_price(NIFTY_CE, Decimal("130"))
    return built


def test_risk_buys_the_whole_lots_and_shows_the_arithmetic(bridge):
    response = send_alert(bridge.client, risk_alert(risk="5000", sl=100))
    assert response.status_code == 200, response.json
    assert response.json["qty"] == 130 and response.json["lots"] == 2
    assert response.json["sizing"] == {
        "risk": 5000.0,
        "per_lot": 1950.0,
        "lots": 2,
        "qty": 130,
        "entry": 130.0,
        "stop": 100.0,
        "capped_by": None,
    }
    [order] = bridge.paper.orders[:1]
    assert (order.symbol, order.qty) == (NIFTY_CE, 130)
    journal = bridge.services.journal.day(bridge.services.clock.now().date())
    assert journal[-1]["decisions"][0]["sizing"] == {
        "risk": "5000",
        "per_lot": "1950",
        "lots": 2,
        "qty": 130,
        "entry": "130",
        "stop": "100",
        "capped_by": None,
    }


def test_without_sl_the_stop_comes_from_sl_percent(bridge):
    response = send_alert(bridge.client, risk_alert(risk=4000, sl=None))
    assert response.status_code == 200, response.json
    ltp, stop = Decimal(str(response.json["ltp"])), Decimal(str(response.json["sl"]))
    assert stop == ltp * (1 - Decimal("0.15"))  # SL_PERCENT 15: 110.50 for 130
    lots = int(Decimal(4000) // (65 * (ltp - stop)))
    assert lots == 3 and response.json["qty"] == 65 * lots  # 4000 / (65 x 19.50) = 3.16
    assert response.json["sizing"]["per_lot"] == float(65 * (ltp - stop))


def test_the_deterministic_paper_price_sizes_the_same_way(make_bridge):
    bridge = make_bridge(webhook_max_qty=10)
    response = send_alert(bridge.client, risk_alert(risk="2000", sl=None))
    assert response.status_code == 200, response.json
    ltp, stop = Decimal(str(response.json["ltp"])), Decimal(str(response.json["sl"]))
    per_lot = 65 * (ltp - stop)  # 65 x (148.90 - 126.55) = 1452.75
    assert response.json["lots"] == int(Decimal(2000) // per_lot) == 1
    assert response.json["sizing"]["per_lot"] == float(per_lot)


def test_more_lots_than_webhook_max_qty_are_capped_and_said(make_bridge):
    bridge = make_bridge(webhook_max_qty=3)
    bridge.paper.set_price(NIFTY_CE, Decimal("130"))
    response = send_alert(bridge.client, risk_alert(risk=20000, sl=100))
    assert response.status_code == 200, response.json
    assert response.json["qty"] == 195
    assert response.json["sizing"]["lots"] == 3 and response.json["sizing"]["capped_by"] == "WEBHOOK_MAX_QTY"


def test_one_lot_risking_more_than_asked_is_422_and_nothing_is_sent(bridge):
    response = send_alert(bridge.client, risk_alert(risk=1949.99, sl=100))
    assert response.status_code == 422, response.json
    assert response.json["rule"] == "risk" and response.json["field"] == "risk"
    assert "one lot of 65 risks Rs 1950.00" in response.json["message"]
    assert "more than the Rs 1949.99" in response.json["message"]
    assert response.json["sizing"]["per_lot"] == 1950.0
    assert bridge.paper.orders == []


def test_risk_pct_sizes_from_capital(bridge):
    response = send_alert(bridge.client, risk_alert(risk_pct="1", sl=100))
    assert response.status_code == 200, response.json
    assert response.json["sizing"]["risk"] == 5000.0 and response.json["sizing"]["capital"] == 500000.0
    assert response.json["qty"] == 130


def test_a_dry_run_shows_the_same_arithmetic_and_sends_nothing(bridge):
    response = send_alert(bridge.client, risk_alert(risk="5000", sl=100, dry_run=True))
    assert response.status_code == 200, response.json
    [order] = response.json["orders"]
    assert order["status"] == "would_place" and order["qty"] == 130
    assert order["sizing"]["lots"] == 2 and order["sizing"]["per_lot"] == 1950.0
    assert bridge.paper.orders == []


def test_each_leg_is_sized_by_its_own_risk(bridge):
    pe = "NSE:NIFTY26NOV26000PE"
    bridge.paper.set_price(pe, Decimal("80"))
    message = legs_message(
        {**LEG, "risk": 5000, "sl": 100},
        {**LEG, "optionType": "PE", "lots": 1},
        {**LEG, "optionType": "PE", "action": "SELL", "risk": 3000, "sl": 95},
    )
    message["open_short"] = True  # the PE sold is not held
    response = send_alert(bridge.client, message)
    assert response.status_code == 200, response.json
    by_side = {(o["symbol"], o["side"]): o for o in response.json["legs"]}
    assert by_side[(NIFTY_CE, "BUY")]["qty"] == 130  # 5000 / (65 x 30)
    assert "sizing" not in by_side[(pe, "BUY")]
    # A SELL's stop sits above: 65 x (95 - 80) = 975 a lot, 3000 buys 3.
    assert by_side[(pe, "SELL")]["sizing"]["lots"] == 3 and by_side[(pe, "SELL")]["qty"] == 195


def test_banknifty_lots_of_30(bridge):
    dry = send_alert(
        bridge.client, risk_alert(symbol="BANKNIFTY", strikeprice="ATM", expiry="MONTHLY", risk=5000, dry_run=True)
    )
    assert dry.status_code == 200, dry.json
    [order] = dry.json["orders"]
    ltp, stop = Decimal(str(order["ltp"])), Decimal(str(order["sl"]))
    assert order["sizing"]["per_lot"] == float(30 * (ltp - stop))
    assert order["qty"] == 30 * int(Decimal(5000) // (30 * (ltp - stop))) == 30 * order["sizing"]["lots"]


# -- Over the fake Fyers ----------------------------------------------------------------------------------


def test_the_sized_qty_reaches_fyers(fyers, fake_fyers):
    client, _ = fyers(webhook_max_qty=10)
    fake_fyers.set_ltp(NIFTY_CE, 130.0)
    response = send_alert(client, risk_alert(risk="4000", sl=100))
    assert response.status_code == 200, response.json
    [order] = fake_fyers.placed_orders()[:1]
    assert order["symbol"] == NIFTY_CE and order["qty"] == 130  # 4000 / (65 x 30) = 2.05: 2 lots
    assert response.json["sizing"]["lots"] == 2 and response.json["order_id"] == order["id"]


# -- The documented templates -------------------------------------------------------------------------------


def size_by_risk_templates() -> list[str]:
    """The JSON templates of docs/alerts.md's "Size by risk" section."""
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "alerts.md").read_text()
    section = text.split("## Size by risk", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```json\n(.*?)```", section, re.S)


def test_the_documented_templates_size_by_risk(make_bridge):
    filled = [
        json.loads(t.replace("YOUR_SECRET", SECRET).replace("{{timenow}}", "2026-11-18T04:30:00Z"))
        for t in size_by_risk_templates()
    ]
    assert [("risk" in t, "risk_pct" in t) for t in filled] == [(True, False), (False, True)]
    plain, percent = filled
    assert plain["risk"] == 2000 and percent["risk_pct"] == 1
    without_capital = make_bridge()
    assert send_alert(without_capital.client, percent).status_code == 400
    bridge = make_bridge(capital=Decimal("500000"), webhook_max_qty=10)
    for template in filled:
        response = send_alert(bridge.client, template)
        assert response.status_code == 200, response.json
        sizing = response.json["sizing"]
        assert sizing["lots"] == int(Decimal(str(sizing["risk"])) // Decimal(str(sizing["per_lot"]))) >= 1
    assert response.json["sizing"]["risk"] == 5000.0  # 1% of CAPITAL 500000
