"""One hierarchy for everything that can go wrong; each error carries its own HTTP status and facts.

As in stripe-python's `_error.py`, a class says what it means, here in its class line:
`http_status` is the answer's status; `order_never_left` says the error proves that no order
reached the broker; `should_retry` that the same call may be made again at once (only ever
where the order never left). Subclasses inherit the facts they do not restate. The web layer
reads these attributes; nothing keeps a list of classes elsewhere.
"""

from typing import Any


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    code = "error"
    http_status = 500
    # An unexpected failure may come after the order call: it proves nothing.
    order_never_left = False
    should_retry = False

    def __init_subclass__(cls, **facts: Any):
        """Take the facts a subclass states in its class line; a misspelt one fails at import."""
        super().__init_subclass__()
        for name, value in facts.items():
            if not hasattr(BridgeError, name):
                raise TypeError(f"{cls.__name__}: {name} is not a fact a BridgeError carries")
            setattr(cls, name, value)

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(BridgeError, code="invalid", http_status=400, order_never_left=True):
    """Input to an operator endpoint is malformed; `field` names what is wrong."""

    def __init__(self, field: str, message: str, **details):
        super().__init__(message, field=field, **details)
        self.field = field


class InvalidAlert(InvalidRequest):
    """The alert is malformed; `field` names what is wrong (and `suggestion` what was likely meant)."""


class Unauthorized(BridgeError, code="unauthorized", http_status=401, order_never_left=True):
    """Missing or wrong secret or admin token."""


class Forbidden(Unauthorized, code="forbidden", http_status=403):
    """The sender is not allowed (an address outside the allowlist)."""


class VerifierUnavailable(Unauthorized, http_status=503):
    """A caller's identity could not be checked (the signer's keys unreachable): refused, try again."""


class PayloadTooLarge(BridgeError, code="too_large", http_status=413, order_never_left=True):
    """The body is larger than the service accepts."""


class AlertInFlight(BridgeError, code="in_flight", http_status=409, order_never_left=True):
    """The same idempotency key is still being processed."""


class Unexecutable(BridgeError, code="unexecutable", http_status=422, order_never_left=True):
    """A valid alert that cannot be executed, refused before any order; no resend would help."""


class ContractNotFound(Unexecutable, code="contract_not_found"):
    """No listed contract matches the alert (unknown underlying, expiry or strike)."""


class RiskRefused(Unexecutable, code="risk_refused"):
    """A risk gate refused the alert before any order; `rule` names the gate."""

    def __init__(self, rule: str, message: str, **details):
        super().__init__(message, rule=rule, **details)
        self.rule = rule


class InvalidLevel(Unexecutable, code="invalid_level"):
    """An alert's sl or tp is on the wrong side of the LTP and INVALID_LEVELS=refuse."""

    def __init__(self, field: str, message: str, **details):
        super().__init__(message, field=field, rule="INVALID_LEVELS", **details)
        self.field = field


class MarketClosed(Unexecutable, code="market_closed"):
    """The market is closed and the policy does not allow this alert now."""


class StaleAlert(Unexecutable, code="stale"):
    """The alert's own timestamp is older than MAX_ALERT_AGE_SECONDS."""


class LoginFailed(Unexecutable, code="login_failed"):
    """The broker refused the auth code of a login; the operator must start the login again."""


class OrderRejected(Unexecutable, code="rejected", order_never_left=False):
    """The broker refused the order; carries the broker's message. It reached the broker: final."""


class BrokerUnavailable(
    BridgeError, code="broker_unavailable", http_status=503, order_never_left=True, should_retry=True
):
    """The broker could not be reached and the order was certainly not placed."""


class RateLimited(BrokerUnavailable, code="rate_limited"):
    """The broker asked us to slow down; `retry_after` in seconds when it said."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class PacedOut(RateLimited, should_retry=False):
    """Our own pacer has no slot for the call before its deadline: nothing was sent, and trying
    again within the same deadline cannot help (an order then waits for its slot past the answer)."""


class LoginRequired(BridgeError, code="login_required", http_status=503, order_never_left=True):
    """No valid broker session: nothing was sent, and no resend succeeds before the operator logs in."""


class OrderOutcomeUnknown(BridgeError, code="outcome_unknown"):
    """The order may or may not have reached the broker; it must be looked up, never re-sent."""


class StateUnavailable(BridgeError, code="state_unavailable", http_status=503):
    """The shared state store could not be reached; nothing was decided by this call.

    Not `order_never_left`: the store is read and written both before and after an order call.
    """
