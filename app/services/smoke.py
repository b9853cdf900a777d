"""The smoke test after a deploy: an alert the operator vouched for, run as a dry run, and what a live one would do.

The path is POST /webhook/test's (AlertService.execute with dry_run=True): nothing is claimed,
counted or sent, so a later real alert with the same body is not taken for a duplicate.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.deadline import Deadline
from app.domain.calendar import MarketState
from app.domain.errors import BridgeError
from app.services.alerts import AlertService
from app.services.intake import HMAC_ONLY, WRONG_BODY_SECRET
from app.services.record import AlertResult, Outcome

MARKET_CHECK_SECONDS = 1.0  # the broker's market-status read: the dry run itself has had its budget


def smoke_test(alerts: AlertService, raw_body: bytes, source: str) -> AlertResult:
    """The dry run of `raw_body` (the admin token authenticated it): /webhook/test's answer plus smoke and live."""
    result = alerts.execute(raw_body, dry_run=True, source=source, authenticated=True)
    live = _live(alerts, result)
    return replace(result, body={**result.body, "smoke": True, "live": live})


def _live(alerts: AlertService, result: AlertResult) -> str:
    """One line: what the same alert, sent live by TradingView now, would have done."""
    body = result.body
    if result.error is not None:
        return f"a live alert would have been refused the same way: {body.get('message', result.error.code)}"
    warnings = body.get("warnings") or []
    if WRONG_BODY_SECRET in warnings or HMAC_ONLY in warnings:
        return "a live alert with this body would have been refused (401) for its token: see warnings"
    orders = [order for order in body.get("orders") or [] if isinstance(order, dict)]
    if result.outcome != Outcome.DRY_RUN or not orders:
        return "a live alert would have placed nothing: " + str(body.get("nothing_to_close") or "no order to place")
    placed = f"{len(orders)} {'paper ' if alerts.paper else ''}order(s): " + "; ".join(map(_order, orders))
    return _when(_market(alerts), alerts.rules.market_closed_policy, placed)


def _order(order: dict[str, Any]) -> str:
    """One order in a few words: side, quantity, contract and the price it was priced off."""
    ltp = order.get("ltp")
    priced = f" (LTP {ltp})" if ltp is not None else ""
    return f"{order.get('side')} {order.get('qty')} {order.get('symbol')}{priced}"


def _market(alerts: AlertService) -> MarketState | None:
    """The market now, as the live path's gate sees it; None when the broker could not say."""
    try:
        return alerts.market.state(Deadline(MARKET_CHECK_SECONDS))
    except BridgeError:
        return None


def _when(state: MarketState | None, policy: str, placed: str) -> str:
    """The live outcome under the market's state now and MARKET_CLOSED_POLICY."""
    if state is None:
        return f"a live alert would have placed {placed}, if the market is open (its state could not be read)"
    if state.open:
        return f"a live alert would have placed {placed}"
    closed = f"{state.reason} (MARKET_CLOSED_POLICY={policy})"
    if policy == "queue":
        runs_at = state.next_open.isoformat() if state.next_open else "the next open"
        return f"a live alert would have been queued now, {closed}; at {runs_at} it would place {placed}"
    if policy == "amo" and state.amo_window:
        return f"a live alert would have placed {placed} as after-market orders (AMO), {closed}"
    return f"a live alert would have been refused now, {closed}; while the market is open it would place {placed}"
