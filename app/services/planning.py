"""From a validated alert message to the exact orders it asks for, every gate checked first.

Nothing here sends an order. The planner resolves every leg's contract (choosing relative
strikes off the spot), checks the risk gates, reads the LTPs (and the positions when a rule
needs them) in parallel, prices SL/TP and orders the legs: buys before sells, so hedges land
first and margin stays low. A live alert, a dry run and a queued alert share this one path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from app.deadline import Deadline
from app.domain.alert import Alert, AlertMessage, check_lots
from app.domain.contracts import Contract, SymbolMaster
from app.domain.errors import BrokerUnavailable, InvalidLevel, RiskRefused
from app.domain.orders import EXIT_BY_BROKER, TAGLESS_PRODUCTS, OrderRequest, Position, Priority, Side, order_tag
from app.domain.pricing import Exits, price_exits
from app.domain.strikes import nearest_strike, select_strike, spot_symbol
from app.ports import Broker, Clock
from app.services.controls import TradingControls


@dataclass(frozen=True)
class RiskRules:
    """The settings that shape and limit orders."""

    max_lots: int
    sl_percent: Decimal
    tp_percent: Decimal
    protection: str  # PROTECTION: legs, orders or none
    require_short_for_buy: bool = False
    max_orders_per_day: int | None = None
    max_open_lots: int | None = None
    allowed_underlyings: frozenset[str] = frozenset()
    freeze_qty: dict[str, int] = field(default_factory=dict)
    invalid_levels: str = "replace"  # an sl/tp on the wrong side of the LTP: replace (and say so) or refuse


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

    @property
    def entries(self) -> int:
        """Orders that may open or add to a position (those the daily limit counts)."""
        return sum(1 for order in self.orders if not order.closing)


class OrderPlanner:
    """Resolves, gates and prices a message's legs."""

    def __init__(
        self,
        rules: RiskRules,
        broker: Broker,
        master: Callable[[], SymbolMaster],
        controls: TradingControls,
        clock: Clock,
    ):
        self.rules = rules
        self._broker = broker
        self._master = master
        self._controls = controls
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="plan")

    def plan(self, message: AlertMessage, deadline: Deadline) -> Plan:
        """Every order the message asks for, or a refusal before any broker order."""
        entries = [leg for leg in message.legs if leg.action != "EXIT"]
        self._gate_entries(entries)
        master = self._master()
        now = self._clock.now()
        # The reads an EXIT needs go ahead of entries in the rate budget; an entry's are quotes.
        priority = Priority.EXIT if len(entries) < len(message.legs) else Priority.QUOTE
        spots = self._spots(message.legs, deadline, priority)
        planned: list[PlannedOrder] = []
        exits: list[tuple[int, Alert, Contract | None]] = []
        for index, leg in enumerate(message.legs):
            contract = None
            if leg.strike is not None:
                contract = self._resolve(master, leg, spots, now)
            if leg.action == "EXIT":
                exits.append((index, leg, contract))
                continue
            lots_field = leg.field_prefix + ("lots" if leg.lots is not None else "qty")
            qty = leg.lots * contract.lot_size if leg.lots is not None else leg.qty
            qty = check_lots(qty, contract.lot_size, self.rules.max_lots, lots_field)
            planned.append(PlannedOrder(index, leg, contract, contract.ticker, qty, leg.side, leg.product_type))
        needs_positions = bool(exits) or (
            self.rules.require_short_for_buy and any(o.side is Side.BUY for o in planned)
        ) or (self.rules.max_open_lots is not None and bool(planned))
        symbols = sorted({o.symbol for o in planned} | {c.ticker for _, _, c in exits if c})
        prices, positions = self._read(symbols, needs_positions, deadline, priority)
        closing, nothing = self._closing_orders(exits, positions)
        self._gate_positions(planned, positions)
        for order in planned:
            order.ltp = self._ltp(prices, order.symbol)
            order.exits = price_exits(
                order.side,
                order.ltp,
                order.contract.tick_size,
                order.alert.stop_loss,
                order.alert.take_profit,
                self.rules.sl_percent,
                self.rules.tp_percent,
            )
            self._check_levels(order)
        for order in closing:
            order.ltp = prices.get(order.symbol)
        # Buys before sells: a hedge's bought leg lands before the sold leg it protects.
        ordered = sorted(planned + closing, key=lambda o: (o.side is not Side.BUY, o.leg))
        return Plan(ordered, nothing)

    def _check_levels(self, order: PlannedOrder) -> None:
        """INVALID_LEVELS=refuse: a level on the wrong side refuses the whole alert, before any leg is sent."""
        if self.rules.invalid_levels != "refuse":
            return
        for adjustment in order.exits.adjustments:
            if adjustment.wrong_side:
                field = order.alert.field_prefix + adjustment.field
                raise InvalidLevel(
                    field,
                    f"{field} {adjustment.sent} for {order.symbol}: {adjustment.reason} "
                    "(INVALID_LEVELS=refuse); nothing was placed",
                    ltp=float(order.ltp),
                )

    def freeze_qty(self, order: PlannedOrder) -> int | None:
        """The exchange freeze quantity for the order's underlying, if configured."""
        return self.rules.freeze_qty.get(order.alert.underlying)

    # -- steps ---------------------------------------------------------------------

    def _gate_entries(self, entries: list[Alert]) -> None:
        """The gates that need no broker: the kill switch and the allowed underlyings."""
        if not entries:
            return  # exits stay allowed whatever the gates say
        # The cached switch (read alongside the claim when stale); MAX_ORDERS_PER_DAY is the
        # reservation's, made alongside the claim too (execution.py).
        paused = self._controls.entries_paused()
        if paused:
            raise RiskRefused(
                "paused",
                f"trading is paused ({paused.get('reason') or 'kill switch'}); exits are still allowed",
            )
        allowed = self.rules.allowed_underlyings
        for leg in entries:
            if allowed and leg.underlying not in allowed:
                raise RiskRefused(
                    "ALLOWED_UNDERLYINGS",
                    f"{leg.underlying} is not in ALLOWED_UNDERLYINGS ({', '.join(sorted(allowed))})",
                    field=leg.field_prefix + "symbol",
                )

    def _spots(self, legs: list[Alert], deadline: Deadline, priority: Priority) -> dict[str, Decimal]:
        """Spot prices of the underlyings whose legs name ATM/ITM/OTM strikes."""
        wanted = sorted({spot_symbol(leg.underlying) for leg in legs if leg.strike and leg.strike.relative})
        if not wanted:
            return {}
        return self._broker.quotes(wanted, deadline, priority=priority)

    def _resolve(self, master: SymbolMaster, leg: Alert, spots: dict[str, Decimal], now) -> Contract:
        choice = leg.strike
        strike = choice.exact
        if choice.relative or choice.nearest:
            expiry = master.expiry_for(leg.underlying, leg.expiry, now)
            strikes = master.strikes(leg.underlying, expiry, leg.option_type)
            if choice.relative:
                spot = spots.get(spot_symbol(leg.underlying))
                if spot is None:
                    raise BrokerUnavailable(f"the broker gave no spot price for {leg.underlying}")
                strike = select_strike(strikes, spot, choice, leg.option_type)
            else:
                strike = nearest_strike(strikes, choice.exact)
        return master.resolve(leg.underlying, leg.expiry, strike, leg.option_type, now)

    def _read(self, symbols: list[str], with_positions: bool, deadline: Deadline, priority: Priority):
        """LTPs and, when a rule needs them, positions: in parallel, one round trip."""
        read = self._broker.positions
        positions_future = self._pool.submit(read, deadline, priority=priority) if with_positions else None
        prices = self._broker.quotes(symbols, deadline, priority=priority) if symbols else {}
        positions = positions_future.result() if positions_future else []
        return prices, positions

    def _closing_orders(self, exits, positions: list[Position]) -> tuple[list[PlannedOrder], list[str]]:
        orders, nothing = [], []
        for index, leg, contract in exits:
            if contract is not None:
                matching = [p for p in positions if p.symbol == contract.ticker and p.net_qty]
                what = contract.ticker
            else:
                matching = [p for p in positions if _of_underlying(p.symbol, leg.underlying) and p.net_qty]
                what = f"any {leg.underlying} contract"
            if not matching:
                nothing.append(what)
            # Fyers sends one row per contract and product: each row is closed in its own product.
            for position in matching:
                side = Side.SELL if position.net_qty > 0 else Side.BUY
                orders.append(
                    PlannedOrder(index, leg, contract, position.symbol, abs(position.net_qty), side,
                                 position.product_type or leg.product_type, closing=True, position=position,
                                 broker_exit=self.rules.protection != "none")
                )
        return orders, nothing

    def _gate_positions(self, planned: list[PlannedOrder], positions: list[Position]) -> None:
        # One row per contract and product: the contract's net is the sum of its rows.
        net: dict[str, int] = {}
        for p in positions:
            net[p.symbol] = net.get(p.symbol, 0) + p.net_qty
        if self.rules.require_short_for_buy:
            for order in planned:
                if order.side is Side.BUY and net.get(order.symbol, 0) >= 0:
                    raise RiskRefused(
                        "REQUIRE_SHORT_FOR_BUY",
                        f"BUY {order.symbol} refused: no short position to cover (REQUIRE_SHORT_FOR_BUY)",
                        field=order.alert.field_prefix + "action",
                    )
        if self.rules.max_open_lots is not None:
            for underlying in {o.alert.underlying for o in planned}:
                mine = [o for o in planned if o.alert.underlying == underlying]
                lot = mine[0].contract.lot_size
                held = sum(abs(p.net_qty) for p in positions if _of_underlying(p.symbol, underlying)) // lot
                adding = sum(o.qty for o in mine) // lot
                if held + adding > self.rules.max_open_lots:
                    raise RiskRefused(
                        "MAX_OPEN_LOTS",
                        f"{underlying}: {held} lot(s) open + {adding} would exceed "
                        f"MAX_OPEN_LOTS={self.rules.max_open_lots}",
                    )

    @staticmethod
    def _ltp(prices: dict[str, Decimal], symbol: str) -> Decimal:
        ltp = prices.get(symbol)
        if ltp is None or ltp <= 0:
            raise BrokerUnavailable(f"the broker gave no price for {symbol}")
        return ltp


def _of_underlying(symbol: str, underlying: str) -> bool:
    """Whether an option ticker (NSE: or BSE:) belongs to the underlying (NIFTY, not NIFTYNXT50)."""
    _, _, tail = symbol.partition(":")
    return tail.startswith(underlying) and tail[len(underlying) : len(underlying) + 1].isdigit()

