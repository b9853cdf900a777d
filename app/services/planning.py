"""From a validated alert message to the exact orders it asks for, every gate checked first.

Nothing here sends an order. The planner resolves every leg's contract (choosing relative
strikes off the spot), checks the risk gates, reads the LTPs (and the positions when a rule
needs them) in parallel, prices SL/TP and orders the legs: buys before sells, so hedges land
first and margin stays low. A live alert, a dry run and a queued alert share this one path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Callable

from app.deadline import Deadline
from app.domain.alert import Alert, AlertMessage, check_lots
from app.domain.books import Book
from app.domain.contracts import Contract, SymbolMaster
from app.domain.errors import BrokerUnavailable, InvalidLevel, RiskRefused
from app.domain.orders import Position, Priority, Side
from app.domain.pricing import price_exits
from app.domain.sizing import size_leg
from app.domain.strikes import nearest_strike, select_strike, spot_symbol
from app.domain.tickers import resolve_ticker, ticker_named
from app.ports import Broker, Clock
from app.services.books import StrategyBooks
from app.services.controls import TradingControls
from app.services.day_lock import DayLock
from app.services.intent_orders import book_closes, from_intent, gate_shorts, needs_account_positions
from app.services.plan import Plan, PlannedOrder, RiskRules


class OrderPlanner:
    """Resolves, gates and prices a message's legs."""

    def __init__(
        self,
        rules: RiskRules,
        broker: Broker,
        master: Callable[[], SymbolMaster],
        controls: TradingControls,
        clock: Clock,
        day_lock: DayLock,
    ):
        self.rules = rules
        self.day_lock = day_lock
        self.books: StrategyBooks | None = None  # each strategy's holdings (position intent, naked shorts)
        self._broker = broker
        self._master = master
        self._controls = controls
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="plan")

    def plan(self, message: AlertMessage, deadline: Deadline) -> Plan:
        """Every order the message asks for, or a refusal before any broker order."""
        book = self._book(message)
        legs, book_orders, note = from_intent(message, book, self._master(), self._clock.now(), self.rules.max_lots)
        entries = [leg for leg in legs if leg.action != "EXIT"] + [o.alert for o in book_orders if not o.closing]
        self._gate_entries(entries)
        # The reads an EXIT needs go ahead of entries in the rate budget; an entry's are quotes.
        closes = any(leg.action == "EXIT" for leg in legs) or any(o.closing for o in book_orders)
        priority = Priority.EXIT if closes else Priority.QUOTE
        spots = self._spots(legs, deadline, priority)
        planned, exits = self._legs(legs, spots)
        planned += [o for o in book_orders if not o.closing]
        shorts_allowed = self.rules.allow_short_options
        needs_positions = closes or needs_account_positions(planned, message, shorts_allowed) or (
            self.rules.require_short_for_buy and any(o.side is Side.BUY for o in planned)
        ) or (self.rules.max_open_lots is not None and bool(planned)) or (self.day_lock.rules.active and bool(planned))
        symbols = sorted({o.symbol for o in planned + book_orders} | {c.ticker for _, _, c in exits if c})
        prices, positions = self._read(symbols, needs_positions, deadline, priority)
        closing, nothing = self._closing_orders(exits, positions)
        closing += book_closes([o for o in book_orders if o.closing], positions, self.rules.protection)
        if planned:
            self.day_lock.check_entry(positions, deadline)
        gate_shorts(planned, message, book, positions, shorts_allowed)
        for order in planned:
            self._price(order, prices)
        self._gate_positions(planned, positions)  # after sizing: MAX_OPEN_LOTS counts the sized lots
        for order in closing:
            order.ltp = prices.get(order.symbol)
        # Exits first (a reversal closes, then opens); then buys before sells: a hedge's bought leg
        # lands before the sold leg it protects.
        ordered = sorted(planned + closing, key=lambda o: (not o.closing, o.side is not Side.BUY, o.leg))
        return Plan(ordered, nothing, note)

    def _book(self, message: AlertMessage) -> Book | None:
        """The strategy's book, when the message is a strategy's and a rule needs it (intent, a SELL)."""
        if self.books is None or not message.strategy:
            return None
        if message.intent is None and not any(leg.action == "SELL" for leg in message.legs):
            return None
        return self.books.book(message.strategy)

    def _legs(self, legs: list[Alert], spots: dict[str, Decimal]):
        """Each entry leg resolved and sized in whole lots; the EXIT legs (and their contracts) set aside."""
        master, now = self._master(), self._clock.now()
        planned: list[PlannedOrder] = []
        exits: list[tuple[int, Alert, Contract | None]] = []
        for index, leg in enumerate(legs):
            names_contract = leg.strike is not None or leg.ticker is not None
            contract = self._resolve(master, leg, spots, now) if names_contract else None
            if leg.action == "EXIT":
                exits.append((index, leg, contract))
                continue
            lots_field = leg.field("lots" if leg.lots is not None else "qty")
            # A leg sized by risk holds one lot (qty None) until its stop is priced (_size).
            qty = leg.lots * contract.lot_size if leg.lots is not None else leg.qty
            qty = check_lots(qty, contract.lot_size, self.rules.max_lots, lots_field)
            planned.append(PlannedOrder(index, leg, contract, contract.ticker, qty, leg.side, leg.product_type))
        return planned, exits

    def _price(self, order: PlannedOrder, prices: dict[str, Decimal]) -> None:
        """The order's LTP, its stop-loss and target on the tick, the levels' check and the risk sizing."""
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
        self._size(order)

    def _check_levels(self, order: PlannedOrder) -> None:
        """INVALID_LEVELS=refuse: a level on the wrong side refuses the whole alert, before any leg is sent."""
        if self.rules.invalid_levels != "refuse":
            return
        for adjustment in order.exits.adjustments:
            if adjustment.wrong_side:
                field = order.alert.field(adjustment.field)
                raise InvalidLevel(
                    field,
                    f"{field} {adjustment.sent} for {order.symbol}: {adjustment.reason} "
                    "(INVALID_LEVELS=refuse); nothing was placed",
                    ltp=float(order.ltp),
                )

    def _size(self, order: PlannedOrder) -> None:
        """An order sized by risk takes the lots its priced stop allows (sizing.py); others keep their qty."""
        order.sizing = size_leg(
            order.alert, self.rules.capital, order.ltp, order.exits.stop_loss, order.contract.lot_size,
            self.rules.max_lots,
        )
        if order.sizing is not None:
            order.qty = order.sizing.qty

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
                paused.get("rule") or "paused",  # a day's lock names its rule (MAX_DAILY_LOSS...)
                f"trading is paused ({paused.get('reason') or 'kill switch'}); exits are still allowed",
            )
        allowed = self.rules.allowed_underlyings
        for leg in entries:
            if allowed and leg.underlying not in allowed:
                raise RiskRefused(
                    "ALLOWED_UNDERLYINGS",
                    f"{leg.underlying} is not in ALLOWED_UNDERLYINGS ({', '.join(sorted(allowed))})",
                    field=leg.field("symbol"),
                )

    def _spots(self, legs: list[Alert], deadline: Deadline, priority: Priority) -> dict[str, Decimal]:
        """Spot prices of the underlyings whose legs name ATM/ITM/OTM strikes."""
        wanted = sorted({spot_symbol(leg.underlying) for leg in legs if leg.strike and leg.strike.relative})
        if not wanted:
            return {}
        return self._broker.quotes(wanted, deadline, priority=priority)

    def _resolve(self, master: SymbolMaster, leg: Alert, spots: dict[str, Decimal], now) -> Contract:
        if leg.ticker is not None:
            return resolve_ticker(master, ticker_named(leg.ticker, leg.field("symbol")), now)
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
                        field=order.alert.field("action"),
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

