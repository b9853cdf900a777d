"""A trade followed from the book's rows: fills, protection, hits and P&L, each told once."""

from decimal import Decimal

from app.domain.orders import BrokerOrder, Side
from app.domain.trades import Event, Protection, Trade, follow, pnl

D = Decimal
SYMBOL = "NSE:NIFTY26D0126000CE"


def trade(protection=Protection.LEGS, **extra) -> Trade:
    return Trade(
        tag="TVabc", alert_id="a1", symbol=SYMBOL, side=Side.BUY, qty=65, product_type="INTRADAY",
        protection=protection, stop_loss=D("100"), take_profit=D("160"), entry_id="E1", **extra,
    )


def row(order_id="E1", status="traded", filled=65, price="130", parent=None, kind=2, side=Side.BUY, tag="TVabc",
        **extra) -> BrokerOrder:
    return BrokerOrder(
        order_id=order_id, symbol=SYMBOL, qty=65, side=side, product_type="INTRADAY", tag=tag, status=status,
        filled_qty=filled, traded_price=D(price) if price else None, parent_id=parent, order_type=kind, **extra,
    )


def stop(status="pending", filled=0, price=None):
    return row("E1-BO-2", status, filled, price, parent="E1", kind=3, side=Side.SELL)


def target(status="pending", filled=0, price=None):
    return row("E1-BO-3", status, filled, price, parent="E1", kind=1, side=Side.SELL)


def events(step):
    return [event for event, _ in step.events]


def test_a_fill_with_standing_legs_is_told_filled_and_protected_once():
    step = follow(trade(), [row(), stop(), target()])
    assert events(step) == [Event.FILLED, Event.PROTECTED]
    again = follow(step.trade, [row(), stop(), target()])
    assert again.events == [] and again.trade == step.trade


def test_a_stop_hit_tells_the_exit_price_and_the_rupees_lost():
    opened = follow(trade(), [row(), stop(), target()]).trade
    step = follow(opened, [stop("traded", 65, "99.5"), target("cancelled")])
    (event, facts), = step.events
    assert event is Event.STOP_HIT
    assert facts["exit_price"] == D("99.50") and facts["pnl"] == D("-1982.50")  # (99.5 - 130) x 65
    assert step.trade.final and step.cancel == []  # Fyers cancels its own sibling leg


def test_orders_mode_cancels_the_other_order_itself():
    opened = follow(trade(Protection.ORDERS, protection_tags={"stop": "S1", "target": "T1"}),
                    [row(), row("S2", "pending", 0, None, kind=3, side=Side.SELL, tag="S1"),
                     row("T2", "pending", 0, None, kind=1, side=Side.SELL, tag="T1")]).trade
    step = follow(opened, [row("T2", "traded", 65, "160", kind=1, side=Side.SELL, tag="T1")])
    assert events(step) == [Event.TARGET_HIT] and step.cancel == ["S2"]
    assert step.events[0][1]["pnl"] == D("1950.00")


def test_orders_mode_asks_for_protection_after_the_fill_and_not_before():
    assert not follow(trade(Protection.ORDERS), [row(status="pending", filled=0, price=None)]).place_protection
    assert follow(trade(Protection.ORDERS), [row()]).place_protection


def test_a_filled_entry_without_legs_is_a_protection_failure():
    step = follow(trade(), [row()])
    assert events(step) == [Event.FILLED, Event.PROTECTION_FAILED]


def test_legs_shown_on_the_entry_row_itself_count_as_protection():
    step = follow(trade(), [row(stop_loss_points=D("30"), take_profit_points=D("30"))])
    assert events(step) == [Event.FILLED, Event.PROTECTED]


def test_a_rejection_after_acceptance_is_told_with_the_exchange_reason():
    step = follow(trade(), [row(status="rejected", filled=0, price=None, message="RED:Margin Shortfall")])
    (event, facts), = step.events
    assert event is Event.REJECTED and facts["message"] == "RED:Margin Shortfall" and step.trade.final


def test_partial_fills_are_told_at_each_new_quantity():
    first = follow(trade(), [row(status="pending", filled=25, price="130")])
    assert events(first) == [Event.PARTIALLY_FILLED, Event.PROTECTION_FAILED]
    second = follow(first.trade, [row(status="pending", filled=40, price="130"), stop(), target()])
    assert events(second)[0] is Event.PARTIALLY_FILLED and second.events[0][1]["qty"] == 40


def test_legs_left_working_on_a_flat_position_are_cancelled():
    opened = follow(trade(), [row(), stop(), target()]).trade
    step = follow(opened, [], position_open=False)
    assert events(step) == [Event.PROTECTION_CANCELLED]
    assert step.cancel == ["E1-BO-2", "E1-BO-3"] and step.trade.final


def test_rows_of_other_trades_are_not_taken():
    other = row("X9", tag="TVother")
    step = follow(trade(), [other])
    assert "X9" not in step.trade.orders


def test_pnl_of_a_sell_entry_is_the_other_way_round():
    short = Trade("TVabc", "a1", SYMBOL, Side.SELL, 65, "INTRADAY", Protection.LEGS, entry_id="E1")
    sold = follow(short, [row(side=Side.SELL)]).trade
    assert pnl(sold, D("120"), 65) == D("650.00")  # sold at 130, bought back at 120


def test_a_target_alone_is_not_protection():
    step = follow(trade(), [row(), target()])
    assert Event.PROTECTED not in events(step) and Event.PROTECTION_FAILED in events(step)


def test_orders_mode_claims_only_the_missing_stop_again():
    from app.domain.trade_orders import claimed, protection_orders, unclaimed

    first = claimed(follow(trade(Protection.ORDERS), [row()]))
    assert first.roles == ("stop", "target") and set(first.trade.protection_tags) == {"stop", "target"}
    stop_not_sent = unclaimed(first.trade, "stop").trade  # Fyers unreachable: certainly not sent
    again = claimed(follow(stop_not_sent, [row("T2", "pending", 0, None, kind=1, side=Side.SELL,
                                                tag=first.trade.protection_tags["target"])]))
    assert again.roles == ("stop",)  # the target stands: it is never sent twice
    (stop_order,) = protection_orders(again.trade, again.roles).values()
    assert stop_order.stop_price == D("100") and stop_order.side is Side.SELL and stop_order.qty == 65
