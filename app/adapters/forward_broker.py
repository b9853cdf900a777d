"""ForwardBroker (BROKER=fyers-paper): paper orders filled at Fyers's live prices; no order is ever sent.

Quotes, market status and readiness come from a read-only FyersBroker (its client refuses every
order call before it is sent); every order-side call is PaperBroker's simulator. A fill at market
(an entry, an exit's counter order, a triggered stop) takes the live LTP moved against the trader
by PAPER_SLIPPAGE_TICKS ticks of the contract (tick from the symbol master), never beyond Fyers's
market-price-protection band: a slipped price past the band's edge fills at the edge, as Fyers's
protection limit order would. The symbols with working orders or open positions are re-quoted
whenever the book, the positions or the fills are read, so legs and stops fire as the live price
crosses them.
"""

from __future__ import annotations

import logging
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Callable, Sequence

from app.adapters.paper_broker import PaperBroker
from app.adapters.paper_margin import PAPER_FUNDS
from app.deadline import Deadline
from app.domain.contracts import Contract
from app.domain.errors import BrokerUnavailable, LoginRequired, OrderRejected, Unexecutable
from app.domain.orders import (
    LIMIT,
    BrokerOrder,
    Fill,
    OrderRequest,
    PlacedOrder,
    Position,
    PositionExit,
    Priority,
    Side,
)
from app.logs import log_event
from app.ports import Broker

log = logging.getLogger(__name__)

DEFAULT_TICK = Decimal("0.05")  # for a symbol the master does not list (an index)
QUOTE_FRESH_FOR = 1.0  # seconds: an order fills at the LTP the alert's planner just read, without a second call
MAX_SYMBOLS = 50  # Fyers's quotes call takes at most 50 symbols
# Fyers's market-price-protection band for options (DESIGN §2): rupees up to Rs 10, then a share of the LTP.
BAND_FLAT = Decimal("1.5")
BAND_LOW_SHARE = Decimal("0.15")  # LTP above Rs 10 up to Rs 20
BAND_HIGH_SHARE = Decimal("0.10")  # LTP above Rs 20


def protection_band(ltp: Decimal) -> Decimal:
    """How far from the LTP Fyers lets an option's market order fill, in rupees."""
    if ltp <= 10:
        return BAND_FLAT
    return ltp * (BAND_LOW_SHARE if ltp <= 20 else BAND_HIGH_SHARE)


def market_fill(ltp: Decimal, side: Side, slippage_ticks: int, tick: Decimal, banded: bool) -> Decimal:
    """Where a market order fills: `slippage_ticks` ticks against the trader, no further than the band's edge."""
    direction = int(side)
    price = ltp + direction * slippage_ticks * tick
    if banded:
        band = protection_band(ltp)
        if direction > 0:  # the edge is rounded towards the LTP so that it stays inside the band
            price = min(price, ((ltp + band) / tick).to_integral_value(ROUND_FLOOR) * tick)
        else:
            price = max(price, ((ltp - band) / tick).to_integral_value(ROUND_CEILING) * tick)
    return max(price, tick)


class ForwardBroker(PaperBroker):
    """The paper simulator priced by a live broker's quotes; only reads reach the live broker."""

    name = "fyers-paper"

    def __init__(
        self,
        live: Broker,
        contract_of: Callable[[str], Contract | None],
        slippage_ticks: int = 1,
        funds: Decimal = PAPER_FUNDS,
    ):
        super().__init__(funds)
        self._live = live  # a read-only FyersBroker: quotes, market status, readiness
        self._contract_of = contract_of  # the symbol master's contract for a ticker (its tick), or None
        self._slippage_ticks = slippage_ticks
        self._seen: dict[str, float] = {}  # symbol -> when its live LTP was last applied (monotonic)

    def quotes(
        self, symbols: Sequence[str], deadline: Deadline, *, priority: Priority = Priority.QUOTE
    ) -> dict[str, Decimal]:
        """Live LTPs from Fyers; each one also moves the simulator's price (a stop it crosses fires)."""
        prices = self._live.quotes(symbols, deadline, priority=priority)
        self._apply(prices)
        return prices

    def set_price(self, symbol: str, price: Decimal) -> list[BrokerOrder]:
        """Refused: prices are Fyers's here, and a made-up one would fill stops a trader must not believe."""
        raise Unexecutable("BROKER=fyers-paper takes its prices from Fyers: the paper price control is off")

    def market_open(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> bool | None:
        """Fyers's market status."""
        return self._live.market_open(deadline, priority=priority)

    def readiness(self) -> tuple[bool, str]:
        """Ready when Fyers is: the login and a profile check, as for live orders."""
        ready, reason = self._live.readiness()
        return ready, f"{reason} (paper orders on live prices)"

    def rate_limited_today(self) -> int:
        """429s Fyers sent this instance today: quotes count against the same limits."""
        return self._live.rate_limited_today()

    def close(self) -> None:
        """Release the live broker's HTTP session."""
        close = getattr(self._live, "close", None)
        if close:
            close()

    def place_order(self, order: OrderRequest, deadline: Deadline, *, priority: Priority | None = None) -> PlacedOrder:
        """A paper order at the live price; BrokerUnavailable (nothing booked) when Fyers gives no price."""
        self._price_for_fill(order.symbol, deadline, Priority.EXIT if order.closing else Priority.QUOTE)
        return super().place_order(order, deadline, priority=priority)

    def exit_position(
        self, position: Position, deadline: Deadline, *, priority: Priority = Priority.EXIT
    ) -> PositionExit:
        """Flatten the paper position at the live price (legs cancelled first)."""
        with self._lock:
            ledger = self._ledgers.get((position.symbol, position.product_type))
            held = ledger.net if ledger else 0
        if held:
            self._price_for_fill(position.symbol, deadline, priority)
        return super().exit_position(position, deadline, priority=priority)

    def order_book(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[BrokerOrder]:
        """The paper book, after the live prices have moved it."""
        self._requote(deadline, priority)
        return super().order_book(deadline, priority=priority)

    def positions(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Position]:
        """Paper positions marked at live prices."""
        self._requote(deadline, priority)
        return super().positions(deadline, priority=priority)

    def fills(self, deadline: Deadline, *, priority: Priority = Priority.LOOKUP) -> list[Fill]:
        """Paper fills, after the live prices have moved the book."""
        self._requote(deadline, priority)
        return super().fills(deadline, priority=priority)

    def _apply(self, prices: dict[str, Decimal]) -> None:
        for symbol, price in prices.items():
            PaperBroker.set_price(self, symbol, price)  # the simulator's own move, refused to outsiders above
            self._seen[symbol] = time.monotonic()

    def _price_for_fill(self, symbol: str, deadline: Deadline, priority: Priority) -> None:
        """Make the simulator's price of `symbol` a live one: the LTP read within a second, else a fresh quote."""
        if time.monotonic() - self._seen.get(symbol, -1e9) < QUOTE_FRESH_FOR:
            return
        prices = self._live.quotes([symbol], deadline, priority=priority)
        if symbol not in prices:
            raise OrderRejected(f"Fyers has no price for {symbol}: the paper order is not placed")
        self._apply(prices)

    def _requote(self, deadline: Deadline, priority: Priority) -> None:
        """One live quote for every symbol with a working order or an open position, so that stops and legs fire."""
        with self._lock:
            symbols = {order.symbol for order in self._book if order.working}
            symbols |= {symbol for (symbol, _), ledger in self._ledgers.items() if ledger.net}
        ordered = sorted(symbols)
        try:
            for start in range(0, len(ordered), MAX_SYMBOLS):
                self._apply(self._live.quotes(ordered[start : start + MAX_SYMBOLS], deadline, priority=priority))
        except (BrokerUnavailable, LoginRequired) as error:
            # The paper book is always readable; it stands at its last live prices until Fyers answers.
            log_event(
                log,
                logging.WARNING,
                "forward_requote_failed",
                f"live prices not read; the paper book stands at its last prices: {error.message}",
            )

    def _fill(self, order_id: str, price: Decimal) -> BrokerOrder:
        """Every paper fill passes here (lock held): one at market slips against the trader, within the band."""
        order = self._book[self._where[order_id]]
        if order.order_type != LIMIT:  # a market order, an exit's counter order, a triggered stop
            contract = self._contract_of(order.symbol)
            tick = contract.tick_size if contract else DEFAULT_TICK
            price = market_fill(price, order.side, self._slippage_ticks, tick, banded=contract is not None)
        return super()._fill(order_id, price)
