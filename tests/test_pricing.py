"""SL/TP: direction-aware, from the alert when on the right side, else percentages, on the tick."""

from decimal import Decimal as D

import pytest

from app.domain.orders import Side
from app.domain.pricing import price_exits, round_to_tick

TICK = D("0.05")


def exits(side, ltp, sl=None, tp=None, sl_pct=D(15), tp_pct=D(25)):
    return price_exits(side, D(ltp), TICK, sl and D(sl), tp and D(tp), sl_pct, tp_pct)


@pytest.mark.parametrize(
    "side, ltp, sl, tp, want_sl, want_tp",
    [
        # alert levels on the right side are kept
        (Side.BUY, "100", "80.5", "140", "80.50", "140"),
        (Side.SELL, "100", "120", "70", "120", "70"),
        # wrong side or missing: percentages of the LTP (15% / 25%)
        (Side.BUY, "100", "120", "90", "85.00", "125.00"),
        (Side.BUY, "100", None, None, "85.00", "125.00"),
        (Side.SELL, "100", "90", "110", "115.00", "75.00"),
        (Side.SELL, "100", None, None, "115.00", "75.00"),
        # rounding to the tick, away from the LTP
        (Side.BUY, "101.23", None, None, "86.05", "126.60"),
        (Side.SELL, "101.23", None, None, "116.45", "75.90"),
        (Side.BUY, "100", "80.52", "140.01", "80.50", "140.05"),
    ],
)
def test_levels(side, ltp, sl, tp, want_sl, want_tp):
    result = exits(side, ltp, sl, tp)
    assert result.stop_loss == D(want_sl)
    assert result.take_profit == D(want_tp)


def test_points_are_distances_on_the_tick():
    result = exits(Side.BUY, "101.20", "80.5", "140")
    assert result.stop_loss_points == D("20.70")
    assert result.take_profit_points == D("38.80")
    for points in (result.stop_loss_points, result.take_profit_points):
        assert points > 0 and points % TICK == 0


def test_levels_never_collapse_onto_ltp_or_zero():
    tiny = exits(Side.BUY, "0.10", None, None)
    assert tiny.stop_loss == D("0.05") and tiny.take_profit == D("0.15")
    sell = exits(Side.SELL, "0.10", None, None)
    assert sell.take_profit == D("0.05") and sell.stop_loss == D("0.15")


def test_round_to_tick():
    assert round_to_tick(D("10.024"), TICK) == D("10.00")
    assert round_to_tick(D("10.025"), TICK) == D("10.05")


@pytest.mark.parametrize(
    "side, sl, tp, field, sent, used, reason, wrong_side",
    [
        (Side.BUY, "150", "140", "sl", "150", "85.00", "a BUY's stop-loss must be below the LTP 100.00", True),
        (Side.BUY, "80", "90", "tp", "90", "125.00", "a BUY's target must be above the LTP 100.00", True),
        (Side.BUY, "0.01", "140", "sl", "0.01", "85.00", "a BUY's stop-loss must be at least one tick (0.05)", True),
        (Side.SELL, "90", "70", "sl", "90", "115.00", "a SELL's stop-loss must be above the LTP 100.00", True),
        (Side.SELL, "120", "100", "tp", "100", "75.00", "a SELL's target must be below the LTP 100.00", True),
        (Side.BUY, "80.52", "140", "sl", "80.52", "80.50", "rounded to the tick 0.05, away from the LTP 100.00", False),
    ],
)
def test_each_level_not_used_as_sent_is_reported(side, sl, tp, field, sent, used, reason, wrong_side):
    (adjustment,) = exits(side, "100", sl, tp).adjustments
    assert (adjustment.field, adjustment.sent, adjustment.used) == (field, D(sent), D(used))
    assert (adjustment.reason, adjustment.wrong_side) == (reason, wrong_side)


def test_levels_used_as_sent_or_absent_report_nothing():
    assert exits(Side.BUY, "100", "80.5", "140").adjustments == ()
    assert exits(Side.SELL, "100", None, None).adjustments == ()


def test_both_levels_wrong_are_both_reported():
    result = exits(Side.BUY, "100", "120", "90")
    assert [(a.field, a.wrong_side) for a in result.adjustments] == [("sl", True), ("tp", True)]
