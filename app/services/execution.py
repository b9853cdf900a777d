"""Execution of a planned alert: each order (or CO/BO exit) placed once under its key, and one answer for all."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any

from app.deadline import Deadline
from app.domain.alert import AlertMessage
from app.domain.errors import BridgeError, OrderOutcomeUnknown, PacedOut, RiskRefused
from app.domain.orders import OrderRequest
from app.services.controls import Reservation, TradingControls
from app.services.funding import Funding
from app.services.idempotency import Claim, IdempotencyLedger, Replay
from app.services.placement import OrderPlacer
from app.services.planning import OrderPlanner, PlannedOrder
from app.services.reconcile import Reconciler
from app.services.record import AlertRecord, AlertResult, Outcome
from app.services.rendering import combined, decision, exit_decision, leg_summary, order_body
from app.services.trades import TradeDesk

# A leg that counts against MAX_ORDERS_PER_DAY: an order the broker holds (a part-rejected
# sliced order gives its reservation back).
_COUNTED = frozenset({Outcome.PLACED, Outcome.PENDING, Outcome.CLOSED})


@dataclass(frozen=True)
class Execution:
    """Plans an alert's orders and places them, each at most once; answers for one or for all legs."""

    planner: OrderPlanner
    ledger: IdempotencyLedger
    placer: OrderPlacer
    reconciler: Reconciler
    controls: TradingControls
    trades: TradeDesk  # follows each entry after its order: fills, protection, exits
    funding: Funding  # refuses entries the account cannot fund (MARGIN_CHECK); a dry run is not asked
    rate_wait_seconds: float = 10.0  # how long past the answer an order may wait for a rate slot

    def prepare(self, message: AlertMessage) -> Reservation | None:
        """Start, alongside the claim, what the entry gates need: the kill switch, the day's reservation."""
        entries = _entries(message)
        if not entries:
            return None  # exits pass every gate
        self.controls.refresh_switch()
        limit = self.planner.rules.max_orders_per_day
        return self.controls.reserve(entries, limit) if limit is not None else None

    def rehearse(self, message: AlertMessage, alert_id: str, deadline: Deadline) -> AlertResult:
        """A dry run: every order planned and priced as if live; nothing claimed, counted or sent."""
        limit = self.planner.rules.max_orders_per_day
        entries = _entries(message)
        if limit is not None and entries and not self.controls.within_limit(entries, limit):
            raise RiskRefused("MAX_ORDERS_PER_DAY", f"MAX_ORDERS_PER_DAY={limit} reached for today")
        plan = self.planner.plan(message, deadline)
        orders = []
        for index, planned in enumerate(plan.orders):
            request = self._request(planned, f"dry-run#{index}", message.strategy)
            status = "would_exit" if planned.exits_by_broker else "would_place"
            orders.append(order_body(planned, request, None, status, ""))
        body = {
            "status": "dry_run",
            "alert_id": alert_id,
            "orders": orders,
            "message": f"dry run: {len(orders)} order(s) would be placed; nothing was sent",
        }
        if plan.nothing_to_close:
            body["nothing_to_close"] = plan.nothing_to_close
        return AlertResult(Outcome.DRY_RUN, body)

    def run(
        self,
        message: AlertMessage,
        alert_id: str,
        deadline: Deadline,
        record: AlertRecord,
        claim: Claim,
        amo: bool = False,
        reservation: Reservation | None = None,
    ) -> AlertResult:
        """Plan, check the day's reservation, place every order; refusals before any order are errors."""
        limit = self.planner.rules.max_orders_per_day
        if reservation is not None and not reservation.granted():
            raise RiskRefused("MAX_ORDERS_PER_DAY", f"MAX_ORDERS_PER_DAY={limit} reached for today")
        plan = self.funding.check(self.planner.plan(message, deadline), deadline, record.warnings)
        if not plan.orders:
            body = {
                "status": "nothing_to_close",
                "alert_id": alert_id,
                "message": plan.nothing_message,
                "orders": [],
            }
            return AlertResult(Outcome.NOTHING_TO_CLOSE, body)
        single = len(plan.orders) == 1 and not message.multi_leg
        legs = _Legs(single, message, alert_id, deadline, record, claim, amo)
        results, failure, counted = self._place_all(plan.orders, legs)
        # After the order, beside the count's write: the next alert's gate finds the switch fresh.
        # Waited for below, so no read outlives the answer (Cloud Run throttles the CPU then).
        self.controls.refresh_switch(ahead=True)
        if reservation is not None:
            reservation.keep(counted)  # the rest is given back when the alert closes
        elif limit is None and counted:
            # No limit to reserve against: count what was placed, after the orders left, so
            # "orders today" means the same with or without MAX_ORDERS_PER_DAY.
            self.controls.count_orders(counted)
        self.controls.finish_reads(deadline.remaining())
        self.trades.filed(legs.filings, deadline.remaining())
        then = partial(self._send_deferred, legs.deferred) if legs.deferred else None
        if not single:
            return replace(combined(results, failure, alert_id), then=then)
        if failure is not None:
            raise failure
        return AlertResult(Outcome(results[0]["status"]), results[0], then=then)

    def _place_all(
        self, orders: list[PlannedOrder], legs: _Legs
    ) -> tuple[list[dict[str, Any]], BridgeError | None, int]:
        """Each order in turn until one fails: the answers, the failure, and how many entries count."""
        results: list[dict[str, Any]] = []
        counted = 0
        for index, planned in enumerate(orders):
            try:
                body = self._place(planned, index, legs)
            except BridgeError as error:
                failed = {"status": "failed", "error": error.code, "message": error.message}
                results.append({**leg_summary(planned), **failed})
                results.extend({**leg_summary(rest), "status": "not_sent"} for rest in orders[index + 1 :])
                return results, error, counted
            results.append(body)
            if not planned.closing and body["status"] in _COUNTED:
                counted += 1
        return results, None, counted

    def _place(self, planned: PlannedOrder, index: int, legs: _Legs) -> dict[str, Any]:
        """Place one planned order under its own key (the alert's key for a single order)."""
        claim = legs.claim
        if not legs.single:
            claimed = self.ledger.claim(f"{claim.key}#{index}", legs.alert_id, ttl=claim.ttl)
            if isinstance(claimed, Replay):
                return claimed.body  # placed by an earlier send of this alert
            claim = claimed
        if planned.exits_by_broker:
            return self._exit_position(planned, legs, claim)
        # The tag names this claim of the key: a takeover derives the same one, and a key
        # claimed afresh after its TTL gets a new one.
        request = self._request(planned, f"{claim.key}@{claim.claimed_at}", legs.message.strategy, legs.amo)
        legs.record.decisions.append(decision(planned, request))
        legs.record.order_attempted = True
        since = datetime.fromtimestamp(claim.claimed_at, timezone.utc)
        if legs.deferred and not claim.taken_over:  # behind a deferred order: keep the legs' order
            return self._defer(planned, index, legs, claim, request, since)
        try:
            if claim.taken_over:
                legs.record.taken_over = True
                placed = self.placer.place_after_takeover(request, since, legs.deadline)
            else:
                placed = self.placer.place(request, legs.deadline)
        except PacedOut:
            if claim.taken_over:
                raise
            # Certainly not sent: no slot before the answer is due. It is answered 202 and sent
            # once a slot frees, in this same request (never re-sent, never lost).
            return self._defer(planned, index, legs, claim, request, since)
        except OrderOutcomeUnknown as unknown:
            body = order_body(planned, request, None, "pending", unknown.message, legs.alert_id)
            self._follow(planned, request, legs, body)
            pending_id = legs.alert_id if legs.single else f"{legs.alert_id}-{index}"
            self.reconciler.record(pending_id, claim.key, request, since, body)
            legs.record.broker_answer({"message": unknown.message})
            return self._leg_done(legs, claim, AlertResult(Outcome.PENDING, body))
        except BridgeError as error:
            if error.details.get("slices"):  # every slice rejected: the journal keeps each one
                legs.record.broker_answer({"message": error.message, "slices": error.details["slices"]})
            self._settle_failed_leg(legs, claim, error)
            raise
        status = Outcome.PARTIAL if placed.partly_rejected else Outcome.PLACED
        body = order_body(planned, request, placed.order_id, status.value, placed.message, legs.alert_id)
        self._follow(planned, request, legs, body)
        broker: dict[str, Any] = {"order_id": placed.order_id, "message": placed.message}
        if placed.slices:
            body["slices"] = broker["slices"] = [s.as_dict() for s in placed.slices]
        legs.record.broker_answer(broker)
        return self._leg_done(legs, claim, AlertResult(status, body))

    def _defer(
        self, planned: PlannedOrder, index: int, legs: _Legs, claim: Claim, request: OrderRequest, since: datetime
    ) -> dict[str, Any]:
        """Answer an order pending that waits for a rate-limit slot; it is sent after the answer."""
        message = (
            f"Fyers's rate limit leaves no slot before this alert's answer is due: the order waits for "
            f"the next slot (at most {self.rate_wait_seconds:g} s), is sent once, and is never re-sent"
        )
        body = order_body(planned, request, None, "pending", message, legs.alert_id)
        body["waiting_for_rate_limit"] = True
        self._follow(planned, request, legs, body)
        pending_id = legs.alert_id if legs.single else f"{legs.alert_id}-{index}"
        self.reconciler.record(pending_id, claim.key, request, since, body)
        legs.deferred.append((pending_id, request))
        legs.record.broker_answer({"message": "waiting for a rate-limit slot", "deferred": True})
        return self._leg_done(legs, claim, AlertResult(Outcome.PENDING, body))

    def _send_deferred(self, deferred: list[tuple[str, OrderRequest]]) -> None:
        """Send the orders that waited for a rate slot, in their order; each is settled as it goes."""
        deadline = Deadline(self.rate_wait_seconds)
        for position, (pending_id, request) in enumerate(deferred):
            try:
                placed = self.placer.place(replace(request, waiting=True), deadline)
            except OrderOutcomeUnknown:
                continue  # it may be at Fyers: the order book settles it (POST /reconcile, a resend)
            except BridgeError as error:
                # Not placed (refused, or still no slot): neither it nor the orders behind it go.
                self.reconciler.unsent(pending_id, error)
                for later_id, _ in deferred[position + 1 :]:
                    self.reconciler.unsent(later_id, error, behind=True)
                return
            self.reconciler.sent(pending_id, placed)

    def _exit_position(self, planned: PlannedOrder, legs: _Legs, claim: Claim) -> dict[str, Any]:
        """Close a CO/BO position with the broker's exit call: a plain opposite order would be refused."""
        legs.record.decisions.append(exit_decision(planned))
        legs.record.order_attempted = True
        try:
            result = self.placer.close_position(planned.position, legs.deadline)
        except BridgeError as error:
            self._settle_failed_leg(legs, claim, error)
            raise
        body = order_body(planned, None, None, result.status, result.message, legs.alert_id)
        if result.status != "nothing_to_close":  # the strategy's book no longer holds it
            self._follow(planned, self._request(planned, f"{claim.key}@{claim.claimed_at}", legs.message.strategy),
                         legs, body)
        position_id = planned.position.position_id
        legs.record.broker_answer({"exit_position": position_id, "status": result.status, "message": result.message})
        return self._leg_done(legs, claim, AlertResult(Outcome(result.status), body))

    def _follow(self, planned: PlannedOrder, request: OrderRequest, legs: _Legs, body: dict[str, Any]) -> None:
        """An order that stands (or may): a strategy's goes in its book; an entry is filed to be followed."""
        strategy, underlying = legs.message.strategy, planned.alert.underlying
        filing = self.trades.file(legs.alert_id, strategy, request, planned.exits, underlying)
        if filing is not None:
            legs.filings.append(filing)
        if planned.closing:
            return
        protection = self.trades.summary(request, planned.exits)
        body["protection"] = protection
        legs.record.decisions[-1]["protection"] = protection["mode"]

    def _leg_done(self, legs: _Legs, claim: Claim, result: AlertResult) -> dict[str, Any]:
        """A leg of several keeps its own answer under its key; a single order is settled with the alert."""
        if not legs.single:
            self.ledger.keep(claim, result)
        return result.body

    def _settle_failed_leg(self, legs: _Legs, claim: Claim, error: BridgeError) -> None:
        """A leg of several settles its own key on failure; a single order's key is settled with the alert."""
        if not legs.single:
            self.ledger.settle(claim, AlertResult.refused(error), legs.record.order_attempted)

    def _request(self, planned: PlannedOrder, tag_seed: str, strategy: str | None, amo: bool = False) -> OrderRequest:
        return planned.request(
            tag_seed, strategy, self.planner.rules.protection == "legs", self.planner.freeze_qty(planned), amo
        )


@dataclass(frozen=True)
class _Legs:
    """What every order of one alert shares while it is placed."""

    single: bool
    message: AlertMessage
    alert_id: str
    deadline: Deadline
    record: AlertRecord
    claim: Claim  # the alert's own claim; each leg of several claims `<key>#<index>`
    amo: bool
    deferred: list[tuple[str, OrderRequest]] = field(default_factory=list)  # (pending id, order) waiting for a slot
    filings: list[Future] = field(default_factory=list)  # trades being filed to be followed, waited for


def _entries(message: AlertMessage) -> int:
    """The legs that may open a position: those the daily limit counts and the kill switch stops."""
    return sum(1 for leg in message.legs if leg.action != "EXIT")
