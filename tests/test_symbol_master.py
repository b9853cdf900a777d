"""The Fyers NSE_FO.csv reader, the synthetic master and the NSE holiday list."""

import http.server
import re
import socket
import threading
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.adapters.nse_holidays import nse_holidays
from app.adapters.symbol_master import load_symbol_master, parse_master_csv, synthetic_master_csv
from app.domain.contracts import IST

DESIGN_ROW = (
    "101126072135426,NIFTY 21 Jul 26 29450 CE,14,65,0.05,,0915-1530|1815-1915:,2026-07-17,"
    "1784628000,NSE:NIFTY2672129450CE,10,11,35426,NIFTY,26000,29450.0,CE,101000000026000,None,0,0.0"
)
FUTURES_ROW = (
    "101126122935001,NIFTY 26 Dec FUT,11,65,0.1,,0915-1530|1815-1915:,2026-11-20,"
    "1798538400,NSE:NIFTY26DECFUT,10,11,35001,NIFTY,26000,-1.0,XX,101000000026000,None,0,0.0"
)
# The shape of every row: 21 columns as in DESIGN §2's example.
ROW_SHAPE = re.compile(
    r"1011\d{11},[A-Z]+ \d{2} [A-Z][a-z]{2} \d{2} \d+ (CE|PE),14,\d+,0\.05,,0915-1530\|1815-1915:,"
    r"\d{4}-\d{2}-\d{2},\d{10},NSE:[A-Z]+\d{2}[0-9A-Z]+(CE|PE),10,11,\d+,[A-Z]+,\d+,\d+\.0,(CE|PE),"
    r"1010000000\d{5},None,0,0\.0"
)

NOV_22 = date(2026, 11, 22)  # a Sunday; Tuesday 24 Nov 2026 is an NSE holiday
NOV_HOLIDAY = {date(2026, 11, 24)}


def ist(year, month, day, hour=10, minute=0):
    """An aware IST datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=IST)


@pytest.fixture(scope="module")
def november_csv():
    return synthetic_master_csv(NOV_22, NOV_HOLIDAY)


@pytest.fixture(scope="module")
def november(november_csv):
    return parse_master_csv(november_csv.splitlines())


def test_design_example_row_parses():
    master = parse_master_csv([DESIGN_ROW, FUTURES_ROW])
    assert len(master) == 1  # the future is not an option
    contract = master.resolve("NIFTY", date(2026, 7, 21), Decimal("29450"), "CE", ist(2026, 7, 20))
    assert contract.ticker == "NSE:NIFTY2672129450CE"
    assert contract.underlying == "NIFTY"
    assert contract.lot_size == 65
    assert contract.tick_size == Decimal("0.05")
    assert contract.strike == Decimal("29450")
    assert contract.expiry == date(2026, 7, 21)
    assert contract.expires_at == 1784628000
    assert datetime.fromtimestamp(contract.expires_at, IST) == ist(2026, 7, 21, 15, 30)
    assert contract.option_type == "CE"
    assert not contract.monthly


def test_monthly_ticker_format_is_recognised():
    row = DESIGN_ROW.replace("NSE:NIFTY2672129450CE", "NSE:NIFTY26JUL29450CE")
    contract = parse_master_csv([row]).resolve("NIFTY", "MONTHLY", Decimal("29450"), "CE", ist(2026, 7, 20))
    assert contract.ticker == "NSE:NIFTY26JUL29450CE"
    assert contract.monthly


def test_malformed_rows_are_skipped():
    fields = DESIGN_ROW.split(",")
    broken = []
    for column, value in ((3, "sixty-five"), (4, "0"), (8, ""), (8, "99999999999999"), (8, "-1"), (9, ""), (15, "NaN"), (13, "")):
        row = list(fields)
        row[column] = value
        broken.append(",".join(row))
    master = parse_master_csv(broken + ["", "short,row", DESIGN_ROW])
    assert len(master) == 1


@pytest.mark.parametrize(
    "lines",
    [[], ["garbage"], ["\x00\x01\x02 not a csv"], [FUTURES_ROW], [DESIGN_ROW.replace(",65,", ",x,")]],
)
def test_nothing_usable_is_an_error(lines):
    with pytest.raises(ValueError, match="no usable option rows"):
        parse_master_csv(lines)


@pytest.mark.parametrize(
    "today, holidays, expiry, ticker, monthly",
    [
        (date(2026, 1, 19), (), date(2026, 1, 20), "NSE:NIFTY2612024000CE", False),
        (date(2026, 1, 19), (), date(2026, 1, 27), "NSE:NIFTY26JAN24000CE", True),
        (date(2026, 9, 1), (), date(2026, 9, 1), "NSE:NIFTY2690124000CE", False),
        (date(2026, 10, 1), (), date(2026, 10, 6), "NSE:NIFTY26O0624000CE", False),
        (date(2026, 10, 1), {date(2026, 10, 20)}, date(2026, 10, 19), "NSE:NIFTY26O1924000CE", False),
        (date(2026, 10, 1), (), date(2026, 10, 27), "NSE:NIFTY26OCT24000CE", True),
        (date(2026, 11, 1), (), date(2026, 11, 3), "NSE:NIFTY26N0324000CE", False),
        (date(2026, 12, 1), (), date(2026, 12, 1), "NSE:NIFTY26D0124000CE", False),
        (date(2026, 12, 1), (), date(2026, 12, 29), "NSE:NIFTY26DEC24000CE", True),
        (date(2026, 12, 1), (), date(2027, 1, 5), "NSE:NIFTY2710524000CE", False),
    ],
)
def test_synthetic_ticker_formats(today, holidays, expiry, ticker, monthly):
    master = parse_master_csv(synthetic_master_csv(today, holidays).splitlines())
    contract = master.resolve("NIFTY", expiry, Decimal("24000"), "CE", ist(today.year, today.month, today.day, 9, 0))
    assert (contract.ticker, contract.monthly) == (ticker, monthly)


def test_synthetic_rows_have_the_fyers_shape(november_csv):
    lines = november_csv.splitlines()
    assert all(ROW_SHAPE.fullmatch(line) for line in lines), next(l for l in lines if not ROW_SHAPE.fullmatch(l))
    assert all(len(line.split(",")) == 21 for line in lines)
    tickers = [line.split(",")[9] for line in lines]
    assert len(tickers) == len(set(tickers))
    # Parsing the synthetic file loses nothing: it is read exactly like the real one.
    assert len(parse_master_csv(lines)) == len(lines)


def test_synthetic_row_mirrors_the_design_example():
    lines = synthetic_master_csv(date(2026, 7, 17)).splitlines()
    (row,) = [line for line in lines if ",NSE:NIFTY2672126000CE," in line]
    fields, example = row.split(","), DESIGN_ROW.split(",")
    # Everything but the strike-dependent columns and the per-contract codes matches the example.
    same = (2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 16, 17, 18, 19, 20)
    assert [fields[i] for i in same] == [example[i] for i in same]
    assert fields[1] == "NIFTY 21 Jul 26 26000 CE"
    assert fields[15] == "26000.0"
    assert fields[0] == f"1011260721{fields[12]}"


def test_holiday_moves_the_november_expiry_to_monday(november_csv, november):
    assert "NSE:NIFTY26N23" not in november_csv  # the Monday expiry is the monthly one
    assert ",1795514400," not in november_csv  # nothing expires on the holiday itself
    contract = november.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 22))
    assert contract.expiry == date(2026, 11, 23)
    assert contract.ticker == "NSE:NIFTY26NOV26000CE"
    assert contract.monthly
    assert contract.expires_at == int(ist(2026, 11, 23, 15, 30).timestamp())
    after_close = november.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 23, 15, 30))
    assert after_close.ticker == "NSE:NIFTY26D0126000CE"


def test_november_expiries(november):
    now = ist(2026, 11, 22)
    assert november.expiries("NIFTY", now) == [
        date(2026, 11, 23),
        date(2026, 12, 1),
        date(2026, 12, 8),
        date(2026, 12, 15),
        date(2026, 12, 22),
        date(2026, 12, 29),
        date(2027, 1, 5),
        date(2027, 1, 12),
        date(2027, 1, 26),
    ]
    monthly_only = [date(2026, 11, 23), date(2026, 12, 29), date(2027, 1, 26)]
    for underlying in ("BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"):
        assert november.expiries(underlying, now) == monthly_only
    december = november.resolve("NIFTY", "NEXT_MONTHLY", Decimal("26000"), "PE", now)
    assert (december.expiry, december.ticker) == (date(2026, 12, 29), "NSE:NIFTY26DEC26000PE")


@pytest.mark.parametrize(
    "underlying, lot_size, spot, step",
    [
        ("NIFTY", 65, 26000, 50),
        ("BANKNIFTY", 30, 59000, 100),
        ("FINNIFTY", 60, 27500, 50),
        ("MIDCPNIFTY", 120, 13500, 25),
    ],
)
def test_synthetic_lot_sizes_and_strikes(november, underlying, lot_size, spot, step):
    now = ist(2026, 11, 22)
    assert november.lot_size(underlying, now) == lot_size
    contract = november.resolve(underlying, "WEEKLY", Decimal(spot), "PE", now)
    assert contract.tick_size == Decimal("0.05")
    strikes = november.strikes(underlying, date(2026, 12, 29), "CE")
    assert strikes == [Decimal(spot + offset * step) for offset in range(-40, 41)]


@pytest.mark.parametrize(
    "today, holidays, nearest",
    [
        # Today's Tuesday expiry is listed; it stops trading at 15:30.
        (date(2026, 12, 1), (), date(2026, 12, 1)),
        (date(2026, 12, 20), {date(2026, 12, 22)}, date(2026, 12, 21)),
        # A Tuesday holiday after a Monday one: the expiry moves back over the weekend.
        (date(2026, 12, 18), {date(2026, 12, 22), date(2026, 12, 21)}, date(2026, 12, 18)),
        # ...and is no longer listed once that Friday is past.
        (date(2026, 12, 20), {date(2026, 12, 22), date(2026, 12, 21)}, date(2026, 12, 29)),
    ],
)
def test_synthetic_expiry_shifts(today, holidays, nearest):
    master = parse_master_csv(synthetic_master_csv(today, holidays).splitlines())
    expiries = master.expiries("NIFTY", ist(today.year, today.month, today.day, 0, 0))
    assert expiries[0] == nearest
    assert not set(expiries) & set(holidays)


def test_synthetic_lists_three_monthlies_after_the_current_one_expired():
    # On the holiday itself November's expiry (Monday 23) is over: December to February remain.
    master = parse_master_csv(synthetic_master_csv(date(2026, 11, 24), NOV_HOLIDAY).splitlines())
    assert master.expiries("BANKNIFTY", ist(2026, 11, 24)) == [date(2026, 12, 29), date(2027, 1, 26), date(2027, 2, 23)]
    assert master.expiries("NIFTY", ist(2026, 11, 24))[0] == date(2026, 12, 1)


def test_load_from_a_local_file(tmp_path, november_csv):
    path = tmp_path / "NSE_FO.csv"
    path.write_text(november_csv)
    master = load_symbol_master(str(path), today=NOV_22)
    contract = master.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 22))
    assert contract.ticker == "NSE:NIFTY26NOV26000CE"


def test_load_synthetic_skips_real_holidays():
    master = load_symbol_master("synthetic", today=NOV_22)
    assert master.expiries("NIFTY", ist(2026, 11, 22))[:2] == [date(2026, 11, 23), date(2026, 12, 1)]


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "absent.csv"
    with pytest.raises(OSError, match=re.escape(str(missing))):
        load_symbol_master(str(missing), today=NOV_22)


def test_garbage_file_names_the_path(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 not a symbol master\n")
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*no usable option rows"):
        load_symbol_master(str(path), today=NOV_22)


def test_empty_source_is_refused():
    with pytest.raises(ValueError, match="symbol master source is empty"):
        load_symbol_master(" ", today=NOV_22)


@pytest.fixture
def master_server(monkeypatch, november_csv):
    """A local HTTP server: /NSE_FO.csv serves the November master, anything else is 404."""
    body = november_csv.encode()
    # Never send a loopback request through a proxy from the environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/NSE_FO.csv":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_load_from_a_url(master_server):
    master = load_symbol_master(f"{master_server}/NSE_FO.csv", today=NOV_22, timeout=5)
    assert master.lot_size("FINNIFTY", ist(2026, 11, 22)) == 60


def test_url_error_names_the_url(master_server):
    url = f"{master_server}/missing.csv"
    with pytest.raises(OSError, match=re.escape(url) + ".*404"):
        load_symbol_master(url, today=NOV_22, timeout=5)


def test_unreachable_url_names_the_url(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    # A port that was free a moment ago: nothing listens there, the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/NSE_FO.csv"
    with pytest.raises(OSError, match=re.escape(url)):
        load_symbol_master(url, today=NOV_22, timeout=2)


def test_nse_holidays_in_november_2026():
    holidays = nse_holidays(date(2026, 11, 1), date(2026, 11, 30))
    assert {date(2026, 11, 10), date(2026, 11, 24)} <= holidays
    assert all(day.weekday() < 5 for day in holidays)
    assert all(date(2026, 11, 1) <= day <= date(2026, 11, 30) for day in holidays)


def test_nse_holidays_beyond_the_calendar_are_unknown():
    assert nse_holidays(date(2027, 1, 1), date(2027, 12, 31)) == frozenset()
    assert date(2026, 12, 25) in nse_holidays(date(2026, 12, 1), date(2027, 3, 31))
    assert nse_holidays(date(2026, 11, 30), date(2026, 11, 1)) == frozenset()
