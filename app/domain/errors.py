"""One hierarchy for everything that can go wrong; the web layer maps it to HTTP in one place."""


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidAlert(BridgeError):
    """The alert is malformed; `field` names what is wrong (and `suggestion` what was likely meant)."""

    code = "invalid"

    def __init__(self, field: str, message: str, **details):
        super().__init__(message, field=field, **details)
        self.field = field


class Unauthorized(BridgeError):
    """Missing or wrong secret or admin token."""

    code = "unauthorized"


class Forbidden(Unauthorized):
    """The sender is not allowed (an address outside the allowlist)."""

    code = "forbidden"


class PayloadTooLarge(BridgeError):
    """The body is larger than the service accepts."""

    code = "too_large"


class AlertInFlight(BridgeError):
    """The same idempotency key is still being processed."""

    code = "in_flight"


class Unexecutable(BridgeError):
    """A valid alert that cannot be executed; no resend would help."""

    code = "unexecutable"


class ContractNotFound(Unexecutable):
    """No listed contract matches the alert (unknown underlying, expiry or strike)."""

    code = "contract_not_found"


class RiskRefused(Unexecutable):
    """A risk gate refused the alert before any order; `rule` names the gate."""

    code = "risk_refused"

    def __init__(self, rule: str, message: str, **details):
        super().__init__(message, rule=rule, **details)
        self.rule = rule


class InvalidLevel(Unexecutable):
    """An alert's sl or tp is on the wrong side of the LTP and INVALID_LEVELS=refuse."""

    code = "invalid_level"

    def __init__(self, field: str, message: str, **details):
        super().__init__(message, field=field, rule="INVALID_LEVELS", **details)
        self.field = field


class MarketClosed(Unexecutable):
    """The market is closed and the policy does not allow this alert now."""

    code = "market_closed"


class StaleAlert(Unexecutable):
    """The alert's own timestamp is older than MAX_ALERT_AGE_SECONDS."""

    code = "stale"


class OrderRejected(Unexecutable):
    """The broker refused the order; carries the broker's message."""

    code = "rejected"


class BrokerUnavailable(BridgeError):
    """The broker could not be reached and the order was certainly not placed."""

    code = "broker_unavailable"


class LoginRequired(BrokerUnavailable):
    """No valid broker session: the operator must log in again."""

    code = "login_required"


class RateLimited(BrokerUnavailable):
    """The broker asked us to slow down; `retry_after` in seconds when it said."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class OrderOutcomeUnknown(BridgeError):
    """The order may or may not have reached the broker; it must be looked up, never re-sent."""

    code = "outcome_unknown"


class StateUnavailable(BridgeError):
    """The shared state store could not be reached; nothing was decided."""

    code = "state_unavailable"
