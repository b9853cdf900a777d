"""The forward-test report's figures: closed trades per strategy, win rate, P&L, worst day, slippage, latency."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

NO_STRATEGY = "(none)"
CLOSES = ("stop_hit", "target_hit")  # the only closes that journal a P&L
ORDER_SENT = ("placed", "pending", "partial", "legs_partial")  # an entry alert's order went out
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ClosedTrade:
    """One trade whose close the journal priced: its entry, exit, P&L, and the alert that opened it."""

    day: date  # the IST day of its close
    strategy: str
    alert_id: str
    symbol: str
    side: str  # the entry's side, BUY or SELL
    qty: int
    entry_price: Decimal
    exit_price: Decimal | None
    pnl: Decimal
    close: Decimal | None = None  # the alert's {{close}}
    slippage: Decimal | None = None  # rupees per unit; a worse fill than `close` is positive
    slippage_ticks: Decimal | None = None
    latency_ms: Decimal | None = None  # the alert's {{timenow}} to the journaled order


@dataclass(frozen=True)
class StrategyFigures:
    """One strategy's line of the report."""

    strategy: str
    trades: int
    wins: int
    win_rate: Decimal  # per cent of trades with a positive P&L
    pnl: Decimal
    worst_day: date | None
    worst_day_pnl: Decimal | None
    avg_slippage: Decimal | None
    avg_slippage_ticks: Decimal | None
    avg_latency_ms: Decimal | None


def closed_trades(days: Iterable[tuple[date, list[dict[str, Any]]]], tick_of: Callable[[str], Decimal | None]):
    """The trades closed in these days' records (stop or target hits), oldest first, with their alert's figures."""
    days = list(days)
    alerts: dict[str, dict[str, Any]] = {}
    for _, records in days:
        for record in filter(_sent_order, records):
            alerts.setdefault(record["alert_id"], record)  # the first order's record: a later one may be a retry
    found: dict[tuple[str, str], ClosedTrade] = {}
    for day, records in days:
        for record in records:
            trade = record.get("trade") or {}
            if str(record.get("outcome")) not in CLOSES or trade.get("pnl") is None:
                continue
            key = (record["alert_id"], str(trade.get("entry_id") or trade.get("tag")))
            earlier = found.get(key)
            if earlier is not None:  # a second close of the same trade (a partial exit): one trade, P&L summed
                found[key] = _with_pnl(earlier, earlier.pnl + _decimal(trade["pnl"]))
                continue
            found[key] = _closed(day, record, trade, alerts.get(record["alert_id"]), tick_of)
    return list(found.values())


def figures(trades: list[ClosedTrade]) -> list[StrategyFigures]:
    """Each strategy's figures, by name ("(none)" for trades without a strategy)."""
    return [_figures(name, [t for t in trades if t.strategy == name]) for name in sorted({t.strategy for t in trades})]


def cumulative(trades: list[ClosedTrade], days: list[date]) -> list[tuple[date, Decimal]]:
    """The running P&L of every strategy together at the end of each day."""
    total, points = Decimal(0), []
    for day in days:
        total += sum((t.pnl for t in trades if t.day == day), Decimal(0))
        points.append((day, total))
    return points


def as_csv(rows: list[Any], kind: type) -> str:
    """Rows of the dataclass `kind` as CSV: a header of its field names (even with no rows), blanks for unknowns."""
    out = io.StringIO()
    names = [f.name for f in fields(kind)]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if getattr(row, n) is None else str(getattr(row, n)) for n in names])
    return out.getvalue()


def _closed(day, record, trade, alert_record, tick_of) -> ClosedTrade:
    entry = _decimal(trade["entry_price"])
    alert = (alert_record or {}).get("alert")
    alert = alert if isinstance(alert, dict) else {}
    close = _decimal(alert.get("close"))
    slippage = ticks = None
    if close is not None and entry is not None:
        # Paying more on a buy, or getting less on a sell, than the alert's price is the worse fill.
        slippage = (entry - close) if trade.get("side") == "BUY" else (close - entry)
        tick = tick_of(trade["symbol"])
        ticks = (slippage / tick).quantize(CENT) if tick else None
    return ClosedTrade(
        day=day,
        strategy=record.get("strategy") or NO_STRATEGY,
        alert_id=record["alert_id"],
        symbol=trade["symbol"],
        side=trade.get("side", ""),
        qty=int(trade.get("qty") or 0),
        entry_price=entry,
        exit_price=_decimal(trade.get("exit_price")),
        pnl=_decimal(trade["pnl"]),
        close=close,
        slippage=slippage,
        slippage_ticks=ticks,
        latency_ms=_latency(alert.get("timenow"), (alert_record or {}).get("recorded_at")),
    )


def _figures(strategy: str, trades: list[ClosedTrade]) -> StrategyFigures:
    by_day: dict[date, Decimal] = {}
    for trade in trades:
        by_day[trade.day] = by_day.get(trade.day, Decimal(0)) + trade.pnl
    worst = min(sorted(by_day), key=lambda d: by_day[d]) if by_day else None  # the earliest of equal days
    wins = sum(1 for t in trades if t.pnl > 0)
    return StrategyFigures(
        strategy=strategy,
        trades=len(trades),
        wins=wins,
        win_rate=(Decimal(100) * wins / len(trades)).quantize(CENT) if trades else Decimal(0),
        pnl=sum((t.pnl for t in trades), Decimal(0)).quantize(CENT),
        worst_day=worst,
        worst_day_pnl=by_day[worst].quantize(CENT) if worst else None,
        avg_slippage=_average(t.slippage for t in trades),
        avg_slippage_ticks=_average(t.slippage_ticks for t in trades),
        avg_latency_ms=_average(t.latency_ms for t in trades),
    )


def _with_pnl(trade: ClosedTrade, pnl: Decimal) -> ClosedTrade:
    return ClosedTrade(**{**{f.name: getattr(trade, f.name) for f in fields(trade)}, "pnl": pnl})


def _sent_order(record: dict[str, Any]) -> bool:
    """The alert's own record of the order it sent (not a trade event, not a refusal)."""
    return isinstance(record.get("alert"), dict) and str(record.get("outcome")) in ORDER_SENT


def _latency(timenow: Any, recorded_at: Any) -> Decimal | None:
    """Milliseconds from the alert's stamp to its record; None when either cannot be read."""
    try:
        sent = datetime.fromisoformat(str(timenow).replace("Z", "+00:00"))
        done = datetime.fromisoformat(str(recorded_at))
    except ValueError:
        return None
    sent = sent if sent.tzinfo else sent.replace(tzinfo=timezone.utc)  # TradingView's stamps are UTC
    if done.tzinfo is None:
        return None
    return Decimal(str(round((done - sent).total_seconds() * 1000, 1)))


def _average(values: Iterable[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return (sum(known, Decimal(0)) / len(known)).quantize(CENT) if known else None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
