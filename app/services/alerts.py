"""execute_alert: from a TradingView alert body to its orders, each placed at most once, and an answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from app.answers import Answer, error_answer
from app.deadline import Deadline
from app.domain.alert import AlertMessage, parse_message, shown
from app.domain.errors import (
    BridgeError,
    InvalidAlert,
    OrderOutcomeUnknown,
    MarketClosed,
    RiskRefused,
    StaleAlert,
    Unauthorized,
)
from app.domain.orders import OrderRequest
from app.logs import add_log_context
from app.security import same_secret
from app.ports import Clock
from app.services.controls import TradingControls
from app.services.idempotency import Claim, IdempotencyLedger, Replay
from app.services.journal import Journal
from app.services.market import MarketGate
from app.services.queue import AlertQueue, TakenEntry
from app.services.placement import OrderPlacer
from app.services.planning import OrderPlanner, PlannedOrder
from app.services.reconcile import Reconciler
from app.services.reporting import AlertReporter

log = logging.getLogger(__name__)

_JOURNAL_PAYLOAD_LIMIT = 4096  # bytes of the alert kept in its journal record
_JOURNAL_VALUE_LIMIT = 512  # bytes of one field's value kept when the whole alert is over the limit
# A token/secret value in a body that is not JSON, whatever the quoting: starred in an excerpt.
_SECRET_VALUE = re.compile(
    r"""(["']?(?:token|secret)["']?\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^,}\s]*)""", re.IGNORECASE
)
ANSWER_WITHIN = 2.8  # seconds in the service: TradingView cancels at 3
NOTIFY_ALLOWANCE = 0.3  # seconds past the broker budget that notifications may use
_SECRET_FIELDS = ("token", "secret")
# An order's status -> HTTP code when it is not 200. "partial": a sliced order some of whose
# slices Fyers rejected. Not 200 (the order is not what was asked) and not 5xx (a resend would
# place the standing slices again): 422 like a partly placed multi-leg alert, stored as final.
_ANSWER_CODES = {"pending": 202, "partial": 422}
MAX_JSON_DEPTH = 16  # an alert with legs nests 3 deep; anything far deeper is hostile
QUEUE_NOTIFY_SECONDS = 1.0  # a queued alert's end: nobody waits on the answer, one channel call's time


@dataclass(frozen=True)
class AlertRules:
    """The settings that shape how an alert is accepted."""

    webhook_secret: str
    default_product_type: str
    deadline_seconds: float
    duplicate_window_seconds: int = 60
    hmac_secret: str | None = None
    exact_strikes: bool = True
    market_closed_policy: str = "reject"  # reject, amo or queue
    max_alert_age_seconds: int | None = None


class AlertService:
    """Authenticates, validates, de-duplicates, plans and places the orders of one alert."""

    def __init__(
        self,
        rules: AlertRules,
        planner: OrderPlanner,
        ledger: IdempotencyLedger,
        journal: Journal,
        clock: Clock,
        placer: OrderPlacer,
        reconciler: Reconciler,
        controls: TradingControls,
        market: MarketGate,
        queue: AlertQueue,
        reporter: AlertReporter | None = None,
    ):
        self.rules = rules
        self.planner = planner
        self.ledger = ledger
        self.journal = journal
        self.clock = clock
        self.placer = placer
        self.reconciler = reconciler
        self.controls = controls
        self.market = market
        self.queue = queue
        self.reporter = reporter or AlertReporter(None)

    def execute(
        self,
        raw_body: bytes,
        header_key: str | None = None,
        signature: str | None = None,
        dry_run: bool = False,
    ) -> Answer:
        """Run one alert end to end and return the answer for the caller."""
        started = time.monotonic()
        deadline = Deadline(self.rules.deadline_seconds)
        # Notifications may use what is left of TradingView's window after the broker work.
        answer_by = Deadline(min(ANSWER_WITHIN, self.rules.deadline_seconds + NOTIFY_ALLOWANCE))
        alert_id = uuid.uuid4().hex[:16]
        add_log_context(alert_id=alert_id)
        self.reporter.received(len(raw_body))
        entry: dict[str, Any] = {"alert_id": alert_id, "body_bytes": len(raw_body)}
        claim: Claim | None = None
        answer: Answer | None = None
        try:
            payload = _decode(raw_body, (self.rules.webhook_secret, self.rules.hmac_secret))
            self._authenticate(payload, raw_body, signature)
            entry["alert"] = _journal_payload(payload)
            message = parse_message(
                payload,
                default_product_type=self.rules.default_product_type,
                header_key=header_key,
                exact_strikes=self.rules.exact_strikes,
            )
            entry["idempotency_key"] = message.idempotency_key
            entry["strategy"] = message.strategy
            add_log_context(idempotency_key=message.idempotency_key)
            self._check_age(payload)
            if dry_run or message.dry_run:
                entry["dry_run"] = True
                answer = self._dry_run(message, alert_id, deadline, entry)
                return answer
            if message.idempotency_key is not None:
                claimed = self.ledger.claim(message.idempotency_key, alert_id)
            else:
                # TradingView resends a failed alert unchanged: identical bodies within the
                # window are one alert.
                claimed = self.ledger.claim(
                    _body_key(payload), alert_id, ttl=self.rules.duplicate_window_seconds
                )
            if isinstance(claimed, Replay):
                answer = self._replay(claimed, deadline, entry)
                return answer
            claim = claimed
            amo = self._market_policy(payload, alert_id, deadline, claim)
            if isinstance(amo, Answer):
                answer = amo
                entry["outcome"] = "queued"
                return answer
            answer = self._execute(message, alert_id, deadline, entry, claim, amo=amo)
        except BridgeError as error:
            answer = error_answer(error, alert_id=alert_id)
            entry["outcome"] = error.code
        except Exception:
            log.exception("alert failed unexpectedly", extra={"event": "order_failed"})
            answer = Answer(500, {"status": "error", "alert_id": alert_id})
            entry["outcome"] = "internal_error"
        finally:
            entry["status"] = answer.status
            entry["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
            # The journal first: if the process dies between the two, the claim is still in
            # flight and its takeover finds the order; the other way round, the order would be
            # answered on every resend but named in no journal record.
            self.journal.record(entry)
            if claim is not None:
                self._settle(claim, answer, entry)
            self.reporter.report(entry, answer, answer_by)
        return answer

    def _replay(self, stored: Replay, deadline: Deadline, entry: dict[str, Any]) -> Answer:
        """The stored answer; a pending one is first checked against the order book."""
        entry["outcome"] = "replayed"
        entry["replayed"] = {
            "status": stored.status,
            "alert_id": stored.body.get("alert_id"),
            "order_ids": [o for o in [stored.body.get("order_id")] + [leg.get("order_id") for leg in stored.body.get("legs") or []] if o],
        }
        if stored.status == 202 and stored.body.get("alert_id") and "legs" not in stored.body:
            settled = self.reconciler.settle(stored.body["alert_id"], deadline)
            if settled is not None:
                entry["outcome"] = "replayed_settled"
                return Answer(settled.status, settled.body, {"Idempotent-Replayed": "true"})
        return Answer(stored.status, stored.body, {"Idempotent-Replayed": "true"})

    def _authenticate(self, payload: dict[str, Any], raw_body: bytes, signature: str | None) -> None:
        """The body's secret, or (for senders that can sign) an HMAC of the raw body."""
        if signature is not None and self.rules.hmac_secret:
            expected = "sha256=" + hmac.new(
                self.rules.hmac_secret.encode("utf-8"), raw_body, hashlib.sha256
            ).hexdigest()
            if not same_secret(signature.strip(), expected):
                raise Unauthorized("the X-Signature does not match the body")
            return
        token = payload.get("token", payload.get("secret"))
        if not isinstance(token, str) or not same_secret(token, self.rules.webhook_secret):
            raise Unauthorized("missing or wrong token")

    def _dry_run(self, message: AlertMessage, alert_id: str, deadline: Deadline, entry: dict) -> Answer:
        """Everything a live alert does except claim, count and place."""
        plan = self.planner.plan(message, deadline)
        orders = []
        for index, planned in enumerate(plan.orders):
            request = planned.request(
                f"dry-run#{index}", message.strategy, self.planner.rules.attach_sl_tp, self.planner.freeze_qty(planned)
            )
            status = "would_exit" if planned.exits_by_broker else "would_place"
            orders.append(_order_body(planned, request, None, status, ""))
        entry["outcome"] = "dry_run"
        body = {
            "status": "dry_run",
            "alert_id": alert_id,
            "orders": orders,
            "message": f"dry run: {len(orders)} order(s) would be placed; nothing was sent",
        }
        if plan.nothing_to_close:
            body["nothing_to_close"] = plan.nothing_to_close
        return Answer(200, body)

    def _check_age(self, payload: dict[str, Any]) -> None:
        """Refuse an alert whose own TradingView timestamp is too old (MAX_ALERT_AGE_SECONDS)."""
        limit = self.rules.max_alert_age_seconds
        name = "timenow" if "timenow" in payload else "time" if "time" in payload else None
        if limit is None or name is None:
            return
        value = payload[name]
        try:
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidAlert(
                name, f"{name} must be an ISO time such as 2026-11-20T09:20:00Z, got {shown(value)}"
            ) from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)  # TradingView's stamps are UTC
        age = (self.clock.now() - stamp).total_seconds()
        if age > limit:
            raise StaleAlert(
                f"the alert is {age:.0f} s old ({name} {value}); MAX_ALERT_AGE_SECONDS is {limit}",
                rule="MAX_ALERT_AGE_SECONDS",
            )

    def _market_policy(
        self, payload: dict[str, Any], alert_id: str, deadline: Deadline, claim: Claim
    ) -> bool | Answer:
        """False when the market is open; True for an AMO; a 202 once queued; else refuse."""
        state = self.market.state(deadline)
        if state.open:
            return False
        policy = self.rules.market_closed_policy
        if policy == "amo":
            if state.amo_window:
                return True
            raise MarketClosed(f"{state.reason}, and outside Fyers's after-market (AMO) window")
        if policy == "queue":
            kept = {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}
            entry = self.queue.add(kept, claim.key, alert_id, state.reason)
            runs_at = state.next_open.isoformat() if state.next_open else None
            return Answer(
                202,
                {
                    "status": "queued",
                    "alert_id": alert_id,
                    "queue_id": entry["id"],
                    "runs_at": runs_at,
                    "message": f"{state.reason}; queued for the next open ({runs_at})",
                },
            )
        raise MarketClosed(state.reason)

    def run_queued(self, taken: TakenEntry, deadline: Deadline) -> Answer:
        """Run a taken queue entry through the live path; end it, or put it back when unsettled."""
        entry = taken.entry
        alert_id = entry["alert_id"]
        journal: dict[str, Any] = {
            "alert_id": alert_id, "queue_id": entry["id"], "from_queue": True, "attempt": entry["attempts"],
        }
        answer = Answer(500, {"status": "error", "alert_id": alert_id})
        claim: Claim | None = None
        try:
            if self.queue.expired(entry):
                raise StaleAlert("the queued alert passed its age limit (QUEUE_MAX_AGE_SECONDS)", rule="QUEUE_MAX_AGE_SECONDS")
            message = parse_message(
                entry["payload"],
                default_product_type=self.rules.default_product_type,
                exact_strikes=self.rules.exact_strikes,
            )
            # One key per entry, whatever drain runs it: a worker that died holding it leaves
            # the claim in flight, and the next run's takeover asks the order book.
            claimed = self.ledger.claim(f"queue:{entry['id']}", alert_id)
            if isinstance(claimed, Replay):
                answer = Answer(claimed.status, claimed.body)  # run before; only the entry was left
                journal["outcome"] = "replayed"
            else:
                claim = claimed
                answer = self._execute(message, alert_id, deadline, journal, claim)
        except BridgeError as error:
            answer = error_answer(error, alert_id=alert_id)
            journal["outcome"] = error.code
        except Exception:
            log.exception("queued alert failed unexpectedly", extra={"event": "order_failed"})
            journal["outcome"] = "internal_error"
        journal["status"] = answer.status
        self.journal.record(journal)  # first, as for a live alert: see execute
        if claim is not None:
            self._settle(claim, answer, journal)
        end = _queue_end(answer)
        reason = f"{answer.body.get('status')}: {answer.body.get('message', '')}".rstrip(": ")
        if end is None:
            self.queue.put_back(taken, reason)
            return answer
        ended = self.queue.end(taken, end, reason, answer.body)
        if ended is not None:  # else a drain took it over from us, and its run settles it
            self.ledger.amend(entry["idempotency_key"], answer.status, answer.body)
            self.reporter.queue_ended(ended, Deadline(QUEUE_NOTIFY_SECONDS))
        return answer

    def cancel_queued(self, entry_id: str) -> dict[str, Any] | None:
        """Cancel a queued alert (DELETE /queue/<id>) and notify; None if it is not queued."""
        ended = self.queue.cancel(entry_id)
        if ended is not None:
            # A resend of the original alert now hears that it was cancelled, not "queued".
            body = {"status": "cancelled", "alert_id": ended["alert_id"], "queue_id": entry_id,
                    "message": "the queued alert was cancelled; no order was placed"}
            self.ledger.amend(ended["idempotency_key"], 200, body)
            self.reporter.queue_ended(ended, Deadline(QUEUE_NOTIFY_SECONDS))
        return ended

    def _execute(
        self,
        message: AlertMessage,
        alert_id: str,
        deadline: Deadline,
        entry: dict,
        claim: Claim,
        amo: bool = False,
    ) -> Answer:
        plan = self.planner.plan(message, deadline)
        if not plan.orders:
            entry["outcome"] = "nothing_to_close"
            return Answer(
                200,
                {
                    "status": "nothing_to_close",
                    "alert_id": alert_id,
                    "message": "no open position to close in " + ", ".join(plan.nothing_to_close),
                    "orders": [],
                },
            )
        limit = self.planner.rules.max_orders_per_day
        reserved = plan.entries if limit is not None else 0
        if reserved and not self.controls.reserve_orders(reserved, limit):
            raise RiskRefused("MAX_ORDERS_PER_DAY", f"MAX_ORDERS_PER_DAY={limit} reached for today")
        single = len(plan.orders) == 1 and not message.multi_leg
        results: list[dict[str, Any]] = []
        failure: BridgeError | None = None
        placed_entries = 0
        for index, planned in enumerate(plan.orders):
            try:
                status, body = self._place(planned, index, single, message, alert_id, deadline, entry, claim, amo)
            except BridgeError as error:
                failure = error
                results.append({**_planned_summary(planned), "status": "failed", "error": error.code, "message": error.message})
                results.extend({**_planned_summary(rest), "status": "not_sent"} for rest in plan.orders[index + 1 :])
                break
            results.append(body)
            if not planned.closing and status in (200, 202):
                placed_entries += 1
        if reserved and placed_entries < reserved:
            self.controls.release_orders(reserved - placed_entries)
        if single:
            if failure is not None:
                raise failure
            body = results[0]
            entry["outcome"] = body["status"]
            return Answer(_ANSWER_CODES.get(body["status"], 200), body)
        return self._combined(results, failure, alert_id, entry)

    def _place(
        self,
        planned: PlannedOrder,
        index: int,
        single: bool,
        message: AlertMessage,
        alert_id: str,
        deadline: Deadline,
        entry: dict,
        parent: Claim,
        amo: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Place one planned order under its own key (the alert's key for a single order)."""
        claim = parent
        if not single:
            claimed = self.ledger.claim(f"{parent.key}#{index}", alert_id, ttl=parent.ttl)
            if isinstance(claimed, Replay):
                return claimed.status, claimed.body  # placed by an earlier send of this alert
            claim = claimed
        if planned.exits_by_broker:
            return self._exit_position(planned, single, alert_id, deadline, entry, claim)
        # The tag names this claim of the key: a takeover derives the same one, and a key
        # claimed afresh after its TTL gets a new one.
        request = planned.request(
            f"{claim.key}@{claim.claimed_at}",
            message.strategy,
            self.planner.rules.attach_sl_tp,
            self.planner.freeze_qty(planned),
            amo,
        )
        planned.order = request
        entry.setdefault("decisions", []).append(_decision(planned, request))
        entry["order_attempted"] = True
        since = datetime.fromtimestamp(claim.claimed_at, timezone.utc)
        try:
            if claim.taken_over:
                entry["taken_over"] = True
                placed = self.placer.place_after_takeover(request, since, deadline)
            else:
                placed = self.placer.place(request, deadline)
        except OrderOutcomeUnknown as unknown:
            body = _order_body(planned, request, None, "pending", unknown.message, alert_id)
            self.reconciler.record(alert_id if single else f"{alert_id}-{index}", claim.key, request, since, body)
            entry.setdefault("broker", []).append({"message": unknown.message})
            if not single:
                self.ledger.complete(claim, 202, body)
            return 202, body
        except BridgeError as error:
            if error.details.get("slices"):  # every slice rejected: the journal keeps each one
                entry.setdefault("broker", []).append({"message": error.message, "slices": error.details["slices"]})
            if not single:
                self._settle(claim, error_answer(error), entry)
            raise
        status = "partial" if placed.partly_rejected else "placed"
        body = _order_body(planned, request, placed.order_id, status, placed.message, alert_id)
        broker: dict[str, Any] = {"order_id": placed.order_id, "message": placed.message}
        if placed.slices:
            body["slices"] = broker["slices"] = [s.as_dict() for s in placed.slices]
        entry.setdefault("broker", []).append(broker)
        code = _ANSWER_CODES.get(status, 200)
        if not single:
            self.ledger.complete(claim, code, body)
        return code, body

    def _exit_position(
        self, planned: PlannedOrder, single: bool, alert_id: str, deadline: Deadline, entry: dict, claim: Claim
    ) -> tuple[int, dict[str, Any]]:
        """Close a CO/BO position with the broker's exit call: a plain opposite order would be refused."""
        position_id = planned.position.position_id
        entry.setdefault("decisions", []).append({**_planned_summary(planned), "exit_position": position_id, "closing": True})
        entry["order_attempted"] = True
        try:
            result = self.placer.close_position(planned.position, deadline)
        except BridgeError as error:
            if not single:
                self._settle(claim, error_answer(error), entry)
            raise
        body = _order_body(planned, None, None, result.status, result.message, alert_id)
        entry.setdefault("broker", []).append({"exit_position": position_id, "status": result.status, "message": result.message})
        code = 202 if result.status == "pending" else 200
        if not single:
            self.ledger.complete(claim, code, body)
        return code, body

    def _combined(
        self, results: list[dict[str, Any]], failure: BridgeError | None, alert_id: str, entry: dict
    ) -> Answer:
        """One answer for several orders: which stand, which failed, which were not sent."""
        standing = [r for r in results if r["status"] in ("placed", "pending", "closed", "partial")]
        if failure is None:
            statuses = {r["status"] for r in results}
            status = next((s for s in ("partial", "pending") if s in statuses), "placed")
            entry["outcome"] = status
            code = _ANSWER_CODES.get(status, 200)
            message = (
                f"{len(results)} order(s) stand, some only in part: see each leg's slices"
                if status == "partial"
                else f"{len(results)} order(s) {status}"
            )
        else:
            status = "partial" if standing else failure.code
            entry["outcome"] = "legs_partial" if standing else failure.code
            code = error_answer(failure).status
            message = (
                f"{len(standing)} of {len(results)} order(s) stand; then: {failure.message}"
                if standing
                else failure.message
            )
        return Answer(code, {"status": status, "alert_id": alert_id, "message": message, "legs": results})

    def _settle(self, claim: Claim, answer: Answer, entry: dict[str, Any]) -> None:
        """Keep final answers under the key; release it when a resend could do better."""
        final = answer.status in (200, 202, 422)
        # After an unexpected failure past the order call the order may exist:
        # keep the key claimed so that a resend cannot place a second one.
        may_exist = entry.get("order_attempted") and answer.status == 500
        try:
            if final:
                self.ledger.complete(claim, answer.status, answer.body)
            elif not may_exist:
                self.ledger.release(claim)
        except Exception:
            log.exception("idempotency ledger update failed", extra={"event": "ledger_error"})


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


def _planned_summary(planned: PlannedOrder) -> dict[str, Any]:
    return {
        "symbol": planned.symbol,
        "qty": planned.qty,
        "side": planned.side.name,
        "product_type": planned.product_type,
    }


def _order_body(
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
            "ltp": float(planned.ltp) if planned.ltp is not None else None,
            "sl": float(planned.exits.stop_loss) if planned.exits else None,
            "tp": float(planned.exits.take_profit) if planned.exits else None,
            "message": message,
        }
    )
    if planned.alert.strike is not None and planned.alert.strike.relative:
        body["strike_choice"] = planned.alert.strike.describe()
    if planned.closing:
        body["closing"] = True
    if planned.exits is not None and planned.exits.adjustments:
        body["adjustments"] = _adjustments(planned, float)
    if planned.exits_by_broker:
        body["position_id"] = planned.position.position_id
    if request is not None and request.slice:
        body["sliced"] = True
    if request is not None and request.amo:
        body["amo"] = True
    return body


def _decision(planned: PlannedOrder, request: OrderRequest) -> dict[str, Any]:
    """The journal's view of one order decision."""
    return {
        "symbol": planned.symbol,
        "qty": planned.qty,
        "side": planned.side.name,
        "product_type": planned.product_type,
        "ltp": str(planned.ltp) if planned.ltp is not None else None,
        "sl": str(planned.exits.stop_loss) if planned.exits else None,
        "tp": str(planned.exits.take_profit) if planned.exits else None,
        "tag": request.tag,
        "closing": planned.closing,
        "adjustments": _adjustments(planned, str) if planned.exits is not None else [],
    }


def _adjustments(planned: PlannedOrder, number) -> list[dict[str, Any]]:
    """Each alert level not used as sent: the field, the value sent, the value used, and why."""
    return [
        {
            "field": planned.alert.field_prefix + a.field,
            "sent": number(a.sent),
            "used": number(a.used),
            "reason": a.reason,
        }
        for a in planned.exits.adjustments
    ]


def _depth(value: Any) -> int:
    """How deeply a JSON value nests (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(current, dict):
            stack.extend((item, depth + 1) for item in current.values())
        elif isinstance(current, list):
            stack.extend((item, depth + 1) for item in current)
    return deepest


def _decode(raw_body: bytes, secrets: tuple[str | None, ...] = ()) -> dict[str, Any]:
    """The alert as a JSON object, whatever content type TradingView chose; `secrets` never echoed."""
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidAlert("body", "the body must be UTF-8 text") from None
    if not text.strip():
        raise InvalidAlert("body", "the body is empty: send the alert as a JSON object")
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        near = _redacted(text, secrets)[max(0, error.pos - 20) : error.pos + 20]
        raise InvalidAlert(
            "body",
            f"the body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}, near {shown(near)}",
            line=error.lineno,
            column=error.colno,
        ) from None
    except (ValueError, RecursionError) as error:
        raise InvalidAlert("body", f"the body must be a JSON object ({str(error)[:80]})") from None
    if not isinstance(payload, dict):
        raise InvalidAlert("body", "the body must be a JSON object")
    if _depth(payload) > MAX_JSON_DEPTH:
        raise InvalidAlert("body", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    return payload


def _body_key(payload: dict[str, Any]) -> str:
    """A key for an alert without one: the same body (secret aside) gives the same key."""
    kept = {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return "body:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _redacted(text: str, secrets: tuple[str | None, ...]) -> str:
    """`text` with every secret and every token/secret value starred out, at the same length."""
    text = _SECRET_VALUE.sub(lambda m: m.group(1) + "*" * len(m.group(2)), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "*" * len(secret))
    return text


def _journal_payload(payload: dict[str, Any]) -> dict[str, Any] | str:
    """The alert as received, minus its secret, bounded in size."""
    kept = {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}
    encoded = json.dumps(kept, default=str)
    if len(encoded) <= _JOURNAL_PAYLOAD_LIMIT:
        return kept
    # A large `meta` (or any one large value) must not cost the record its trading fields.
    trimmed = {}
    for name, value in kept.items():
        size = len(json.dumps(value, default=str))
        trimmed[name] = value if size <= _JOURNAL_VALUE_LIMIT else f"<{size} bytes, not kept>"
    if len(json.dumps(trimmed, default=str)) > _JOURNAL_PAYLOAD_LIMIT:
        return f"<{len(encoded)} bytes, not kept>"
    return trimmed
