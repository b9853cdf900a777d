"""Position intent and the naked-short rule, as the planner applies them to one message.

A message with `position` becomes the orders its strategy's book calls for (app/domain/intent.py):
closes of held contracts by their own tickers, adds to a held contract, or one opening leg that the
planner resolves like any entry. A SELL that would open a short option position is refused unless
the alert says `open_short` or ALLOW_SHORT_OPTIONS is set: the strategy's book (or, without a
strategy, the account's position) must hold the contracts it sells.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from app.domain.alert import Alert, AlertMessage, check_lots
from app.domain.books import Book
from app.domain.contracts import SymbolMaster
from app.domain.errors import RiskRefused
from app.domain.intent import option_type_of, steps, wanted
from app.domain.orders import Position, Side
from app.services.plan import PlannedOrder


def from_intent(
    message: AlertMessage, book: Book | None, master: SymbolMaster, now: datetime, max_lots: int
) -> tuple[list[Alert], list[PlannedOrder], str | None]:
    """The legs left to resolve, the orders on held contracts, and a note when nothing is to be done."""
    intent = message.intent
    if intent is None:
        return message.legs, [], None
    leg = message.legs[0]
    held = book.held(leg.underlying) if book is not None else []
    target = wanted(intent.position, intent.long_as, intent.short_as)
    lot = master.lot_size(leg.underlying, now) if target is not None else 1
    size = _size(leg, lot, held, target)
    plan = steps(held, target, size)
    orders = []
    for holding, qty in plan.closes:
        side = Side.SELL if holding.qty > 0 else Side.BUY
        position = Position(holding.symbol, holding.qty, holding.product_type)
        orders.append(_on_held(leg, master, holding.symbol, holding.product_type, qty, side, closing=True,
                               position=position))
    for holding, qty in plan.adds:
        side = Side.BUY if holding.qty > 0 else Side.SELL
        check_lots(qty, lot, max_lots, leg.field("lots" if leg.lots is not None else "qty"))
        orders.append(_on_held(leg, master, holding.symbol, holding.product_type, qty, side))
    legs = []
    if plan.opens is not None:
        option_type, side = plan.opens
        legs = [replace(leg, option_type=option_type, action=side.name)]
    note = None
    if plan.nothing:
        where = f"{size} contract(s) {intent.position}" if target is not None else "flat"
        note = f"nothing to do: strategy {message.strategy} is already {where} in {leg.underlying}"
    return legs, orders, note


def _size(leg: Alert, lot: int, held, target) -> int:
    """The contracts the strategy wants: the alert's size, one lot by default (risk sizing: what is held)."""
    if target is None:
        return 0
    if leg.lots is not None:
        return leg.lots * lot
    if leg.qty is not None:
        return leg.qty
    if leg.risk is not None or leg.risk_pct is not None:  # sized when it opens; a held contract keeps its size
        option_type, side = target
        same = [h for h in held if option_type_of(h.symbol) == option_type and (h.qty > 0) == (side is Side.BUY)]
        return sum(abs(h.qty) for h in same) or lot
    return lot


def _on_held(leg: Alert, master: SymbolMaster, symbol: str, product: str, qty: int, side: Side, **extra):
    """An order on a contract the strategy holds, named by its own ticker."""
    contract = master.by_ticker(symbol)
    alert = replace(leg, option_type=option_type_of(symbol), action=side.name, product_type=product)
    return PlannedOrder(0, alert, contract, symbol, qty, side, product, **extra)


def book_closes(orders: list[PlannedOrder], positions: list[Position], protection: str) -> list[PlannedOrder]:
    """A strategy's closes: with the broker's exit call when the whole position row is the strategy's.

    The exit call cancels the row's working stop and target first; an opposite order is used only
    when others hold the same contract too, so that their part stays open.
    """
    rows = {(p.symbol, p.product_type): p.net_qty for p in positions}
    for order in orders:
        whole = order.position is not None and rows.get((order.symbol, order.product_type)) == order.position.net_qty
        order.broker_exit = protection != "none" and whole and order.qty == abs(order.position.net_qty)
    return orders


def gate_shorts(
    planned: list[PlannedOrder], message: AlertMessage, book: Book | None, positions: list[Position], allowed: bool
) -> None:
    """NAKED_SHORT: a SELL must sell contracts held (by the strategy, else the account) unless opted in."""
    if allowed or message.open_short:
        return
    for order in planned:
        if order.side is not Side.SELL or order.closing:
            continue
        if book is not None:
            held, whose = book.qty_of(order.symbol), f"strategy {message.strategy}"
        else:
            held, whose = sum(p.net_qty for p in positions if p.symbol == order.symbol), "the account"
        if held < order.qty:
            raise RiskRefused(
                "NAKED_SHORT",
                f"SELL {order.qty} {order.symbol} would open a short option position: {whose} holds {held}. "
                'Say "open_short": true in the alert, or set ALLOW_SHORT_OPTIONS=true, to sell options you do not hold',
                field=order.alert.field("action"),
            )


def needs_account_positions(planned: list[PlannedOrder], message: AlertMessage, allowed: bool) -> bool:
    """Whether the naked-short rule must read the account's positions (a SELL without a strategy's book)."""
    if allowed or message.open_short or message.strategy:
        return False
    return any(o.side is Side.SELL and not o.closing for o in planned)
