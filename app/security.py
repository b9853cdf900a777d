"""Comparing presented secrets with configured ones, and authenticating an alert by them."""

import hashlib
import hmac
from typing import Any

from app.domain.errors import Unauthorized


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (hmac.compare_digest); any string, even a broken one, is safe."""
    # surrogatepass: a lone surrogate from JSON ("\ud800") must fail the check, not raise.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def authenticate_alert(
    payload: dict[str, Any],
    raw_body: bytes,
    signature: str | None,
    webhook_secret: str,
    hmac_secret: str | None,
) -> None:
    """The body's secret, or (for senders that can sign) an HMAC of the raw body; Unauthorized if neither."""
    if signature is not None and hmac_secret:
        expected = "sha256=" + hmac.new(hmac_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
        if not same_secret(signature.strip(), expected):
            raise Unauthorized("the X-Signature does not match the body")
        return
    token = payload.get("token", payload.get("secret"))
    if not isinstance(token, str) or not same_secret(token, webhook_secret):
        raise Unauthorized("missing or wrong token")
