"""Comparing presented secrets with configured ones."""

import hmac


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (hmac.compare_digest); any string, even a broken one, is safe."""
    # surrogatepass: a lone surrogate from JSON ("\ud800") must fail the check, not raise.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
