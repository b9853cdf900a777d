"""How a planned order reads, in one place: in the caller's answer, in a leg's summary, in the journal."""

from __future__ import annotations

from typing import Any, Callable

from app.domain.errors import BridgeError
from app.domain.orders import OrderRequest
from app.services.plan import PlannedOrder
from app.services.record import STANDING, AlertResult, Outcome


def leg_summary(planned: PlannedOrder) -> dict[str, Any]:
    """The order in four words: what a failed or unsent leg's answer names."""
    return {
        "symbol": planned.symbol,
        "qty": planned.qty,
        "side": planned.side.name,
        "product_type": planned.product_type,
    }


def order_body(
    planned: PlannedOrder,
    request: OrderRequest | None,
    order_id: str | None,
    status: str,
    message: str,
    alert_id: str | None = None,
) -> dict[str, Any]:
    """What the trader is told about one order."""
    contract = planned.contract
    body: dict[str, Any] = {"status": status}
    if alert_id is not None:
        body["alert_id"] = alert_id
    body.update(
        {
            "order_id": order_id,
            "symbol": planned.symbol,
            "expiry": contract.expiry.isoformat() if contract else None,
            "strike": float(contract.strike) if contract else None,
            "option_type": contract.option_type if contract else None,
            "qty": planned.qty,
            "lots": planned.qty // contract.lot_size if contract else None,
            "side": planned.side.name,
            "product_type": planned.product_type,
            **_levels(planned, float),
            "message": message,
        }
    )
    body.update(_order_notes(planned, request))
    return body


def paper_answer(body: dict[str, Any]) -> dict[str, Any]:
    """An answer on a paper broker: marked so that nobody takes it for a real order."""
    message = str(body.get("message") or "no real order was placed")
    if not message.startswith("PAPER:"):  # a replayed answer was marked when it was first given
        message = f"PAPER: {message}"
    return {**body, "paper": True, "message": message}


def decision(planned: PlannedOrder, request: OrderRequest) -> dict[str, Any]:
    """The journal's view of one order decision."""
    return {
        **leg_summary(planned),
        **_levels(planned, str),
        "tag": request.tag,
        "closing": planned.closing,
        "adjustments": _adjustments(planned, str) if planned.exits is not None else [],
        **({"sizing": planned.sizing.shown(str)} if planned.sizing is not None else {}),
    }


def exit_decision(planned: PlannedOrder) -> dict[str, Any]:
    """The journal's view of a CO/BO position closed by the broker's exit call."""
    return {**leg_summary(planned), "exit_position": planned.position.position_id, "closing": True}


def _levels(planned: PlannedOrder, number: Callable[[Any], Any]) -> dict[str, Any]:
    """The LTP the levels were priced off, and the stop-loss and target used."""
    return {
        "ltp": number(planned.ltp) if planned.ltp is not None else None,
        "sl": number(planned.exits.stop_loss) if planned.exits else None,
        "tp": number(planned.exits.take_profit) if planned.exits else None,
    }


def _order_notes(planned: PlannedOrder, request: OrderRequest | None) -> dict[str, Any]:
    """What is said of an order only when it applies."""
    notes: dict[str, Any] = {}
    if planned.alert.strike is not None and planned.alert.strike.relative:
        notes["strike_choice"] = planned.alert.strike.describe()
    if planned.closing:
        notes["closing"] = True
    if planned.exits is not None and planned.exits.adjustments:
        notes["adjustments"] = _adjustments(planned, float)
    if planned.sizing is not None:
        notes["sizing"] = planned.sizing.shown(float)
    if planned.exits_by_broker:
        notes["position_id"] = planned.position.position_id
    if request is not None and request.slice:
        notes["sliced"] = True
    if request is not None and request.amo:
        notes["amo"] = True
    return notes


def _adjustments(planned: PlannedOrder, number: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """Each alert level not used as sent: the field, the value sent, the value used, and why."""
    return [
        {
            "field": planned.alert.field(a.field),
            "sent": number(a.sent),
            "used": number(a.used),
            "reason": a.reason,
        }
        for a in planned.exits.adjustments
    ]


def combined(results: list[dict[str, Any]], failure: BridgeError | None, alert_id: str) -> AlertResult:
    """One answer for several orders: which stand, which failed, which were not sent."""
    standing = [r for r in results if r["status"] in STANDING]
    if failure is None:
        statuses = {r["status"] for r in results}
        status = next((s for s in (Outcome.PARTIAL, Outcome.PENDING) if s in statuses), Outcome.PLACED)
        message = (
            f"{len(results)} order(s) stand, some only in part: see each leg's slices"
            if status == Outcome.PARTIAL
            else f"{len(results)} order(s) {status}"
        )
        return AlertResult(status, {"status": status.value, "alert_id": alert_id, "message": message, "legs": results})
    if standing:
        message = f"{len(standing)} of {len(results)} order(s) stand; then: {failure.message}"
        body = {"status": "partial", "alert_id": alert_id, "message": message, "legs": results}
        return AlertResult(Outcome.LEGS_PARTIAL, body, failure)
    body = {"status": failure.code, "alert_id": alert_id, "message": failure.message, "legs": results}
    return AlertResult(Outcome.of(failure), body, failure)
