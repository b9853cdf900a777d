"""The bridge's positions with Fyers's own P&L figures, and the day's summary for the trader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Callable

from app.deadline import Deadline
from app.domain.contracts import IST
from app.domain.orders import Position
from app.domain.trades import Trade
from app.ports import Broker, Clock, Notification
from app.services.journal import Journal
from app.services.notify import Notifications
from app.services.record import Outcome
from app.services.trade_news import rupees
from app.services.trade_store import TradeStore

# Alerts the bridge answered with a refusal (4xx): counted in the day summary.
REFUSED = frozenset(
    {
        Outcome.INVALID,
        Outcome.UNEXECUTABLE,
        Outcome.CONTRACT_NOT_FOUND,
        Outcome.RISK_REFUSED,
        Outcome.INVALID_LEVEL,
        Outcome.MARKET_CLOSED,
        Outcome.STALE,
        Outcome.REJECTED,
    }
)


class TradeReport:
    """Reads the bridge's positions and writes the day's summary."""

    def __init__(
        self,
        trades: TradeStore,
        broker: Broker,
        journal: Journal,
        notifications: Notifications | None,
        clock: Clock,
        rate_limited: Callable[[], int],
    ):
        self._trades = trades
        self._broker = broker
        self._journal = journal
        self._notifications = notifications
        self._clock = clock
        self._rate_limited = rate_limited

    def positions(self, deadline: Deadline) -> dict[str, Any]:
        """Today's positions in the contracts the bridge traded, with Fyers's P&L figures."""
        day = self._today()
        trades = self._trades.day(day)
        ours = {(t.symbol, t.product_type) for t in trades}
        rows = [p for p in self._broker.positions(deadline) if (p.symbol, p.product_type) in ours]
        listed = [
            _position(p, [t for t in trades if (t.symbol, t.product_type) == (p.symbol, p.product_type)]) for p in rows
        ]
        return {
            "status": "ok",
            "date": day.isoformat(),
            "positions": listed,
            "realized": _total(p.realized for p in rows),
            "unrealized": _total(p.unrealized for p in rows),
            "pl": _total(p.pl for p in rows),
        }

    def day_summary(self, deadline: Deadline) -> dict[str, Any]:
        """The day in one notification: trades, realized P&L, open positions, 429s, refused alerts."""
        day = self._today()
        view = self.positions(deadline)
        followed = self._trades.day(day)
        tags = {t.tag for t in followed} | {tag for t in followed for tag in t.protection_tags.values()}
        ids = {oid for t in followed for oid in t.orders}
        trades = sum(1 for f in self._broker.fills(deadline) if f.tag in tags or f.order_id in ids)
        open_rows = [p for p in view["positions"] if p["net_qty"]]
        refused = sum(1 for r in self._journal.day(day) if r.get("outcome") in REFUSED)
        summary = {
            "date": day.isoformat(),
            "trades": trades,
            "realized": view["realized"],
            "unrealized": view["unrealized"],
            "open_positions": len(open_rows),
            "rate_limited": self._rate_limited(),
            "alerts_refused": refused,
        }
        opened = "; ".join(f"{p['symbol']} {p['net_qty']:+d} ({rupees(_money(p['unrealized']))})" for p in open_rows)
        text = (
            f"Day summary {day:%d %b}: {trades} fill(s), realized {rupees(_money(view['realized']))}; "
            f"{len(open_rows)} open position(s){': ' + opened if opened else ''}, "
            f"unrealized {rupees(_money(view['unrealized']))}; 429s {summary['rate_limited']}; "
            f"alerts refused {refused}"
        )
        if self._notifications is not None:
            self._notifications.notify(Notification("day_summary", text, summary), deadline)
        return {"status": "ok", "text": text, **summary}

    def _today(self) -> date:
        return self._clock.now().astimezone(IST).date()


def _position(position: Position, trades: list[Trade]) -> dict[str, Any]:
    """One position row for the operator: Fyers's figures, and what protects it."""
    open_trades = [t for t in trades if not t.final and t.protection.value != "none"]
    return {
        "symbol": position.symbol,
        "product_type": position.product_type,
        "net_qty": position.net_qty,
        "ltp": _float(position.ltp),
        "buy_avg": _float(position.buy_avg),
        "sell_avg": _float(position.sell_avg),
        "realized": _float(position.realized),
        "unrealized": _float(position.unrealized),
        "pl": _float(position.pl),
        "strategies": sorted({t.strategy for t in trades if t.strategy}),
        "protection": [
            {"mode": t.protection.value, "stop_loss": _float(t.stop_loss), "take_profit": _float(t.take_profit)}
            for t in open_trades
        ],
    }


def _total(values) -> float | None:
    known = [v for v in values if v is not None]
    return float(sum(known, Decimal(0))) + 0.0 if known else None  # + 0.0: never "-0.0"


def _float(value: Decimal | None) -> float | None:
    return float(value) + 0.0 if value is not None else None  # + 0.0: never "-0.0"


def _money(value: float | None) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None
