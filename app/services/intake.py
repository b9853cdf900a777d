"""Intake: from the raw body to a trusted alert message: decode, authenticate, record, parse, check its age."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from app.domain.alert import AlertMessage, parse_message, shown
from app.domain.dialects import read_message
from app.domain.errors import InvalidAlert, StaleAlert
from app.domain.openalgo import StrategyContract
from app.logs import add_log_context
from app.ports import Clock
from app.security import AlertAuth, authenticate_alert, same_secret
from app.services.record import AlertRecord

log = logging.getLogger(__name__)

_JOURNAL_PAYLOAD_LIMIT = 4096  # bytes of the alert kept in its journal record
_JOURNAL_VALUE_LIMIT = 512  # bytes of one field's value kept when the whole alert is over the limit
# A token/secret value in a body that is not JSON, whatever the quoting: starred in an excerpt.
_SECRET_VALUE = re.compile(
    r"""(["']?(?:token|secret)["']?\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^,}\s]*)""", re.IGNORECASE
)
_SECRET_FIELDS = ("token", "secret")
MAX_JSON_DEPTH = 16  # an alert with legs nests 3 deep; anything far deeper is hostile
_UNCHECKED_AGE = (
    'the alert has no "timenow": its age could not be checked (MAX_ALERT_AGE_SECONDS); '
    'add "timenow": "{{timenow}}" to the alert message'
)

# Said by an admin-authenticated dry run (POST /admin/test-alert); never the value itself.
WRONG_BODY_SECRET = (
    "the body's token is not WEBHOOK_SECRET_TOKEN: the admin token let this dry run through, "
    "but a live alert with this body would be refused (401)"
)
HMAC_ONLY = "WEBHOOK_AUTH=hmac: a live alert must carry X-Signature; the body's token alone would be refused (401)"


@dataclass(frozen=True)
class AlertRules:
    """The settings that shape how an alert is accepted."""

    webhook_secret: str
    default_product_type: str
    deadline_seconds: float
    duplicate_window_seconds: int = 60
    hmac_secret: str | None = None
    webhook_auth: str = "either"  # either, secret or hmac
    webhook_signature_tolerance_seconds: int = 30
    exact_strikes: bool = True
    market_closed_policy: str = "reject"  # reject, amo or queue
    max_alert_age_seconds: int = 0  # 0: no check (Settings holds the default and why)
    long_as: str = "buy_ce"  # what position long opens when the alert does not say (LONG_AS)
    short_as: str = "buy_pe"  # what position short opens when the alert does not say (SHORT_AS)
    strategy_contracts: tuple[StrategyContract, ...] = ()  # what OpenAlgo-style messages trade (STRATEGY_CONTRACTS)

    @property
    def auth(self) -> AlertAuth:
        """How an alert authenticates under these rules."""
        return AlertAuth(
            self.webhook_secret, self.hmac_secret, self.webhook_auth, self.webhook_signature_tolerance_seconds
        )


class Intake:
    """Reads an alert's body into a message, recording what came in; trusts nothing before the secret."""

    def __init__(self, rules: AlertRules, clock: Clock):
        self.rules = rules
        self._clock = clock

    def read(
        self,
        raw_body: bytes,
        header_key: str | None,
        signature: str | None,
        record: AlertRecord,
        authenticated: bool = False,
    ) -> tuple[dict[str, Any], AlertMessage]:
        """The trusted payload and its message; `authenticated`: the admin token vouched. Refusals are errors."""
        payload = decode(raw_body, (self.rules.webhook_secret, self.rules.hmac_secret))
        if authenticated:
            self._note_body_secret(payload, record)
        elif authenticate_alert(payload, raw_body, signature, self.rules.auth, self._clock.now().timestamp()):
            # The header is not signed: a replay with a new one would get a new key. The signed
            # body's key counts, or else the body's own key (one alert per DUPLICATE_WINDOW_SECONDS).
            header_key = None
        record.alert = journal_payload(payload)
        message = self.message(payload, header_key)
        record.message_read = True
        record.idempotency_key = message.idempotency_key
        record.strategy = message.strategy
        add_log_context(idempotency_key=message.idempotency_key)
        self.check_age(payload, record)
        return payload, message

    def _note_body_secret(self, payload: dict[str, Any], record: AlertRecord) -> None:
        """An alert the operator vouched for needs no secret; one it carries that TradingView's would fail is said."""
        token = payload.get("token", payload.get("secret"))
        if token is None:
            return
        if self.rules.webhook_auth == "hmac":
            record.warnings.append(HMAC_ONLY)
        elif not isinstance(token, str) or not same_secret(token, self.rules.webhook_secret):
            record.warnings.append(WRONG_BODY_SECRET)

    def message(self, payload: dict[str, Any], header_key: str | None = None) -> AlertMessage:
        """The alert's message (another bridge's dialect translated), with the product type and strike rule."""
        return read_message(payload, self.rules.strategy_contracts, lambda ours: parse_message(
            ours,
            default_product_type=self.rules.default_product_type,
            header_key=header_key,
            exact_strikes=self.rules.exact_strikes,
            long_as=self.rules.long_as,
            short_as=self.rules.short_as,
        ))

    def check_age(self, payload: dict[str, Any], record: AlertRecord) -> None:
        """Refuse an alert whose `timenow` is too old (MAX_ALERT_AGE_SECONDS); record when it cannot be told."""
        limit = self.rules.max_alert_age_seconds
        if not limit:
            return
        if "timenow" not in payload:
            # `time` is the bar's open time, minutes old on a 15-minute bar: it says nothing of the delivery.
            record.warnings.append(_UNCHECKED_AGE)
            log.warning(_UNCHECKED_AGE, extra={"event": "alert_age_unchecked"})
            return
        value = payload["timenow"]
        try:
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidAlert(
                "timenow", f"timenow must be an ISO time such as 2026-11-20T09:20:00Z, got {shown(value)}"
            ) from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)  # TradingView's stamps are UTC
        age = (self._clock.now() - stamp).total_seconds()
        # A stamp this far ahead is no TradingView clock (NTP on both sides): the age would pass for ever.
        if age > limit or age < -limit:
            said = (
                f"{age:.1f} s old: TradingView gives up on an alert after 3 s"
                if age > 0
                else f"{-age:.1f} s ahead of this server's clock: the clocks disagree"
            )
            raise StaleAlert(
                f"the alert is {said} (timenow {value}, MAX_ALERT_AGE_SECONDS {limit}); this request placed no order",
                rule="MAX_ALERT_AGE_SECONDS",
                age_seconds=round(age, 1),
                limit_seconds=limit,
            )


def without_secret(payload: dict[str, Any]) -> dict[str, Any]:
    """The alert minus its secret: what may be kept, queued or hashed."""
    return {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}


def body_key(payload: dict[str, Any]) -> str:
    """A key for an alert without one: the same body (secret aside) gives the same key."""
    canonical = json.dumps(without_secret(payload), sort_keys=True, separators=(",", ":"), default=str)
    return "body:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def decode(raw_body: bytes, secrets: tuple[str | None, ...] = ()) -> dict[str, Any]:
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


def journal_payload(payload: dict[str, Any]) -> dict[str, Any] | str:
    """The alert as received, minus its secret, bounded in size."""
    kept = without_secret(payload)
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _redacted(text: str, secrets: tuple[str | None, ...]) -> str:
    """`text` with every secret and every token/secret value starred out, at the same length."""
    text = _SECRET_VALUE.sub(lambda m: m.group(1) + "*" * len(m.group(2)), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "*" * len(secret))
    return text
