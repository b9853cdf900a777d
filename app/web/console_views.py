"""The console's read-only views: the home's live figures, an alert's whole story, and the page's refresh script.

Everything is read, nothing is changed: the actions stay in console.py behind their confirmations.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, abort, redirect, render_template, request, session, url_for

from app.domain.contracts import IST
from app.web import console_security
from app.web.responses import services

bp = Blueprint("console_views", __name__, template_folder="templates")
bp.after_request(console_security.protect)

ALERT_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
REFUSED = "refused"  # the outcome filter's word for every alert answered 4xx or 5xx
REFRESH_SECONDS = 20

# Served from 'self' (the CSP allows no inline script): re-reads this page and swaps its <main>,
# but never while a form is being filled or a contract's full ticker is open: that would lose it.
REFRESH_SCRIPT = """\
(function () {
  var main = document.querySelector("main[data-refresh]");
  if (!main) return;
  var dirty = false;
  document.addEventListener("input", function (e) { if (e.target.form) dirty = true; });
  function busy() {
    var a = document.activeElement;
    var typing = a && a.form && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && a.type !== "submit";
    return dirty || typing || !!document.querySelector("main details[open]");
  }
  function refresh(force) {
    if (!force && (busy() || document.hidden)) return Promise.resolve(false);
    return fetch(location.href, {credentials: "same-origin"}).then(function (r) {
      if (r.redirected) { location.href = r.url; return null; }  // the session ended: the login page
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html || (!force && busy())) return false;
      var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
      if (!fresh) return false;
      document.querySelector("main").replaceWith(fresh);
      dirty = false;
      return true;
    }).catch(function () { return false; });
  }
  window.consoleRefresh = refresh;
  setInterval(refresh, (parseInt(main.dataset.refresh, 10) || 20) * 1000);
})();
"""


def init_app(app: Flask) -> None:
    """The views and the template filters they share with the home page."""
    app.register_blueprint(bp)


@bp.app_template_filter("ist")
def ist(value: str | datetime | None, pattern: str = "%H:%M:%S") -> str:
    """A stored instant (ISO text or datetime, any zone) as IST; blank when unknown."""
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(IST).strftime(pattern) if when.tzinfo else when.strftime(pattern)


@bp.app_template_filter("contract")
def contract(ticker: str | None) -> str:
    """A Fyers ticker as a phone reads it ("NIFTY 01-Dec 24000 CE"), or the ticker when the master does not list it."""
    if not ticker:
        return ""
    found = services().masters.current().by_ticker(ticker)
    if found is None:
        return ticker
    return f"{found.underlying} {found.expiry:%d-%b} {_number(found.strike)} {found.option_type}"


@bp.get("/console/refresh.js")
def refresh_script():
    """The home's auto-refresh: a few lines, no framework."""
    return Response(REFRESH_SCRIPT, mimetype="text/javascript")


def home(bridge, now: datetime, records: list[dict[str, Any]], args) -> dict[str, Any]:
    """What the home shows beside the journal: countdown, market honesty, pending and queued alerts, 429s, filters."""
    token = bridge.login.tokens.status() if bridge.login else None
    strategy, outcome = (args.get("strategy") or "").strip(), (args.get("outcome") or "").strip()
    live = token is not None and token.logged_in and token.expires_at is not None
    return {
        "token_countdown": _countdown(token.expires_at - now) if live else None,
        "market_checked": bool(bridge.alerts.market.enabled),
        "pending": bridge.reconciler.pending(),
        "queued": bridge.queue.waiting(),
        "rate_limited": bridge.broker.rate_limited_today(),
        "alerts": [r for r in records if _matches(r, strategy, outcome)],
        "strategies": sorted({r["strategy"] for r in records if r.get("strategy")} | ({strategy} - {""})),
        "outcomes": sorted({str(r["outcome"]) for r in records if r.get("outcome")} | ({outcome} - {"", REFUSED})),
        "filter_strategy": strategy,
        "filter_outcome": outcome,
        "refresh_seconds": REFRESH_SECONDS,
    }


@bp.get("/console/alerts/<alert_id>")
def alert_detail(alert_id: str):
    """One alert on one page: as received, its decisions, every broker answer, and what its trade did after."""
    if not console_security.session_live():
        return redirect(url_for("console.login_form"), code=303)
    if not ALERT_ID.match(alert_id):
        abort(404)
    bridge = services()
    try:
        day = date.fromisoformat(request.args["date"]) if request.args.get("date") else None
    except ValueError:
        abort(400, "date must be YYYY-MM-DD")
    day = day or bridge.clock.now().astimezone(IST).date()
    records = [r for r in bridge.journal.day(day) if r.get("alert_id") == alert_id]
    pending = bridge.store.get(f"pending/{alert_id}.json")
    queued = [e for e in bridge.queue.entries() if e.get("alert_id") == alert_id]
    if not records and pending is None and not queued:
        abort(404, f"no alert {alert_id} on {day:%Y-%m-%d}")
    received = next((r for r in records if "alert" in r or "decisions" in r), records[0] if records else None)
    events = [r for r in records if r.get("trade")]
    return render_template(
        "console/alert.html",
        alert_id=alert_id,
        day=day,
        received=received,
        records=records,
        events=events,
        answers=[a for r in records for a in _answers(r)],
        pending=pending.data if pending else None,
        queued=queued,
        csrf=session.get("csrf"),
    )


@bp.app_template_filter("reason")
def reason(record: dict[str, Any] | None) -> str:
    """Why an alert ended as it did, in the answer's words: a refusal's message, a trade event's text."""
    if not record:
        return ""
    if record.get("message"):
        return record["message"]
    body = (record.get("answer") or {}).get("body") or {}
    if (record.get("status") or 0) >= 400 and body.get("message"):
        return body["message"]
    if record.get("trade"):
        return record["trade"].get("text", "")
    return ""


def _matches(record: dict[str, Any], strategy: str, outcome: str) -> bool:
    if strategy and record.get("strategy") != strategy:
        return False
    if outcome == REFUSED:
        return (record.get("status") or 0) >= 400
    return not outcome or str(record.get("outcome")) == outcome


def _answers(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's broker answers, one per order (a settled pending order keeps one)."""
    broker = record.get("broker")
    return broker if isinstance(broker, list) else [broker] if broker else []


def _countdown(left) -> str:
    """A session's time left in a phone's few words: "expires in 5 h 12 min"."""
    minutes = int(left.total_seconds() // 60)
    if minutes <= 0:
        return "expired"
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"expires in {days} d {hours} h"
    return f"expires in {hours} h {mins} min" if hours else f"expires in {mins} min"


def _number(value: Decimal) -> str:
    """A strike without a trailing ".0" (24000, not 24000.0), its decimals when it has some (112.5)."""
    return f"{value.normalize():f}"
