"""Write a ~100k-row NSE_FO.csv in the real 21-column Fyers format, for the start-up benchmarks.

The real file (https://public.fyers.in/sym_details/NSE_FO.csv) lists about 100k rows: index
options (NIFTY weekly and monthly, BANKNIFTY, FINNIFTY, MIDCPNIFTY monthly), options on
about 200 stocks for three monthly expiries, and a future (option type XX) per underlying and
expiry. This generator lists the same shape, with expiries relative to `today` (every NSE
expiry is a Tuesday; a holiday moves it to the previous trading day), so that the bench never
depends on the network or on the day it runs.

    python -m bench.make_master /tmp/NSE_FO.csv [--rows 100000] [--today 2026-11-20]
"""

from __future__ import annotations

import argparse
import calendar
import zlib
from datetime import date, datetime, time, timedelta
from pathlib import Path

from app.adapters.nse_holidays import nse_holidays
from app.domain.contracts import IST

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"  # weekly tickers: 1-9 for January-September, then O, N, D
MARKET_CLOSE = time(15, 40)  # expiry instants: the 15:40 close since 3 Aug 2026
WEEKLY_EXPIRIES = 8
MONTHLY_EXPIRIES = 3
INDEX_STRIKES_EACH_SIDE = 100

# (underlying, lot size, spot, strike step, underlying scrip code, weekly expiries)
INDICES = (
    ("NIFTY", 65, 26000, 50, 26000, True),
    ("BANKNIFTY", 30, 59000, 100, 26009, False),
    ("FINNIFTY", 60, 27500, 50, 26037, False),
    ("MIDCPNIFTY", 120, 13500, 25, 26074, False),
)

# NSE F&O stocks (2025-26 list); their spot, lot and strike step are made up, deterministically.
STOCKS = """
AARTIIND ABB ABCAPITAL ABFRL ACC ADANIENSOL ADANIENT ADANIGREEN ADANIPORTS ALKEM AMBUJACEM
ANGELONE APLAPOLLO APOLLOHOSP APOLLOTYRE ASHOKLEY ASIANPAINT ASTRAL ATUL AUBANK AUROPHARMA
AXISBANK BAJAJ-AUTO BAJAJFINSV BAJFINANCE BALKRISIND BANDHANBNK BANKBARODA BANKINDIA BEL
BERGEPAINT BHARATFORG BHARTIARTL BHEL BIOCON BOSCHLTD BPCL BRITANNIA BSE BSOFT CAMS CANBK
CDSL CESC CGPOWER CHAMBLFERT CHOLAFIN CIPLA COALINDIA COFORGE COLPAL CONCOR CROMPTON
CUMMINSIND CYIENT DABUR DALBHARAT DEEPAKNTR DELHIVERY DIVISLAB DIXON DLF DMART DRREDDY
EICHERMOT ESCORTS ETERNAL EXIDEIND FEDERALBNK GAIL GLENMARK GMRAIRPORT GODREJCP GODREJPROP
GRANULES GRASIM HAL HAVELLS HCLTECH HDFCAMC HDFCBANK HDFCLIFE HEROMOTOCO HFCL HINDALCO
HINDCOPPER HINDPETRO HINDUNILVR HINDZINC HUDCO ICICIBANK ICICIGI ICICIPRULI IDEA IDFCFIRSTB
IEX IGL IIFL INDHOTEL INDIANB INDIGO INDUSINDBK INDUSTOWER INFY INOXWIND IOC IRB IRCTC IREDA
IRFC ITC JINDALSTEL JIOFIN JSL JSWENERGY JSWSTEEL JUBLFOOD KALYANKJIL KEI KOTAKBANK KPITTECH
LAURUSLABS LICHSGFIN LICI LODHA LT LTF LTIM LUPIN M&M M&MFIN MANAPPURAM MARICO MARUTI
MAXHEALTH MCX MFSL MGL MOTHERSON MPHASIS MUTHOOTFIN NATIONALUM NAUKRI NBCC NCC NESTLEIND
NHPC NMDC NTPC NYKAA OBEROIRLTY OFSS OIL ONGC PAGEIND PATANJALI PAYTM PEL PERSISTENT
PETRONET PFC PHOENIXLTD PIDILITIND PIIND PNB PNBHOUSING POLICYBZR POLYCAB POONAWALLA
POWERGRID PRESTIGE RBLBANK RECLTD RELIANCE SAIL SBICARD SBILIFE SBIN SHREECEM SHRIRAMFIN
SIEMENS SJVN SOLARINDS SONACOMS SRF SUNPHARMA SUPREMEIND SYNGENE TATACHEM TATACOMM
TATACONSUM TATAELXSI TATAMOTORS TATAPOWER TATASTEEL TATATECH TCS TECHM TIINDIA TITAGARH
TITAN TORNTPHARM TORNTPOWER TRENT TVSMOTOR ULTRACEMCO UNIONBANK UNITDSPR UPL VBL VEDL
VOLTAS WIPRO YESBANK ZYDUSLIFE
""".split()


def master_rows(today: date, target_rows: int = 100_000) -> list[str]:
    """The CSV lines (no header, like the real file), about `target_rows` of them."""
    holidays = nse_holidays(today, today + timedelta(days=130))
    monthly = monthly_expiries(today, holidays)
    weekly = weekly_expiries(today, holidays)
    writer = _RowWriter(today)
    for underlying, lot, spot, step, code, has_weekly in INDICES:
        expiries = sorted(set(monthly) | set(weekly)) if has_weekly else monthly
        for expiry in expiries:
            strikes = [spot + k * step for k in range(-INDEX_STRIKES_EACH_SIDE, INDEX_STRIKES_EACH_SIDE + 1)]
            writer.chain("14", underlying, code, lot, expiry, expiry in monthly, strikes)
        for expiry in monthly:
            writer.future("11", underlying, code, lot, expiry)
    # Stocks fill the rest: the same number of strikes in every chain.
    stocks = [_stock(name, i) for i, name in enumerate(STOCKS)]
    left = target_rows - len(writer.rows) - len(stocks) * len(monthly)
    per_chain = max(2, left // (len(stocks) * len(monthly) * 2))
    for name, code, lot, spot, step in stocks:
        centre = round(spot / step) * step
        below = per_chain // 2
        first = max(1, below - int(centre / step) + 1)  # never a strike at or below zero
        strikes = [centre + (k - below) * step for k in range(first, first + per_chain)]
        for expiry in monthly:
            writer.chain("15", name, code, lot, expiry, True, strikes)
            writer.future("13", name, code, lot, expiry)
    return writer.rows


class _RowWriter:
    """Formats rows the way Fyers writes them, numbering scrip codes as it goes."""

    def __init__(self, today: date):
        self.today = today
        self.rows: list[str] = []
        self.scrip_code = 35000

    def chain(self, instrument: str, underlying: str, code: int, lot: int, expiry: date,
              monthly: bool, strikes: list[float]) -> None:
        for strike in strikes:
            for option_type in ("CE", "PE"):
                self._row(instrument, underlying, code, lot, expiry, monthly, _number(strike), option_type)

    def future(self, instrument: str, underlying: str, code: int, lot: int, expiry: date) -> None:
        self._row(instrument, underlying, code, lot, expiry, True, None, "XX")

    def _row(self, instrument: str, underlying: str, code: int, lot: int, expiry: date,
             monthly: bool, strike: str | None, option_type: str) -> None:
        self.scrip_code += 1
        year = f"{expiry.year % 100:02d}"
        month = MONTHS[expiry.month - 1]
        if strike is None:
            ticker = f"NSE:{underlying}{year}{month}FUT"
            details = f"{underlying} {expiry.day:02d} {month.title()} {year} FUT"
        else:
            if monthly:
                ticker = f"NSE:{underlying}{year}{month}{strike}{option_type}"
            else:
                month_code = WEEKLY_MONTH_CODES[expiry.month - 1]
                ticker = f"NSE:{underlying}{year}{month_code}{expiry.day:02d}{strike}{option_type}"
            details = f"{underlying} {expiry.day:02d} {month.title()} {year} {strike} {option_type}"
        expires_at = int(datetime.combine(expiry, MARKET_CLOSE, IST).timestamp())
        self.rows.append(",".join((
            f"1011{expiry:%y%m%d}{self.scrip_code}",  # Fytoken: segment, expiry, scrip code
            details,
            instrument,  # 11 FUTIDX, 13 FUTSTK, 14 OPTIDX, 15 OPTSTK
            str(lot),
            "0.05",
            "",  # ISIN
            "0915-1540|1815-1915:",
            self.today.isoformat(),
            str(expires_at),
            ticker,
            "10",  # NSE
            "11",  # F&O
            str(self.scrip_code),
            underlying,
            str(code),
            f"{float(strike):.1f}" if strike is not None else "-1.0",
            option_type,
            f"1010000000{code:05d}",
            "None",
            "0",
            "0.0",
        )))


def _stock(name: str, index: int) -> tuple[str, int, int, float, float]:
    """(name, scrip code, lot, spot, strike step), the same for a name on every run."""
    digest = zlib.crc32(name.encode())
    spot = 100 + digest % 4900
    lot = max(25, round(600_000 / spot / 25) * 25)  # about six lakh rupees a lot, like NSE's rule
    step = next(s for limit, s in ((250, 2.5), (500, 5), (1000, 10), (2000, 20), (5000, 50)) if spot < limit)
    return name, 1000 + index * 7, lot, spot, step


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def weekly_expiries(today: date, holidays: frozenset[date]) -> list[date]:
    """NIFTY's weekly expiries: the next eight Tuesdays, moved back over holidays."""
    first = today + timedelta(days=(calendar.TUESDAY - today.weekday()) % 7)
    days = [_trading_day_on_or_before(first + timedelta(weeks=w), holidays) for w in range(WEEKLY_EXPIRIES)]
    return [day for day in days if day >= today]


def monthly_expiries(today: date, holidays: frozenset[date]) -> list[date]:
    """The three nearest monthly expiries (last Tuesday of the month) not before today."""
    found: list[date] = []
    year, month = today.year, today.month
    while len(found) < MONTHLY_EXPIRIES:
        last = date(year, month, calendar.monthrange(year, month)[1])
        expiry = _trading_day_on_or_before(last - timedelta(days=(last.weekday() - calendar.TUESDAY) % 7), holidays)
        if expiry >= today:
            found.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _trading_day_on_or_before(day: date, holidays: frozenset[date]) -> date:
    while day.weekday() >= 5 or day in holidays:
        day -= timedelta(days=1)
    return day


def write_master(path: Path, today: date, target_rows: int = 100_000) -> int:
    """Write the file; returns its number of rows."""
    rows = master_rows(today, target_rows)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.make_master", description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=100_000, help="about how many rows (default 100000)")
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(IST).date())
    args = parser.parse_args(argv)
    count = write_master(args.path, args.today, args.rows)
    print(f"{args.path}: {count} rows, {args.path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
