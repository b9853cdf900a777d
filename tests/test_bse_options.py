"""SENSEX and BANKEX from BSE_FO.csv: expiries from the file, BSE spot symbols, end to end on the fake Fyers."""

from __future__ import annotations

import pytest

from app.domain.strikes import spot_symbol
from tests.conftest import seed_alert, send_alert


@pytest.mark.parametrize(
    "underlying, spot",
    [
        ("SENSEX", "BSE:SENSEX-INDEX"),
        ("BANKEX", "BSE:BANKEX-INDEX"),
        ("NIFTYNXT50", "NSE:NIFTYNXT50-INDEX"),
        ("NIFTY", "NSE:NIFTY50-INDEX"),
        ("RELIANCE", "NSE:RELIANCE-EQ"),
    ],
)
def test_spot_symbols(underlying, spot):
    assert spot_symbol(underlying) == spot


def test_a_sensex_weekly_atm_alert_trades_a_bse_contract(logged_in, fake_fyers):
    # Wednesday 18 Nov 2026: SENSEX's nearest weekly is Thursday 19 Nov, read from BSE_FO.csv's rows.
    response = send_alert(logged_in, seed_alert(symbol="SENSEX", strikeprice="ATM", qty=None, sl=None, tp=None))
    assert response.status_code == 200, response.json
    assert response.json["expiry"] == "2026-11-19"
    assert response.json["symbol"].startswith("BSE:SENSEX26N19") and response.json["symbol"].endswith("CE")
    assert response.json["qty"] == 20  # one SENSEX lot, from the master
    [order] = fake_fyers.placed_orders()
    assert order["symbol"] == response.json["symbol"]
    # ATM came off the BSE index quote, not an NSE one.
    quoted = [call.query.get("symbols", "") for call in fake_fyers.calls if call.path == "quotes"]
    assert any("BSE:SENSEX-INDEX" in symbols for symbols in quoted)


def test_bankex_has_no_weekly_so_weekly_is_refused_with_its_expiries(logged_in, fake_fyers):
    response = send_alert(logged_in, seed_alert(symbol="BANKEX", strikeprice=65000))
    assert response.status_code == 422, response.json
    assert response.json["status"] == "contract_not_found"
    assert "BANKEX has no weekly expiries" in response.json["message"]
    assert response.json["tradable_expiries"][:2] == ["2026-11-26", "2026-12-31"]
    assert fake_fyers.count("orders/sync") == 0


def test_a_bankex_monthly_otm_alert_trades(logged_in, fake_fyers):
    response = send_alert(
        logged_in, seed_alert(symbol="BANKEX", strikeprice="OTM1", optionType="PE", expiry="MONTHLY", qty=None)
    )
    assert response.status_code == 200, response.json
    assert response.json["symbol"].startswith("BSE:BANKEX26NOV") and response.json["qty"] == 30
    assert len(fake_fyers.placed_orders()) == 1


def test_the_paper_default_trades_sensex_offline(client):
    response = send_alert(client, seed_alert(symbol="SENSEX", strikeprice=85000, qty=None, sl=None, tp=None))
    assert response.status_code == 200, response.json
    assert response.json["symbol"] == "BSE:SENSEX26N1985000CE"


def test_the_paper_default_prices_sensex_atm_off_its_index(client):
    response = send_alert(client, seed_alert(symbol="SENSEX", strikeprice="ATM", qty=None, sl=None, tp=None))
    assert response.status_code == 200, response.json
    assert response.json["symbol"] == "BSE:SENSEX26N1985000CE"


def test_an_exit_of_the_whole_sensex_underlying_closes_its_bse_contracts(client):
    opened = send_alert(client, seed_alert(symbol="SENSEX", strikeprice=85000, qty=None, sl=None, tp=None))
    assert opened.status_code == 200, opened.json
    closed = send_alert(client, {"token": seed_alert()["token"], "symbol": "SENSEX", "action": "EXIT",
                           "scope": "underlying", "idempotency_key": "exit-sensex"})
    assert closed.status_code == 200, closed.json
    assert closed.json["symbol"] == "BSE:SENSEX26N1985000CE" and closed.json["side"] == "SELL"
