"""The orders a trade's protection needs, and book rows completed from the tradebook (pure)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from app.domain.orders import LIMIT, STOP_MARKET, BrokerOrder, Fill, OrderRequest, Side, order_tag
from app.domain.trades import Step, Trade


def with_fills(book: list[BrokerOrder], fills: list[Fill]) -> list[BrokerOrder]:
    """Book rows with quantity and average price from the tradebook where it has the order's trades."""
    traded: dict[str, list[Fill]] = {}
    for fill in fills:
        traded.setdefault(fill.order_id, []).append(fill)
    rows = []
    for row in book:
        parts = traded.get(row.order_id)
        if parts:
            qty = sum(f.qty for f in parts)
            price = (sum(f.qty * f.price for f in parts) / qty).quantize(Decimal("0.01"))
            row = replace(row, filled_qty=max(qty, row.filled_qty), traded_price=price)
        rows.append(row)
    return rows


def claimed(step: Step) -> Step:
    """A step that must place protection carries the claim in the same swap: one instance sends it."""
    if not step.place_protection:
        return step
    wanted = ("stop", "target") if step.trade.take_profit is not None else ("stop",)
    roles = tuple(role for role in wanted if role not in step.trade.protection_tags)
    tags = {**step.trade.protection_tags}
    tags.update({role: order_tag(f"{step.trade.tag}:{role}", step.trade.strategy) for role in roles})
    return replace(step, trade=replace(step.trade, protection_tags=tags), roles=roles)


def unclaimed(trade: Trade, role: str) -> Step:
    """The trade with one role's claim given back: its order certainly did not leave, the next sweep sends it."""
    tags = {r: t for r, t in trade.protection_tags.items() if r != role}
    return Step(replace(trade, protection_tags=tags))


def protection_orders(trade: Trade, roles: tuple[str, ...]) -> dict[str, OrderRequest]:
    """The stop (SL-M) and target (limit) orders that close the filled quantity."""
    closing = Side.SELL if trade.side is Side.BUY else Side.BUY
    common = dict(
        symbol=trade.symbol, qty=trade.filled_qty, side=closing, product_type=trade.product_type, closing=True
    )
    orders = {}
    if "stop" in roles and trade.stop_loss is not None:
        orders["stop"] = OrderRequest(
            **common, tag=trade.protection_tags["stop"], order_type=STOP_MARKET, stop_price=trade.stop_loss
        )
    if "target" in roles and trade.take_profit is not None:
        orders["target"] = OrderRequest(
            **common, tag=trade.protection_tags["target"], order_type=LIMIT, limit_price=trade.take_profit
        )
    return orders
