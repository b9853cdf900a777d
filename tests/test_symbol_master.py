"""The Fyers F&O master reader (NSE_FO.csv, BSE_FO.csv), the synthetic master and the NSE holiday list."""

import http.server
import re
import socket
import threading
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from app.adapters.nse_holidays import nse_holidays
from app.adapters.symbol_master import load_symbol_master, parse_master_csv, synthetic_master_csv
from app.domain.contracts import IST
from app.domain.session import TradingSession, parse_session

# A row of Fyers's NSE_FO.csv, for an expiry after 3 Aug 2026: the session column says 0915-1540 and
# the expiry epoch is 15:40 IST on expiry day (1 Dec 2026).
DESIGN_ROW = (
    "101126120135426,NIFTY 01 Dec 26 29450 CE,14,65,0.05,,0915-1540|1815-1915:,2026-11-27,"
    "1796119800,NSE:NIFTY26D0129450CE,10,11,35426,NIFTY,26000,29450.0,CE,101000000026000,None,0,0.0"
)
FUTURES_ROW = (
    "101126122935001,NIFTY 29 Dec FUT,11,65,0.1,,0915-1540|1815-1915:,2026-11-20,"
    "1798539000,NSE:NIFTY26DECFUT,10,11,35001,NIFTY,26000,-1.0,XX,101000000026000,None,0,0.0"
)
# The same format in BSE_FO.csv: exchange 12, segment 11, "BSE:" tickers; SENSEX expires on Thursdays.
SENSEX_ROW = (
    "121126120382501,SENSEX 03 Dec 26 85000 CE,14,20,0.05,,0915-1540|1815-1915:,2026-11-27,"
    "1796292600,BSE:SENSEX26D0385000CE,12,11,825001,SENSEX,1,85000.0,CE,121000000000001,None,0,0.0"
)
# The shape of every row: 21 columns, as in DESIGN_ROW.
ROW_SHAPE = re.compile(
    r"(1011|1211)\d{11,12},[A-Z]+ \d{2} [A-Z][a-z]{2} \d{2} \d+ (CE|PE),14,\d+,0\.05,,0915-1540\|1815-1915:,"
    r"\d{4}-\d{2}-\d{2},\d{10},(NSE|BSE):[A-Z]+\d{2}[0-9A-Z]+(CE|PE),(10|12),11,\d+,[A-Z]+,\d+,\d+\.0,(CE|PE),"
    r"(1010|1210)\d{11},None,0,0\.0"
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
    contract = master.resolve("NIFTY", date(2026, 12, 1), Decimal("29450"), "CE", ist(2026, 11, 30))
    assert contract.ticker == "NSE:NIFTY26D0129450CE"
    assert contract.underlying == "NIFTY"
    assert contract.lot_size == 65
    assert contract.tick_size == Decimal("0.05")
    assert contract.strike == Decimal("29450")
    assert contract.expiry == date(2026, 12, 1)
    assert contract.expires_at == 1796119800
    assert datetime.fromtimestamp(contract.expires_at, IST) == ist(2026, 12, 1, 15, 40)
    assert contract.option_type == "CE"
    assert not contract.monthly


def test_monthly_ticker_format_is_recognised():
    row = DESIGN_ROW.replace("NSE:NIFTY26D0129450CE", "NSE:NIFTY26DEC29450CE")
    contract = parse_master_csv([row]).resolve("NIFTY", "MONTHLY", Decimal("29450"), "CE", ist(2026, 11, 30))
    assert contract.ticker == "NSE:NIFTY26DEC29450CE"
    assert contract.monthly


def test_malformed_rows_are_skipped():
    fields = DESIGN_ROW.split(",")
    broken = []
    for column, value in (
        (3, "sixty-five"), (4, "0"), (8, ""), (8, "99999999999999"), (8, "-1"), (9, ""), (15, "NaN"), (13, "")
    ):
        row = list(fields)
        row[column] = value
        broken.append(",".join(row))
    master = parse_master_csv(broken + ["", "short,row", DESIGN_ROW])
    assert len(master) == 1


@pytest.mark.parametrize(
    "lines, why",
    [
        ([], "no rows"),
        (["garbage"], "rows have 1 column where Fyers's F&O master has 21"),
        (["\x00\x01\x02 not a csv"], "rows have 1 column"),
        ([DESIGN_ROW + ",extra,columns"] * 3, "rows have 23 columns"),
        ([FUTURES_ROW], "no option rows"),
        ([DESIGN_ROW.replace(",65,", ",x,")], "no usable option rows .*1 malformed"),
        # NSE_CD.csv's currency options are segment 12: not equity derivatives.
        ([DESIGN_ROW.replace(",10,11,", ",10,12,")], "no usable option rows .*1 not NSE or BSE equity derivatives"),
        (
            ["Fytoken,Symbol Details,Exchange Instrument type,Minimum lot size", DESIGN_ROW],
            "first row is a header .*Fytoken",
        ),
    ],
)
def test_nothing_usable_is_an_error_that_says_why(lines, why):
    with pytest.raises(ValueError, match=why):
        parse_master_csv(lines)


def test_a_file_of_the_other_exchange_is_refused():
    with pytest.raises(ValueError, match=r"lists BSE contracts \(e\.g\. BSE:SENSEX26D0385000CE\) where the NSE_FO"):
        parse_master_csv([SENSEX_ROW], exchange="NSE")
    with pytest.raises(ValueError, match="lists NSE contracts .* where the BSE_FO"):
        parse_master_csv([DESIGN_ROW], exchange="BSE")


def test_a_ticker_of_another_exchange_than_its_row_is_malformed():
    with pytest.raises(ValueError, match="1 malformed"):
        parse_master_csv([DESIGN_ROW.replace(",10,11,", ",12,11,")])


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
    assert all(ROW_SHAPE.fullmatch(line) for line in lines), next(
        line for line in lines if not ROW_SHAPE.fullmatch(line)
    )
    assert all(len(line.split(",")) == 21 for line in lines)
    tickers = [line.split(",")[9] for line in lines]
    assert len(tickers) == len(set(tickers))
    # Parsing the synthetic file loses nothing: it is read exactly like the real one.
    assert len(parse_master_csv(lines)) == len(lines)


def test_synthetic_row_mirrors_the_design_example():
    lines = synthetic_master_csv(date(2026, 11, 27)).splitlines()
    (row,) = [line for line in lines if ",NSE:NIFTY26D0126000CE," in line]
    fields, example = row.split(","), DESIGN_ROW.split(",")
    # Everything but the strike-dependent columns and the per-contract codes matches the example.
    same = (2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 16, 17, 18, 19, 20)
    assert [fields[i] for i in same] == [example[i] for i in same]
    assert fields[1] == "NIFTY 01 Dec 26 26000 CE"
    assert fields[15] == "26000.0"
    assert fields[0] == f"1011261201{fields[12]}"


def test_holiday_moves_the_november_expiry_to_monday(november_csv, november):
    assert "NSE:NIFTY26N23" not in november_csv  # the Monday expiry is the monthly one
    assert ",1795515000," not in november_csv  # nothing expires on the holiday itself (24 Nov, 15:40)
    contract = november.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 22))
    assert contract.expiry == date(2026, 11, 23)
    assert contract.ticker == "NSE:NIFTY26NOV26000CE"
    assert contract.monthly
    assert contract.expires_at == int(ist(2026, 11, 23, 15, 40).timestamp())
    at_1535 = november.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 23, 15, 35))
    assert at_1535.ticker == "NSE:NIFTY26NOV26000CE"  # still that day's contract
    after_close = november.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 23, 15, 40))
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


@pytest.fixture(scope="module")
def november_both():
    """The synthetic NSE_FO.csv and BSE_FO.csv of 22 Nov 2026, as the default 'synthetic' loads them."""
    return load_symbol_master("synthetic", today=NOV_22)


@pytest.mark.parametrize(
    "underlying, lot_size, spot, step, december",
    [
        ("NIFTY", 65, 26000, 50, date(2026, 12, 29)),
        ("BANKNIFTY", 30, 59000, 100, date(2026, 12, 29)),
        ("FINNIFTY", 60, 27500, 50, date(2026, 12, 29)),
        ("MIDCPNIFTY", 120, 13500, 25, date(2026, 12, 29)),
        ("SENSEX", 20, 85000, 100, date(2026, 12, 31)),
        ("BANKEX", 30, 65000, 100, date(2026, 12, 31)),
    ],
)
def test_synthetic_lot_sizes_and_strikes(november_both, underlying, lot_size, spot, step, december):
    now = ist(2026, 11, 22)
    assert november_both.lot_size(underlying, now) == lot_size
    contract = november_both.resolve(underlying, "MONTHLY", Decimal(spot), "PE", now)
    assert contract.tick_size == Decimal("0.05")
    strikes = november_both.strikes(underlying, december, "CE")
    assert strikes == [Decimal(spot + offset * step) for offset in range(-40, 41)]


@pytest.mark.parametrize(
    "today, holidays, nearest",
    [
        # Today's Tuesday expiry is listed; it stops trading at the session's 15:40 close.
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
    with pytest.raises(ValueError, match=re.escape(str(path)) + " is not usable: its rows have 1 column"):
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


# -- the session column -------------------------------------------------------------------


def test_the_master_states_the_session():
    master = parse_master_csv([DESIGN_ROW, SENSEX_ROW])
    assert master.session("NSE") == TradingSession(time(9, 15), time(15, 40))
    assert master.session("BSE") == TradingSession(time(9, 15), time(15, 40))


def test_the_session_most_rows_state_wins_over_a_stray_row():
    fields = DESIGN_ROW.split(",")
    rows = []
    for strike in range(29000, 29500, 50):
        row = list(fields)
        row[15], row[9] = f"{strike}.0", f"NSE:NIFTY26D01{strike}CE"
        rows.append(",".join(row))
    rows[0] = rows[0].replace("0915-1540|", "0915-1530|")  # one stale row
    rows[1] = rows[1].replace("0915-1540|1815-1915:", "")  # one saying nothing
    assert parse_master_csv(rows).session("NSE") == TradingSession(time(9, 15), time(15, 40))


def test_a_master_without_a_readable_session_states_none():
    row = DESIGN_ROW.replace("0915-1540|1815-1915:", "")
    assert parse_master_csv([row]).session("NSE") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0915-1540|1815-1915:", (time(9, 15), time(15, 40))),
        ("0915-1530:", (time(9, 15), time(15, 30))),
        ("0900-2355|", (time(9, 0), time(23, 55))),
        ("", None),
        ("1540-0915", None),
        ("0960-1540", None),
        ("NaN", None),
    ],
)
def test_parse_session(text, expected):
    session = parse_session(text)
    assert (session.opens, session.closes) == expected if expected else session is None


def test_the_amo_window_follows_the_close():
    session = TradingSession(time(9, 15), time(15, 40))
    assert (session.amo_from, session.amo_until) == (time(15, 55), time(8, 57))


def test_the_synthetic_master_states_the_1540_close_and_expires_at_it(november_csv):
    assert {line.split(",")[6] for line in november_csv.splitlines()} == {"0915-1540|1815-1915:"}
    for line in november_csv.splitlines()[:50]:
        assert datetime.fromtimestamp(int(line.split(",")[8]), IST).time() == time(15, 40)


# -- BSE options --------------------------------------------------------------------------


def test_the_synthetic_bse_master_lists_sensex_weekly_and_bankex_monthly():
    csv_text = synthetic_master_csv(NOV_22, NOV_HOLIDAY, "BSE")
    lines = csv_text.splitlines()
    assert all(ROW_SHAPE.fullmatch(line) for line in lines)
    assert {line.split(",")[10] for line in lines} == {"12"}
    assert {line.split(",")[9][:4] for line in lines} == {"BSE:"}
    master = parse_master_csv(lines, exchange="BSE")
    now = ist(2026, 11, 22)
    # Thursdays, and the last Thursday of the month is the monthly contract.
    assert master.expiries("SENSEX", now)[:3] == [date(2026, 11, 26), date(2026, 12, 3), date(2026, 12, 10)]
    assert master.expiries("BANKEX", now) == [date(2026, 11, 26), date(2026, 12, 31), date(2027, 1, 28)]
    weekly = master.resolve("SENSEX", "NEXT_WEEKLY", Decimal("85000"), "CE", now)
    assert (weekly.ticker, weekly.lot_size, weekly.monthly) == ("BSE:SENSEX26D0385000CE", 20, False)
    monthly = master.resolve("SENSEX", "MONTHLY", Decimal("85000"), "CE", now)
    assert (monthly.ticker, monthly.monthly) == ("BSE:SENSEX26NOV85000CE", True)
    assert master.resolve("BANKEX", "MONTHLY", Decimal("65000"), "PE", now).ticker == "BSE:BANKEX26NOV65000PE"


def test_the_design_shaped_bse_row_parses():
    contract = parse_master_csv([SENSEX_ROW], exchange="BSE").resolve(
        "SENSEX", "WEEKLY", Decimal("85000"), "CE", ist(2026, 12, 3, 15, 35)
    )
    assert (contract.ticker, contract.lot_size, contract.expiry) == ("BSE:SENSEX26D0385000CE", 20, date(2026, 12, 3))


def test_the_default_synthetic_master_lists_both_exchanges(november_both):
    assert {"NIFTY", "BANKNIFTY", "SENSEX", "BANKEX"} <= november_both.underlyings
    nifty = november_both.resolve("NIFTY", "WEEKLY", Decimal("26000"), "CE", ist(2026, 11, 22))
    assert nifty.ticker.startswith("NSE:")
    sensex = november_both.resolve("SENSEX", "WEEKLY", Decimal("85000"), "CE", ist(2026, 11, 22))
    assert sensex.ticker.startswith("BSE:")


def test_comma_separated_sources_load_side_by_side(tmp_path):
    nse, bse = tmp_path / "NSE_FO.csv", tmp_path / "BSE_FO.csv"
    nse.write_text(synthetic_master_csv(NOV_22, NOV_HOLIDAY, "NSE"))
    bse.write_text(synthetic_master_csv(NOV_22, NOV_HOLIDAY, "BSE"))
    master = load_symbol_master(f"{nse}, {bse}", today=NOV_22)
    assert {"NIFTY", "SENSEX", "BANKEX"} <= master.underlyings
    assert master.session("NSE") and master.session("BSE")


def test_a_bse_file_given_as_the_nse_master_is_refused(tmp_path):
    wrong = tmp_path / "NSE_FO.csv"
    wrong.write_text(synthetic_master_csv(NOV_22, NOV_HOLIDAY, "BSE"))
    with pytest.raises(ValueError, match=re.escape(str(wrong)) + " is not usable: it lists BSE contracts"):
        load_symbol_master(str(wrong), today=NOV_22)


def test_an_empty_entry_between_commas_is_refused():
    with pytest.raises(ValueError, match="empty entry"):
        load_symbol_master("synthetic,,", today=NOV_22)


def test_a_row_cut_short_is_skipped_not_a_crash():
    cut = ",".join(DESIGN_ROW.split(",")[:14])  # ends past the segment column, before the option type
    assert len(parse_master_csv([cut, DESIGN_ROW, FUTURES_ROW])) == 1
