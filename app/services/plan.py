"""What a plan is: the rules that shape orders, each planned order, and the plan of one message."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.domain.alert import Alert
from app.domain.contracts import Contract
from app.domain.orders import EXIT_BY_BROKER, TAGLESS_PRODUCTS, OrderRequest, Position, Side, order_tag
from app.domain.pricing import Exits
from app.domain.sizing import Sizing


@dataclass(frozen=True)
class RiskRules:
    """The settings that shape and limit orders."""

    max_lots: int
    sl_percent: Decimal
    tp_percent: Decimal
    protection: str  # PROTECTION: legs, orders or none
    allow_short_options: bool = False  # ALLOW_SHORT_OPTIONS: a SELL may open a short without open_short
    require_short_for_buy: bool = False
    max_orders_per_day: int | None = None
    max_open_lots: int | None = None
    allowed_underlyings: frozenset[str] = frozenset()
    freeze_qty: dict[str, int] = field(default_factory=dict)
    invalid_levels: str = "replace"  # an sl/tp on the wrong side of the LTP: replace (and say so) or refuse
    capital: Decimal | None = None  # CAPITAL: the rupees an alert's risk_pct is a percentage of


@dataclass
class PlannedOrder:
    """One order the alert will place, with what the answer reports about it."""

    leg: int  # the index of the alert leg it comes from
    alert: Alert
    contract: Contract | None  # None for an EXIT of a whole underlying
    symbol: str
    qty: int
    side: Side
    product_type: str
    ltp: Decimal | None = None
    exits: Exits | None = None
    closing: bool = False  # an EXIT order: never gated, never opens a position
    position: Position | None = None  # the position row an EXIT closes
    sizing: Sizing | None = None  # how an order sized by risk got its qty

    broker_exit: bool = False  # PROTECTION on: an EXIT closes with the broker's exit call (legs cancelled first)

    @property
    def exits_by_broker(self) -> bool:
        """Whether this EXIT closes its position with the broker's exit call, not an opposite order.

        A CO/BO position must (a plain order is refused); a protected one should: the exit call
        cancels the position's working stop and target first, where an opposite order would
        leave a stop working on a flat position, to open a naked one when it triggers.
        """
        return self.closing and (self.product_type in EXIT_BY_BROKER or self.broker_exit)

    def request(
        self,
        tag_seed: str,
        strategy: str | None,
        legs: bool,
        freeze_qty: int | None,
        amo: bool = False,
    ) -> OrderRequest:
        """The broker order, tagged from `tag_seed` (the claim of its key) and the strategy."""
        bracket = self.product_type in TAGLESS_PRODUCTS
        send_exits = self.exits is not None and (bracket or legs) and not self.closing
        return OrderRequest(
            symbol=self.symbol,
            qty=self.qty,
            side=self.side,
            product_type=self.product_type,
            tag=None if bracket else order_tag(tag_seed, strategy),
            stop_loss_points=self.exits.stop_loss_points if send_exits else None,
            # A cover order carries only a stop; a bracket order both legs.
            take_profit_points=(
                self.exits.take_profit_points if send_exits and self.product_type != "CO" else None
            ),
            slice=bool(freeze_qty and self.qty > freeze_qty),
            amo=amo,
            closing=self.closing,
        )


@dataclass
class Plan:
    """The orders of one message, in the order they will be placed."""

    orders: list[PlannedOrder]
    nothing_to_close: list[str] = field(default_factory=list)
    note: str | None = None  # a strategy already where its alert wants it: why nothing is sent

    @property
    def nothing_message(self) -> str:
        """Why a plan with no orders places nothing."""
        return self.note or "no open position to close in " + ", ".join(self.nothing_to_close)

    @property
    def entries(self) -> int:
        """Orders that may open or add to a position (those the daily limit counts)."""
        return sum(1 for order in self.orders if not order.closing)
