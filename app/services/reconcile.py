"""Pending orders: alerts answered 202 because the broker's outcome was unknown at the deadline.

Each is recorded, and settled later from the order book, never by sending again: on the next
resend of its key, or when the operator (or a Scheduler job) calls POST /reconcile. An order
the book still does not show after `GIVE_UP_AFTER` is declared not placed: placing it that
late would be a surprise order, so the trader is told instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.answers import answer_for
from app.deadline import Deadline
from app.domain.errors import BridgeError, BrokerUnavailable, OrderRejected
from app.domain.orders import OrderRequest, PlacedOrder, order_as_dict, order_from_dict
from app.logs import log_event
from app.ports import Clock, StateStore
from app.services.idempotency import IdempotencyLedger
from app.services.journal import Journal
from app.services.placement import OrderPlacer
from app.services.record import AlertRecord, AlertResult, Outcome

log = logging.getLogger(__name__)

GIVE_UP_AFTER = 10 * 60  # seconds after which an order the book never showed is not placed


@dataclass(frozen=True)
class Reconciler:
    """Records pending orders and settles them from the broker's order book."""

    store: StateStore
    ledger: IdempotencyLedger
    journal: Journal
    placer: OrderPlacer
    clock: Clock

    def record(
        self, alert_id: str, key: str | None, order: OrderRequest, since: datetime, body: dict
    ) -> None:
        """Remember a pending order until the book settles it."""
        self.store.create(
            self._document(alert_id),
            {
                "alert_id": alert_id,
                "idempotency_key": key,
                "order": order_as_dict(order),
                "since": since.isoformat(),
                "answer": body,
            },
        )

    def settle(self, alert_id: str, deadline: Deadline) -> AlertResult | None:
        """Look the pending order up once; its final answer if the book settled it."""
        found = self.store.get(self._document(alert_id))
        if found is None:
            return None
        pending = found.data
        order = order_from_dict(pending["order"])
        since = datetime.fromisoformat(pending["since"])
        answer = dict(pending["answer"])
        try:
            placed = self.placer.look_up(order, since, deadline)
        except OrderRejected as rejected:
            body = {**answer, "status": "rejected", "message": rejected.message}
            if rejected.details.get("slices"):
                body["slices"] = rejected.details["slices"]
            return self._finish(found, pending, AlertResult(Outcome.REJECTED, body))
        except BrokerUnavailable:
            return None
        if placed is not None:
            message = "found in the order book after the outcome was unknown"
            body = {**answer, "status": "placed", "order_id": placed.order_id, "message": message}
            if placed.slices:
                # A sliced order: every slice as the book shows it; some rejected is "partial" (422).
                body["slices"] = [s.as_dict() for s in placed.slices]
                body["message"] = f"{message}: {placed.message}"
                if placed.partly_rejected:
                    body["status"] = "partial"
                    return self._finish(found, pending, AlertResult(Outcome.RECONCILED_PARTIAL, body))
            return self._finish(found, pending, AlertResult(Outcome.RECONCILED, body))
        if (self.clock.now() - since).total_seconds() > GIVE_UP_AFTER:
            message = "the order never reached the order book; it was not sent again"
            body = {**answer, "status": "not_placed", "message": message}
            return self._finish(found, pending, AlertResult(Outcome.NOT_PLACED, body))
        return None

    def sent(self, alert_id: str, placed: PlacedOrder) -> AlertResult | None:
        """A pending order that waited for a rate-limit slot, now placed: settled without a look-up."""
        found = self.store.get(self._document(alert_id))
        if found is None:
            return None
        message = "sent once Fyers's rate limit had a slot"
        body = {**found.data["answer"], "status": "placed", "order_id": placed.order_id, "message": message}
        body.pop("waiting_for_rate_limit", None)
        outcome = Outcome.RECONCILED
        if placed.slices:
            body["slices"] = [s.as_dict() for s in placed.slices]
            if placed.partly_rejected:
                body["status"], outcome = "partial", Outcome.RECONCILED_PARTIAL
        return self._finish(found, found.data, AlertResult(outcome, body))

    def unsent(self, alert_id: str, error: BridgeError, behind: bool = False) -> AlertResult | None:
        """A pending order that waited for a rate-limit slot and was not placed: say why, for good."""
        found = self.store.get(self._document(alert_id))
        if found is None:
            return None
        if isinstance(error, OrderRejected):
            body = {**found.data["answer"], "status": "rejected", "message": error.message}
            return self._finish(found, found.data, AlertResult(Outcome.REJECTED, body))
        why = "an order before it in this alert was not placed" if behind else error.message
        body = {**found.data["answer"], "status": "not_placed", "message": f"not sent: {why}"}
        body.pop("waiting_for_rate_limit", None)
        return self._finish(found, found.data, AlertResult(Outcome.NOT_PLACED, body))

    def pending(self) -> list[dict[str, Any]]:
        """Every order still pending: sent, its answer lost, waiting for the book to settle it."""
        found = (self.store.get(key) for key in self.store.list("pending/"))
        return [item.data for item in found if item is not None]

    def settle_all(self, deadline: Deadline) -> list[dict[str, Any]]:
        """Settle every pending order the deadline leaves time for."""
        results = []
        for document in self.store.list("pending/"):
            if deadline.remaining() < 0.5:
                break
            alert_id = document.rsplit("/", 1)[-1].removesuffix(".json")
            settled = self.settle(alert_id, deadline)
            results.append(
                {"alert_id": alert_id, "status": settled.body["status"] if settled else "pending"}
            )
        return results

    def _finish(self, found, pending: dict[str, Any], settled: AlertResult) -> AlertResult:
        if pending.get("idempotency_key"):
            self.ledger.amend(pending["idempotency_key"], settled)
        if self.store.delete(self._document(pending["alert_id"]), found.generation):
            body = settled.body
            self.journal.record(
                AlertRecord(
                    pending["alert_id"],
                    outcome=settled.outcome,
                    status=answer_for(settled).status,
                    idempotency_key=pending.get("idempotency_key"),
                    broker={
                        "order_id": body.get("order_id"),
                        "message": body.get("message"),
                        **({"slices": body["slices"]} if body.get("slices") else {}),
                    },
                )
            )
            log_event(
                log, logging.INFO, f"order_{settled.outcome}", f"pending order settled: {settled.outcome}",
                alert_id=pending["alert_id"],
            )
        return settled

    @staticmethod
    def _document(alert_id: str) -> str:
        return f"pending/{alert_id}.json"
