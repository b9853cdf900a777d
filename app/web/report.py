"""The forward-test report: GET /report (admin, JSON or CSV) and the console's page with its P&L chart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request

from app.answers import Answer
from app.domain.errors import InvalidRequest
from app.domain.report import ClosedTrade, StrategyFigures, as_csv
from app.services.forward_report import NOTE, ForwardReport, Report
from app.settings import PAPER_BROKERS
from app.web import console_security
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("report", __name__, template_folder="templates")
bp.after_request(console_security.protect)  # the console's page and CSV: uncacheable, unframeable

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 260, 40  # SVG units; the page scales it to the screen


@bp.get("/report")
@require_admin
def report():
    """Per strategy: closed trades, win rate, P&L, worst day, slippage, latency; `?format=csv` (`&rows=trades`)."""
    made = _made(request.args)
    if request.args.get("format") == "csv":
        return _csv(made)
    return respond(Answer(200, as_json(made)))


@bp.get("/console/report")
def console_page():
    """The report on the console: the running P&L chart, the strategies' table, the CSV links."""
    if not console_security.session_live():
        return redirect(console_security.login_then(request.full_path), code=303)
    try:
        made, refused = _made(request.args), None
    except InvalidRequest as error:  # a mistyped date: the default range, and why
        made, refused = _made({}), error.message
    return render_template(
        "console/report.html",
        report=made,
        refused=refused,
        paper=services().settings.broker in PAPER_BROKERS,
        chart=chart(made.running),
        note=NOTE,
        span=f"from={made.first:%Y-%m-%d}&to={made.last:%Y-%m-%d}",
    )


@bp.get("/console/report.csv")
def console_csv():
    """The report's CSV for a browser holding a console session (a link cannot carry the admin token)."""
    if not console_security.session_live():
        return redirect(console_security.login_then(request.full_path), code=303)
    return _csv(_made(request.args))


def as_json(made: Report) -> dict[str, Any]:
    """The report's JSON body: money and averages as numbers, days as YYYY-MM-DD."""
    return {
        "status": "ok",
        "from": made.first.isoformat(),
        "to": made.last.isoformat(),
        "paper": services().settings.broker in PAPER_BROKERS,
        "note": NOTE,
        "strategies": [{k: _plain(v) for k, v in vars(row).items()} for row in made.strategies],
        "days": [{"day": day.isoformat(), "cumulative_pnl": float(total)} for day, total in made.running],
    }


def chart(running: list[tuple[date, Decimal]]) -> dict[str, Any]:
    """The running P&L as SVG coordinates: a polyline, the zero line, the top and bottom labels."""
    values = [float(total) for _, total in running] or [0.0]
    top, bottom = max(values + [0.0]), min(values + [0.0])
    span = (top - bottom) or 1.0
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return round(CHART_PAD + (top - value) / span * inner_h, 1)

    points = [(round(CHART_PAD + i * step, 1), y(v)) for i, v in enumerate(values)]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "points": " ".join(f"{x},{py}" for x, py in points),
        "dots": [{"x": x, "y": py, "day": d, "value": v} for (x, py), (d, _), v in zip(points, running, values)],
        "zero": y(0.0),
        "top": top,
        "bottom": bottom,
        "left": CHART_PAD,
        "right": CHART_WIDTH - CHART_PAD,
    }


def _made(args) -> Report:
    bridge = services()
    forward = ForwardReport(bridge.journal, bridge.clock, _tick_of)
    first, last = forward.range(args.get("from"), args.get("to"))
    return forward.between(first, last)


def _tick_of(symbol: str) -> Decimal | None:
    found = services().masters.current().by_ticker(symbol)
    return found.tick_size if found is not None else None


def _csv(made: Report) -> Response:
    per_trade = request.args.get("rows") == "trades"
    name = f"report-{'trades-' if per_trade else ''}{made.first:%Y%m%d}-{made.last:%Y%m%d}.csv"
    return Response(
        as_csv(made.trades, ClosedTrade) if per_trade else as_csv(made.strategies, StrategyFigures),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
