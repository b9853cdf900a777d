"""Comparing presented secrets with configured ones, and authenticating an alert by them.

A signed alert carries `X-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256(WEBHOOK_HMAC_SECRET, "<t>.<raw body>") (stripe's scheme). The time is signed with
the body, so a captured request stops working once it is older than the tolerance.
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from app.domain.errors import Unauthorized

_TOLERANCE = "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS"
_FORMAT = "t=<unix seconds>,v1=<hex of HMAC-SHA256 over '<t>.<raw body>'>"
_MAX_SIGNATURES = 4  # v1 values looked at: room for a key rotation, no unbounded work


@dataclass(frozen=True)
class AlertAuth:
    """How an alert proves itself: WEBHOOK_AUTH, the body's secret, the HMAC key and its time tolerance."""

    webhook_secret: str
    hmac_secret: str | None = None
    mode: str = "either"
    tolerance_seconds: int = 30

    def signed(self, signature: str | None) -> bool:
        """Whether the request is judged by its X-Signature (and so trusts nothing unsigned beside it)."""
        return self.mode != "secret" and bool(self.hmac_secret) and signature is not None


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (hmac.compare_digest); any string, even a broken one, is safe."""
    # surrogatepass: a lone surrogate from JSON ("\ud800") must fail the check, not raise.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def authenticate_alert(
    payload: dict[str, Any], raw_body: bytes, signature: str | None, auth: AlertAuth, now: float
) -> bool:
    """True for a verified signature, False for the body's secret; Unauthorized if neither (or not allowed)."""
    if auth.signed(signature):
        verify_signature(raw_body, signature or "", auth.hmac_secret or "", now, auth.tolerance_seconds)
        return True
    if auth.mode == "hmac":
        raise Unauthorized(f"WEBHOOK_AUTH=hmac accepts signed alerts only: send X-Signature: {_FORMAT}")
    token = payload.get("token", payload.get("secret"))
    if not isinstance(token, str) or not same_secret(token, auth.webhook_secret):
        raise Unauthorized("missing or wrong token")
    return False


def verify_signature(raw_body: bytes, header: str, hmac_secret: str, now: float, tolerance: int) -> None:
    """Unauthorized unless `header` signs this body at a time within `tolerance` seconds of `now`."""
    parts = _signature_parts(header)
    if "sha256" in parts:
        raise Unauthorized(
            f"X-Signature sha256=<hex> signs no time and can be replayed; send {_FORMAT} (docs/alerts.md)"
        )
    stamps, signatures = parts.get("t", []), parts.get("v1", [])[:_MAX_SIGNATURES]
    if not stamps:
        raise Unauthorized(f"the X-Signature has no timestamp: send {_FORMAT}")
    if len(stamps) > 1 or not stamps[0].isascii() or not stamps[0].isdigit() or len(stamps[0]) > 12:
        raise Unauthorized("the X-Signature's t must be one whole number of unix seconds")
    if not signatures:
        raise Unauthorized(f"the X-Signature has no v1 signature: send {_FORMAT}")
    timestamp = int(stamps[0])
    expected = _digest(raw_body, hmac_secret, timestamp)
    # Every value is compared, each in constant time: how many matched says nothing of the key.
    matches = [hmac.compare_digest(given.encode("ascii", "replace"), expected.encode()) for given in signatures]
    if not any(matches):
        raise Unauthorized("the X-Signature does not match the body and its t (HMAC-SHA256 of '<t>.<raw body>')")
    # Judged after the match, so an age is only ever reported for a signature the sender made.
    age = now - timestamp
    # Strictly inside: a replay is then always inside the key's window (Settings checks 2 x tolerance <= it).
    if age >= tolerance:
        raise Unauthorized(f"the X-Signature is {age:.0f} s old; {_TOLERANCE} is {tolerance}: a replay is refused")
    if -age >= tolerance:
        raise Unauthorized(
            f"the X-Signature's t is {-age:.0f} s in the future; {_TOLERANCE} is {tolerance}: check the sender's clock"
        )


def _digest(raw_body: bytes, hmac_secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of '<timestamp>.<raw body>'."""
    signed = str(timestamp).encode("ascii") + b"." + raw_body
    return hmac.new(hmac_secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _signature_parts(header: str) -> dict[str, list[str]]:
    """The header's name=value pairs, by name (a name may repeat)."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.partition("=")
        parts.setdefault(name.strip().lower(), []).append(value.strip())
    return parts
