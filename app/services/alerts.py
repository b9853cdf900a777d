"""The alert use case: from a TradingView alert body to its orders, each placed at most once, and an outcome.

Intake reads and trusts the body (intake.py), the ledger makes it exactly once (idempotency.py),
Execution places the orders (execution.py); this module runs them in order, and keeps one
journal record per alert. It returns an `AlertResult`; app/answers.py turns it into HTTP.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace

from app.answers import Answer, answer_for
from app.deadline import Deadline
from app.domain.alert import AlertMessage
from app.domain.errors import BridgeError, MarketClosed, StaleAlert
from app.logs import add_log_context
from app.services.execution import Execution
from app.services.idempotency import Claim, IdempotencyLedger, Replay
from app.services.intake import AlertRules, Intake, body_key, without_secret
from app.services.journal import Journal
from app.services.market import MarketGate
from app.services.queue import AlertQueue, TakenEntry
from app.services.reconcile import Reconciler
from app.services.record import AlertRecord, AlertResult, Outcome
from app.services.rendering import paper_answer
from app.services.reporting import AlertReporter

log = logging.getLogger(__name__)

ANSWER_WITHIN = 2.8  # seconds in the service: TradingView cancels at 3
NOTIFY_ALLOWANCE = 0.3  # seconds past the broker budget that notifications may use
QUEUE_NOTIFY_SECONDS = 1.0  # a queued alert's end: nobody waits on the answer, one channel call's time


@dataclass
class _Alert:
    """One alert in progress: its record, its deadline, and the claim once its key is ours."""

    record: AlertRecord
    deadline: Deadline
    claim: Claim | None = None


@dataclass
class AlertService:
    """Authenticates, validates, de-duplicates, plans and places the orders of one alert."""

    rules: AlertRules
    intake: Intake
    execution: Execution
    ledger: IdempotencyLedger
    journal: Journal
    reconciler: Reconciler
    market: MarketGate
    queue: AlertQueue
    reporter: AlertReporter = field(default_factory=lambda: AlertReporter(None))
    paper: bool = False  # a paper broker: every answer says so (rendering.paper_answer)

    def execute(
        self,
        raw_body: bytes,
        header_key: str | None = None,
        signature: str | None = None,
        dry_run: bool = False,
        source: str = "",
        authenticated: bool = False,
    ) -> AlertResult:
        """Run one alert end to end; `source` is the sender's address, `authenticated` an admin caller's (no secret)."""
        started = time.monotonic()
        # Notifications may use what is left of TradingView's window after the broker work.
        answer_by = Deadline(min(ANSWER_WITHIN, self.rules.deadline_seconds + NOTIFY_ALLOWANCE))
        alert_id = uuid.uuid4().hex[:16]
        add_log_context(alert_id=alert_id)
        alert = _Alert(AlertRecord(alert_id, body_bytes=len(raw_body)), Deadline(self.rules.deadline_seconds))
        try:
            result = self._run(alert, raw_body, header_key, signature, dry_run, authenticated)
        except BridgeError as error:
            result = AlertResult.refused(error, alert_id=alert_id)
            if alert.record.alert is None:  # refused before its secret was accepted: junk until proven otherwise
                # No journal record and no line of its own: a flood of these must not bury the real alerts.
                self.reporter.unauthenticated(source, error.http_status, error.message)
                return result
        except Exception:
            log.exception("alert failed unexpectedly", extra={"event": "order_failed"})
            result = _internal_error(alert_id)
        if alert.record.warnings and not result.replayed:  # e.g. an age that could not be checked
            result = replace(result, body={**result.body, "warnings": alert.record.warnings})
        alert.record.latency_ms = round((time.monotonic() - started) * 1000, 1)
        answered = self._marked(result)
        self._close(alert, answered)
        self.reporter.report(alert.record, result, answer_by)  # the notification's own prefix says PAPER
        return answered

    def _run(
        self,
        alert: _Alert,
        raw_body: bytes,
        header_key: str | None,
        signature: str | None,
        dry_run: bool,
        authenticated: bool = False,
    ) -> AlertResult:
        """Read, claim, apply the market policy, execute; a refusal on the way is an error."""
        record = alert.record
        payload, message = self.intake.read(raw_body, header_key, signature, record, authenticated)
        self.reporter.received(record.body_bytes)
        if dry_run or message.dry_run:
            record.dry_run = True
            return self.execution.rehearse(message, record.alert_id, alert.deadline)
        # The gates' reads and the day's reservation run alongside the claim, not after it.
        reservation = self.execution.prepare(message)
        try:
            claimed = self._claim(message, payload, record.alert_id)
            if isinstance(claimed, Replay):
                return self._replay(claimed, alert)
            alert.claim = claimed
            amo = self._market_policy(payload, record.alert_id, alert.deadline, claimed)
            if isinstance(amo, AlertResult):
                return amo
            return self.execution.run(
                message, record.alert_id, alert.deadline, record, claimed, amo=amo, reservation=reservation
            )
        finally:
            if reservation is not None:
                reservation.close(record.order_attempted)
            self.execution.controls.finish_reads(alert.deadline.remaining())

    def _claim(self, message: AlertMessage, payload: dict, alert_id: str) -> Claim | Replay:
        """Own the alert's key, or get the answer it had; the alert's journal record will complete the claim."""
        record = self.journal.key_for(alert_id)
        if message.idempotency_key is not None:
            return self.ledger.claim(message.idempotency_key, alert_id, record=record)
        # TradingView resends a failed alert unchanged: identical bodies within the window are one alert.
        return self.ledger.claim(body_key(payload), alert_id, ttl=self.rules.duplicate_window_seconds, record=record)

    def _close(self, alert: _Alert, result: AlertResult) -> Answer:
        """Journal the alert, then settle its key; the answer the caller gets."""
        answer = answer_for(result)
        record = alert.record
        if not result.replayed:  # a replay's record says so; its result says what the answer is
            record.outcome = result.outcome
        record.status = answer.status
        if result.error is not None:  # the console shows the reason; the sender may never see the answer
            record.message = result.error.message
        # A final answer completes the claim in the same write as the journal record. Otherwise
        # the journal first: if the process dies between the two, the claim is still in flight
        # and its takeover finds the order; the other way round, the order would be answered on
        # every resend but named in no journal record.
        claim = alert.claim
        stored = self.ledger.record_answer(claim, result) if claim is not None else None
        recorded = self.journal.record(record, claim.record if stored else None, stored)
        if claim is not None:
            self.ledger.settle(claim, result, record.order_attempted, recorded=recorded and stored is not None)
        return answer

    def _marked(self, result: AlertResult) -> AlertResult:
        """The result as answered: on a paper broker, its body says PAPER (and the ledger keeps that)."""
        return replace(result, body=paper_answer(result.body)) if self.paper else result

    def _replay(self, stored: Replay, alert: _Alert) -> AlertResult:
        """The stored answer; a pending one is first checked against the order book."""
        body = stored.body
        alert.record.outcome = Outcome.REPLAYED
        alert.record.replayed = {
            "status": stored.status,
            "alert_id": body.get("alert_id"),
            "order_ids": _order_ids(body),
        }
        if stored.status == 202 and body.get("alert_id") and "legs" not in body:
            settled = self.reconciler.settle(body["alert_id"], alert.deadline)
            if settled is not None:
                alert.record.outcome = Outcome.REPLAYED_SETTLED
                return replace(settled, replayed=True)
        return AlertResult(Outcome.REPLAYED, body, stored_status=stored.status, replayed=True)

    def _market_policy(self, payload: dict, alert_id: str, deadline: Deadline, claim: Claim) -> bool | AlertResult:
        """False when the market is open; True for an AMO; queued (202) under the queue policy; else refuse."""
        state = self.market.state(deadline)
        if state.open:
            return False
        policy = self.rules.market_closed_policy
        if policy == "amo":
            if state.amo_window:
                return True
            raise MarketClosed(f"{state.reason}, and outside Fyers's after-market (AMO) window")
        if policy == "queue":
            entry = self.queue.add(without_secret(payload), claim.key, alert_id, state.reason)
            runs_at = state.next_open.isoformat() if state.next_open else None
            body = {
                "status": "queued",
                "alert_id": alert_id,
                "queue_id": entry["id"],
                "runs_at": runs_at,
                "message": f"{state.reason}; queued for the next open ({runs_at})",
            }
            return AlertResult(Outcome.QUEUED, body)
        raise MarketClosed(state.reason)

    def run_queued(self, taken: TakenEntry, deadline: Deadline) -> AlertResult:
        """Run a taken queue entry through the live path; end it, or put it back when unsettled."""
        queued = taken.entry
        alert_id = queued["alert_id"]
        record = AlertRecord(alert_id, queue_id=queued["id"], from_queue=True, attempt=queued["attempts"])
        alert = _Alert(record, deadline)
        try:
            if self.queue.expired(queued):
                message = "the queued alert passed its age limit (QUEUE_MAX_AGE_SECONDS)"
                raise StaleAlert(message, rule="QUEUE_MAX_AGE_SECONDS")
            message = self.intake.message(queued["payload"])
            # One key per entry, whatever drain runs it: a worker that died holding it leaves
            # the claim in flight, and the next run's takeover asks the order book.
            claimed = self.ledger.claim(f"queue:{queued['id']}", alert_id, record=self.journal.key_for(alert_id))
            if isinstance(claimed, Replay):  # run before; only the entry was left
                result = AlertResult(Outcome.REPLAYED, claimed.body, stored_status=claimed.status)
            else:
                alert.claim = claimed
                reservation = self.execution.prepare(message)
                try:
                    result = self.execution.run(message, alert_id, deadline, record, claimed, reservation=reservation)
                finally:
                    if reservation is not None:
                        reservation.close(record.order_attempted)
        except BridgeError as error:
            result = AlertResult.refused(error, alert_id=alert_id)
        except Exception:
            log.exception("queued alert failed unexpectedly", extra={"event": "order_failed"})
            result = _internal_error(alert_id)
        result = self._marked(result)
        answer = self._close(alert, result)  # the journal first, as for a live alert
        self._end_queued(taken, result, answer)
        if result.then is not None:  # orders that waited for a rate slot: the drain is a request too
            result.then()
        return result

    def _end_queued(self, taken: TakenEntry, result: AlertResult, answer: Answer) -> None:
        """End the entry by its answer and tell the trader, or put it back for a later drain."""
        end = _queue_end(answer)
        reason = f"{answer.body.get('status')}: {answer.body.get('message', '')}".rstrip(": ")
        if end is None:
            self.queue.put_back(taken, reason)
            return
        ended = self.queue.end(taken, end, reason, answer.body)
        if ended is not None:  # else a drain took it over from us, and its run settles it
            self.ledger.amend(taken.entry["idempotency_key"], result)
            self.reporter.queue_ended(ended, Deadline(QUEUE_NOTIFY_SECONDS))

    def cancel_queued(self, entry_id: str) -> dict | None:
        """Cancel a queued alert (DELETE /queue/<id>) and notify; None if it is not queued."""
        ended = self.queue.cancel(entry_id)
        if ended is not None:
            # A resend of the original alert now hears that it was cancelled, not "queued".
            body = {"status": "cancelled", "alert_id": ended["alert_id"], "queue_id": entry_id,
                    "message": "the queued alert was cancelled; no order was placed"}
            self.ledger.amend(ended["idempotency_key"], AlertResult(Outcome.CANCELLED, body))
            self.reporter.queue_ended(ended, Deadline(QUEUE_NOTIFY_SECONDS))
        return ended


def _order_ids(body: dict) -> list[str]:
    """The orders a stored answer names: its own, or each leg's."""
    named = [body.get("order_id"), *(leg.get("order_id") for leg in body.get("legs") or [])]
    return [order_id for order_id in named if order_id]


def _internal_error(alert_id: str) -> AlertResult:
    """An unexpected failure: nothing is said of what happened but the alert's id."""
    return AlertResult(Outcome.INTERNAL_ERROR, {"status": "error", "alert_id": alert_id})


def _queue_end(answer: Answer) -> str | None:
    """How a queued alert's run ends its entry; None when a later drain could still do better."""
    if answer.body.get("rule") == "QUEUE_MAX_AGE_SECONDS":
        return "expired"
    if answer.status in (200, 202):
        # 202 is an order sent whose answer was lost: the reconciler settles it from the book.
        return "failed" if answer.body.get("status") == "nothing_to_close" else "placed"
    if answer.body.get("status") == "partial":
        # Some orders (or slices) stand: the entry ran, and the reason says which stand.
        return "placed"
    if answer.status == 409 or answer.status >= 500:
        # In flight elsewhere, Fyers down or no login, or a crash: nothing was settled.
        return None
    return "failed"  # refused (400/422): no resend would help
