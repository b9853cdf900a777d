"""Contract resolution against a small hand-made master: the master is the only calendar."""

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest

from app.domain.contracts import EXPIRY_SELECTORS, IST, Contract, SymbolMaster, parse_expiry
from app.domain.errors import ContractNotFound, InvalidAlert

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"

# NIFTY as listed in late 2026. 24 Nov (the last Tuesday) is a holiday, so November's monthly
# expiry is Monday 23 Nov; 17 Nov, 1 and 8 Dec are weeklies.
NIFTY_WEEKLIES = (date(2026, 11, 17), date(2026, 12, 1), date(2026, 12, 8))
NIFTY_MONTHLIES = (date(2026, 11, 23), date(2026, 12, 29), date(2027, 1, 26))
NIFTY_STRIKES = ("23900.0", "23950.0", "24000.0", "24050.0", "24100.0")
BANKNIFTY_MONTHLIES = (date(2026, 11, 23), date(2026, 12, 29))


def ist(year, month, day, hour=10, minute=0, second=0):
    """An aware IST datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=IST)


def listed(underlying, expiry, strike, option_type="CE", *, monthly=False, lot_size=65):
    """A contract as the Fyers master lists it since 3 Aug 2026: last trade at 15:40 IST on expiry day."""
    strike = Decimal(strike)
    yy = f"{expiry.year % 100:02d}"
    if monthly:
        ticker = f"NSE:{underlying}{yy}{MONTH_NAMES[expiry.month - 1]}{int(strike)}{option_type}"
    else:
        ticker = f"NSE:{underlying}{yy}{WEEKLY_MONTH_CODES[expiry.month - 1]}{expiry.day:02d}{int(strike)}{option_type}"
    return Contract(
        ticker=ticker,
        underlying=underlying,
        expiry=expiry,
        expires_at=int(datetime.combine(expiry, time(15, 40), IST).timestamp()),
        strike=strike,
        option_type=option_type,
        lot_size=lot_size,
        tick_size=Decimal("0.05"),
        monthly=monthly,
    )


def build_master():
    """NIFTY weeklies and monthlies, BANKNIFTY monthlies only."""
    contracts = []
    for expiries, monthly in ((NIFTY_WEEKLIES, False), (NIFTY_MONTHLIES, True)):
        for expiry in expiries:
            for strike in NIFTY_STRIKES:
                for option_type in ("CE", "PE"):
                    contracts.append(listed("NIFTY", expiry, strike, option_type, monthly=monthly))
    for expiry in BANKNIFTY_MONTHLIES:
        for strike in ("52000.0", "52100.0"):
            contracts.append(listed("BANKNIFTY", expiry, strike, "PE", monthly=True, lot_size=30))
    return SymbolMaster(contracts)


@pytest.fixture(scope="module")
def master():
    return build_master()


def resolve_expiry(master, selector, now, underlying="NIFTY", strike="24000", option_type="CE"):
    return master.resolve(underlying, selector, Decimal(strike), option_type, now).expiry


@pytest.mark.parametrize(
    "now, selector, expected",
    [
        # Across the month end: November's contracts are gone, December's are nearest.
        (ist(2026, 11, 30), "WEEKLY", date(2026, 12, 1)),
        (ist(2026, 11, 30), "NEXT_WEEKLY", date(2026, 12, 8)),
        (ist(2026, 11, 30), "MONTHLY", date(2026, 12, 29)),
        (ist(2026, 11, 30), "NEXT_MONTHLY", date(2027, 1, 26)),
        # Mid-November: the nearest weekly, then the (Monday) monthly.
        (ist(2026, 11, 16), "WEEKLY", date(2026, 11, 17)),
        (ist(2026, 11, 16), "NEXT_WEEKLY", date(2026, 11, 23)),
        (ist(2026, 11, 16), "MONTHLY", date(2026, 11, 23)),
        (ist(2026, 11, 16), "NEXT_MONTHLY", date(2026, 12, 29)),
        # After the last December weekly only monthlies remain.
        (ist(2026, 12, 9), "WEEKLY", date(2026, 12, 29)),
        (ist(2026, 12, 9), "NEXT_WEEKLY", date(2027, 1, 26)),
    ],
)
def test_selectors_pick_expiries_from_the_master(master, now, selector, expected):
    assert resolve_expiry(master, selector, now) == expected


@pytest.mark.parametrize(
    "now, expected",
    [
        (ist(2026, 11, 22, 12, 0), date(2026, 11, 23)),  # Sunday before the holiday-moved expiry
        (ist(2026, 11, 23, 9, 15), date(2026, 11, 23)),  # Monday, market open
        (ist(2026, 11, 23, 15, 39, 59), date(2026, 11, 23)),  # last second of trading
        (ist(2026, 11, 23, 15, 40), date(2026, 12, 1)),  # expired at 15:40 IST sharp
        (ist(2026, 11, 23, 18, 0), date(2026, 12, 1)),
    ],
)
def test_weekly_moved_to_monday_by_a_holiday(master, now, expected):
    contract = master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "CE", now)
    assert contract.expiry == expected


def test_monday_expiry_is_the_monthly_contract(master):
    contract = master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "PE", ist(2026, 11, 22))
    assert contract.ticker == "NSE:NIFTY26NOV24000PE"
    assert contract.monthly


@pytest.mark.parametrize(
    "now, expected",
    [
        (ist(2026, 11, 17, 15, 39), date(2026, 11, 17)),
        (ist(2026, 11, 17, 15, 40), date(2026, 11, 23)),
        # The same instants seen from UTC: 10:10 UTC is 15:40 IST.
        (datetime(2026, 11, 17, 10, 9, tzinfo=timezone.utc), date(2026, 11, 17)),
        (datetime(2026, 11, 17, 10, 10, tzinfo=timezone.utc), date(2026, 11, 23)),
    ],
)
def test_expiry_day_before_and_after_close(master, now, expected):
    assert resolve_expiry(master, "WEEKLY", now) == expected


def test_expiries_lists_only_tradable_ones(master):
    assert master.expiries("NIFTY", ist(2026, 11, 23, 15, 40)) == [
        date(2026, 12, 1),
        date(2026, 12, 8),
        date(2026, 12, 29),
        date(2027, 1, 26),
    ]
    assert master.expiries("SENSEX", ist(2026, 11, 23)) == []


def test_date_selector_names_exactly_that_expiry(master):
    contract = master.resolve("NIFTY", date(2026, 12, 8), Decimal("24050"), "PE", ist(2026, 11, 20))
    assert contract.ticker == "NSE:NIFTY26D0824050PE"
    assert master.resolve("NIFTY", "2026-12-08", Decimal("24050"), "PE", ist(2026, 11, 20)) == contract


def test_unlisted_date_lists_the_tradable_expiries(master):
    with pytest.raises(ContractNotFound, match="2026-12-09 is not a listed expiry") as raised:
        master.resolve("NIFTY", date(2026, 12, 9), Decimal("24000"), "CE", ist(2026, 12, 2))
    assert "2026-12-08" in raised.value.message
    assert raised.value.details["tradable_expiries"] == ["2026-12-08", "2026-12-29", "2027-01-26"]


def test_expired_date_is_not_tradable(master):
    with pytest.raises(ContractNotFound, match="2026-11-17 has expired"):
        master.resolve("NIFTY", date(2026, 11, 17), Decimal("24000"), "CE", ist(2026, 11, 17, 15, 40))


@pytest.mark.parametrize(
    "now, selector, expected",
    [
        (ist(2026, 11, 20), "MONTHLY", date(2026, 11, 23)),
        (ist(2026, 11, 20), "NEXT_MONTHLY", date(2026, 12, 29)),
        (ist(2026, 11, 23, 15, 40), "MONTHLY", date(2026, 12, 29)),
    ],
)
def test_banknifty_monthly(master, now, selector, expected):
    contract = master.resolve("BANKNIFTY", selector, Decimal("52000"), "PE", now)
    assert contract.expiry == expected
    assert contract.monthly
    assert contract.lot_size == 30


@pytest.mark.parametrize("selector", ["WEEKLY", "NEXT_WEEKLY", "next weekly"])
def test_weekly_on_a_monthly_only_index_is_refused_with_its_expiries(master, selector):
    # A monthly for a weekly would be a guess at what the trader meant: say what there is instead.
    with pytest.raises(ContractNotFound, match="BANKNIFTY has no weekly expiries") as raised:
        master.resolve("BANKNIFTY", selector, Decimal("52000"), "PE", ist(2026, 11, 20))
    assert "2026-11-23, 2026-12-29" in raised.value.message
    assert raised.value.details["tradable_expiries"] == ["2026-11-23", "2026-12-29"]
    assert raised.value.details["underlying"] == "BANKNIFTY"


def test_niftys_weekly_may_be_its_monthly_contract(master):
    # NIFTY lists weeklies, so WEEKLY is its nearest expiry even when that is the monthly contract.
    contract = master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "PE", ist(2026, 11, 20))
    assert (contract.expiry, contract.monthly) == (date(2026, 11, 23), True)


def test_unknown_underlying(master):
    with pytest.raises(ContractNotFound, match="no options are listed for underlying 'SENSEX'") as raised:
        master.resolve("SENSEX", "WEEKLY", Decimal("80000"), "CE", ist(2026, 11, 20))
    assert "NIFTY" in raised.value.message
    assert raised.value.details["underlying"] == "SENSEX"


def test_underlying_and_option_type_are_case_insensitive(master):
    contract = master.resolve("nifty", "weekly", Decimal("24000"), "ce", ist(2026, 11, 20))
    assert contract.ticker == "NSE:NIFTY26NOV24000CE"


@pytest.mark.parametrize(
    "strike, nearest",
    [
        ("24010", [23950, 24000, 24050, 24100]),
        ("24025.5", [23950, 24000, 24050, 24100]),
        ("23000", [23900, 23950]),
        ("30000", [24050, 24100]),
    ],
)
def test_unlisted_strike_names_nearest_strikes(master, strike, nearest):
    with pytest.raises(ContractNotFound, match=f"strike {strike} is not listed for NIFTY 2026-12-01 CE") as raised:
        master.resolve("NIFTY", "WEEKLY", Decimal(strike), "CE", ist(2026, 11, 30))
    details = raised.value.details
    assert details["nearest_strikes"] == nearest
    assert all(type(value) is int for value in details["nearest_strikes"])
    assert ", ".join(map(str, nearest)) in raised.value.message


@pytest.mark.parametrize("strike", ["24000", "24000.0", "24000.00", "2.4E+4"])
def test_equal_decimal_strikes_find_the_same_contract(master, strike):
    contract = master.resolve("NIFTY", "WEEKLY", Decimal(strike), "CE", ist(2026, 11, 30))
    assert contract.ticker == "NSE:NIFTY26D0124000CE"


@pytest.mark.parametrize("strike", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")])
def test_strike_that_is_not_a_number_is_invalid(master, strike):
    with pytest.raises(InvalidAlert) as raised:
        master.resolve("NIFTY", "WEEKLY", strike, "CE", ist(2026, 11, 30))
    assert raised.value.field == "strikeprice"


@pytest.mark.parametrize("expiry", [None, "DAILY", datetime(2026, 12, 1, 15, 40, tzinfo=IST)])
def test_resolve_refuses_an_unparsable_expiry(master, expiry):
    with pytest.raises(InvalidAlert) as raised:
        master.resolve("NIFTY", expiry, Decimal("24000"), "CE", ist(2026, 11, 30))
    assert raised.value.field == "expiry"


def test_option_type_must_be_ce_or_pe(master):
    with pytest.raises(InvalidAlert, match="must be CE or PE") as raised:
        master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "XX", ist(2026, 11, 30))
    assert raised.value.field == "optionType"


def test_no_tradable_expiry_left(master):
    with pytest.raises(ContractNotFound, match="NIFTY has no tradable expiry"):
        master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "CE", ist(2027, 1, 27))


def test_next_monthly_needs_a_second_monthly(master):
    with pytest.raises(ContractNotFound, match="NEXT_MONTHLY needs two tradable monthly expiries") as raised:
        master.resolve("NIFTY", "NEXT_MONTHLY", Decimal("24000"), "CE", ist(2027, 1, 1))
    assert raised.value.details["tradable_expiries"] == ["2027-01-26"]


def test_naive_now_is_refused(master):
    with pytest.raises(ValueError, match="timezone-aware"):
        master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "CE", datetime(2026, 11, 30, 10, 0))


def test_master_queries(master):
    assert len(master) == (len(NIFTY_WEEKLIES) + len(NIFTY_MONTHLIES)) * len(NIFTY_STRIKES) * 2 + 4
    assert master.underlyings == frozenset({"NIFTY", "BANKNIFTY"})
    assert master.strikes("NIFTY", date(2026, 12, 1), "CE") == [Decimal(strike) for strike in NIFTY_STRIKES]
    assert master.strikes("NIFTY", date(2026, 12, 2), "CE") == []
    assert master.lot_size("NIFTY", ist(2026, 11, 30)) == 65
    assert master.lot_size("BANKNIFTY", ist(2026, 11, 30)) == 30


def test_lot_size_follows_the_nearest_tradable_contract():
    # Lot revisions apply to new expiries while old ones keep the old lot.
    master = SymbolMaster(
        [
            listed("NIFTY", date(2026, 1, 27), "24000.0", monthly=True, lot_size=75),
            listed("NIFTY", date(2026, 2, 24), "24000.0", monthly=True, lot_size=65),
        ]
    )
    assert master.lot_size("NIFTY", ist(2026, 1, 27, 15, 39)) == 75
    assert master.lot_size("NIFTY", ist(2026, 1, 27, 15, 40)) == 65
    with pytest.raises(ContractNotFound, match="no tradable expiry"):
        master.lot_size("NIFTY", ist(2026, 2, 24, 15, 40))
    with pytest.raises(ContractNotFound, match="'SENSEX'"):
        master.lot_size("SENSEX", ist(2026, 1, 1))


def test_duplicate_rows_keep_one_contract():
    contract = listed("NIFTY", date(2026, 12, 1), "24000.0")
    master = SymbolMaster([contract, listed("NIFTY", date(2026, 12, 1), "24000")])
    assert len(master) == 1
    assert master.resolve("NIFTY", "WEEKLY", Decimal("24000"), "CE", ist(2026, 11, 30)) is contract


@pytest.mark.parametrize(
    "value, expected",
    [
        ("WEEKLY", "WEEKLY"),
        ("weekly", "WEEKLY"),
        (" Monthly ", "MONTHLY"),
        ("NEXT_WEEKLY", "NEXT_WEEKLY"),
        ("next weekly", "NEXT_WEEKLY"),
        ("Next-Monthly", "NEXT_MONTHLY"),
        ("2026-11-24", date(2026, 11, 24)),
        (" 2026-12-29 ", date(2026, 12, 29)),
        (date(2026, 12, 29), date(2026, 12, 29)),
    ],
)
def test_parse_expiry_accepts(value, expected):
    assert parse_expiry(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "must be one of WEEKLY, NEXT_WEEKLY, MONTHLY, NEXT_MONTHLY or a date YYYY-MM-DD"),
        ("DAILY", "'DAILY' must be one of"),
        ("2026-02-30", "not a calendar date"),
        ("24-11-2026", "must be one of"),
        ("20261124", "must be one of"),
        ("2026-11-24T15:40", "must be one of"),
        (None, "must be one of"),
        (20261124, "must be one of"),
        (datetime(2026, 11, 24, 15, 40), "not a date and time"),
    ],
)
def test_parse_expiry_refuses(value, message):
    with pytest.raises(InvalidAlert, match=message) as raised:
        parse_expiry(value)
    assert raised.value.field == "expiry"


def test_every_selector_parses_to_itself():
    assert tuple(parse_expiry(selector) for selector in EXPIRY_SELECTORS) == EXPIRY_SELECTORS
