"""The Fyers session document at rest: tokens sealed with TOKEN_ENCRYPTION_KEY, the rest in clear.

Stored: `{"sealed": {alg, key_id, nonce, ciphertext}, "expires_at", "saved_at", "source", "valid",
"invalid_reason"?}`. The access and refresh tokens exist only inside `sealed`, so a reader of the
bucket alone cannot trade. A document this key cannot open (another key, altered, or written in
clear before encryption) is no session: one new login replaces it.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from app.logs import log_event
from app.ports import TokenCipher, Versioned

log = logging.getLogger(__name__)

TOKEN_FIELDS = ("access_token", "refresh_token")


class SessionSealing:
    """Turns a session (tokens and clear fields) into the stored document and back."""

    def __init__(self, cipher: TokenCipher, document: str, on_secret: Callable[..., None]):
        self._cipher = cipher
        self._document = document  # authenticated with the tokens: a sealed value moved elsewhere fails
        self._on_secret = on_secret
        self._warned: tuple[int, str] | None = None

    def seal(self, session: dict[str, Any]) -> dict[str, Any]:
        """The document to store: the tokens sealed, every other field in clear."""
        clear = {k: v for k, v in session.items() if k not in TOKEN_FIELDS}
        tokens = {k: session.get(k) for k in TOKEN_FIELDS}
        return {**clear, "sealed": self._cipher.seal(tokens, self._document)}

    def open(self, found: Versioned) -> dict[str, Any]:
        """The session in a stored document; `{"unusable": reason}` when this key cannot use it."""
        clear = {k: v for k, v in found.data.items() if k not in TOKEN_FIELDS and k != "sealed"}
        sealed = found.data.get("sealed")
        if sealed is None:
            if not found.data.get("access_token"):
                return clear  # no session stored
            # Written in clear before encryption: the token may already have been copied from the
            # bucket, so it is never re-sealed or used; the next login replaces it.
            self._on_secret(*(found.data.get(k) for k in TOKEN_FIELDS))
            return self._unusable(found, "the stored Fyers session predates token encryption: log in again")
        tokens = self._cipher.open(sealed, self._document)
        if tokens is not None:
            return {**clear, **{k: tokens.get(k) for k in TOKEN_FIELDS}}
        stored_key = sealed.get("key_id") if isinstance(sealed, dict) else None
        if stored_key != self._cipher.key_id:
            reason = (
                f"the stored Fyers session was encrypted with another TOKEN_ENCRYPTION_KEY "
                f"(key id {stored_key}, this instance has {self._cipher.key_id}): log in again"
            )
        else:
            reason = "the stored Fyers session cannot be decrypted (altered or corrupt): log in again"
        return self._unusable(found, reason)

    def _unusable(self, found: Versioned, reason: str) -> dict[str, Any]:
        # Once per stored version: status checks and alerts read it often, the operator needs it once.
        if self._warned != (found.generation, reason):
            self._warned = (found.generation, reason)
            log_event(log, logging.WARNING, "token_session_unusable", f"Fyers session not used: {reason}")
        return {"unusable": reason}
