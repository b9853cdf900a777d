"""execute_alert: from a TradingView alert body to exactly one order, and an answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from app.answers import Answer, error_answer
from app.deadline import Deadline
from app.domain.alert import Alert, check_lots, parse_alert
from app.domain.contracts import Contract, SymbolMaster
from app.domain.errors import (
    BridgeError,
    BrokerUnavailable,
    InvalidAlert,
    OrderOutcomeUnknown,
    Unauthorized,
)
from app.domain.orders import TAGLESS_PRODUCTS, OrderRequest, PlacedOrder, order_tag
from app.domain.pricing import Exits, price_exits
from app.logs import add_log_context
from app.ports import Broker, Clock
from app.services.idempotency import Claim, IdempotencyLedger, Replay
from app.services.journal import Journal
from app.services.placement import OrderPlacer
from app.services.reconcile import Reconciler
from app.services.reporting import AlertReporter

log = logging.getLogger(__name__)

_JOURNAL_PAYLOAD_LIMIT = 4096  # bytes of the alert kept in its journal record
ANSWER_WITHIN = 2.8  # seconds in the service: TradingView cancels at 3
NOTIFY_ALLOWANCE = 0.3  # seconds past the broker budget that notifications may use
_SECRET_FIELDS = ("token",)


@dataclass(frozen=True)
class AlertRules:
    """The settings that shape how an alert becomes an order."""

    webhook_secret: str
    max_lots: int
    sl_percent: Decimal
    tp_percent: Decimal
    default_product_type: str
    attach_sl_tp: bool
    deadline_seconds: float
    duplicate_window_seconds: int = 60


@dataclass
class _Decision:
    contract: Contract
    qty: int
    ltp: Decimal
    exits: Exits
    order: OrderRequest


class AlertService:
    """Authenticates, validates, de-duplicates, resolves, prices and places one alert."""

    def __init__(
        self,
        rules: AlertRules,
        broker: Broker,
        master: Callable[[], SymbolMaster],
        ledger: IdempotencyLedger,
        journal: Journal,
        clock: Clock,
        placer: OrderPlacer,
        reconciler: Reconciler,
        reporter: AlertReporter | None = None,
    ):
        self.rules = rules
        self.broker = broker
        self._master = master
        self.ledger = ledger
        self.journal = journal
        self.clock = clock
        self.placer = placer
        self.reconciler = reconciler
        self.reporter = reporter or AlertReporter(None)

    def execute(self, raw_body: bytes, header_key: str | None = None) -> Answer:
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
            payload = _decode(raw_body)
            self._authenticate(payload)
            entry["alert"] = _journal_payload(payload)
            alert = parse_alert(
                payload,
                default_product_type=self.rules.default_product_type,
                header_key=header_key,
            )
            entry["idempotency_key"] = alert.idempotency_key
            add_log_context(idempotency_key=alert.idempotency_key)
            if alert.idempotency_key is not None:
                claimed = self.ledger.claim(alert.idempotency_key, alert_id)
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
            answer = self._execute(alert, alert_id, deadline, entry, claim)
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
            if claim is not None:
                self._settle(claim, answer, entry)
            self.journal.record(entry)
            self.reporter.report(entry, answer, answer_by)
        return answer

    def _replay(self, stored: Replay, deadline: Deadline, entry: dict[str, Any]) -> Answer:
        """The stored answer; a pending one is first checked against the order book."""
        entry["outcome"] = "replayed"
        if stored.status == 202 and stored.body.get("alert_id"):
            settled = self.reconciler.settle(stored.body["alert_id"], deadline)
            if settled is not None:
                entry["outcome"] = "replayed_settled"
                return Answer(settled.status, settled.body, {"Idempotent-Replayed": "true"})
        return Answer(stored.status, stored.body, {"Idempotent-Replayed": "true"})

    def _authenticate(self, payload: dict[str, Any]) -> None:
        token = payload.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8"), self.rules.webhook_secret.encode("utf-8")
        ):
            raise Unauthorized("missing or wrong token")

    def _execute(
        self, alert: Alert, alert_id: str, deadline: Deadline, entry: dict, claim: Claim
    ) -> Answer:
        # The tag names this claim of the key: a takeover derives the same one, and a key
        # claimed afresh after its TTL gets a new one.
        decision = self._decide(alert, deadline, f"{claim.key}@{claim.claimed_at}")
        entry["decision"] = {
            "symbol": decision.contract.ticker,
            "qty": decision.qty,
            "side": alert.side.name,
            "product_type": alert.product_type,
            "ltp": str(decision.ltp),
            "sl": str(decision.exits.stop_loss),
            "tp": str(decision.exits.take_profit),
            "tag": decision.order.tag,
        }
        entry["order_attempted"] = True
        since = datetime.fromtimestamp(claim.claimed_at, timezone.utc)
        try:
            if claim.taken_over:
                entry["taken_over"] = True
                placed = self.placer.place_after_takeover(decision.order, since, deadline)
            else:
                placed = self.placer.place(decision.order, deadline)
        except OrderOutcomeUnknown as unknown:
            entry["outcome"] = "pending"
            entry["broker"] = {"message": unknown.message}
            body = self._order_body("pending", alert, alert_id, decision, None, unknown.message)
            self.reconciler.record(alert_id, claim.key, decision.order, since, body)
            return Answer(202, body)
        entry["outcome"] = "placed"
        entry["broker"] = {"order_id": placed.order_id, "message": placed.message}
        return Answer(200, self._order_body("placed", alert, alert_id, decision, placed, placed.message))

    def _decide(self, alert: Alert, deadline: Deadline, tag_seed: str) -> _Decision:
        contract = self._master().resolve(
            alert.underlying, alert.expiry, alert.strike, alert.option_type, self.clock.now()
        )
        qty = check_lots(alert.qty, contract.lot_size, self.rules.max_lots)
        ltp = self.broker.quotes([contract.ticker], deadline).get(contract.ticker)
        if ltp is None or ltp <= 0:
            raise BrokerUnavailable(f"the broker gave no price for {contract.ticker}")
        exits = price_exits(
            alert.side,
            ltp,
            contract.tick_size,
            alert.stop_loss,
            alert.take_profit,
            self.rules.sl_percent,
            self.rules.tp_percent,
        )
        bracket = alert.product_type in TAGLESS_PRODUCTS
        send_exits = bracket or self.rules.attach_sl_tp
        order = OrderRequest(
            symbol=contract.ticker,
            qty=qty,
            side=alert.side,
            product_type=alert.product_type,
            tag=None if bracket else order_tag(tag_seed),
            stop_loss_points=exits.stop_loss_points if send_exits else None,
            # A cover order carries only a stop; a bracket order both legs.
            take_profit_points=(
                exits.take_profit_points if send_exits and alert.product_type != "CO" else None
            ),
        )
        return _Decision(contract, qty, ltp, exits, order)

    @staticmethod
    def _order_body(
        status: str,
        alert: Alert,
        alert_id: str,
        decision: _Decision,
        placed: PlacedOrder | None,
        message: str,
    ) -> dict[str, Any]:
        return {
            "status": status,
            "alert_id": alert_id,
            "order_id": placed.order_id if placed else None,
            "symbol": decision.contract.ticker,
            "expiry": decision.contract.expiry.isoformat(),
            "strike": float(decision.contract.strike),
            "option_type": decision.contract.option_type,
            "qty": decision.qty,
            "lots": decision.qty // decision.contract.lot_size,
            "side": alert.side.name,
            "product_type": alert.product_type,
            "ltp": float(decision.ltp),
            "sl": float(decision.exits.stop_loss),
            "tp": float(decision.exits.take_profit),
            "message": message,
        }

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


def _decode(raw_body: bytes) -> dict[str, Any]:
    """The alert as a JSON object, whatever content type TradingView chose."""
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidAlert("body", "the body must be UTF-8 text") from None
    if not text.strip():
        raise InvalidAlert("body", "the body is empty: send the alert as a JSON object")
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidAlert("body", "the body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise InvalidAlert("body", "the body must be a JSON object")
    return payload


def _body_key(payload: dict[str, Any]) -> str:
    """A key for an alert without one: the same body (secret aside) gives the same key."""
    kept = {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return "body:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _journal_payload(payload: dict[str, Any]) -> dict[str, Any] | str:
    """The alert as received, minus its secret, bounded in size."""
    kept = {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}
    encoded = json.dumps(kept, default=str)
    if len(encoded) > _JOURNAL_PAYLOAD_LIMIT:
        return f"<{len(encoded)} bytes, not kept>"
    return kept
