"""AES-256-GCM sealing of the Fyers tokens (the `cryptography` package), keyed by TOKEN_ENCRYPTION_KEY."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.ports import TokenCipher

ALGORITHM = "AES-256-GCM"
_NONCE_BYTES = 12  # GCM's standard nonce; random per seal (a few writes a day: no reuse risk)
_KEY_ID_LABEL = b"fyers-alert-bridge/token-key-id/v1"


def decode_key(text: str) -> bytes:
    """The 32 key bytes from base64 text (URL-safe or standard alphabet, padding optional)."""
    text = text.strip()
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(key) != 32:
        raise ValueError(f"decodes to {len(key)} bytes, not 32")
    return key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


class AesGcmTokenCipher(TokenCipher):
    """Seals with AES-256-GCM; the document's name and the key id are authenticated with it."""

    def __init__(self, key_text: str):
        key = decode_key(key_text)
        self._aead = AESGCM(key)
        # An HMAC of a fixed label under the key: it names the key without revealing anything of it.
        self.key_id = hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def seal(self, tokens: dict[str, Any], context: str) -> dict[str, str]:
        """An encrypted, authenticated JSON-ready form of `tokens`, carrying `key_id`."""
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(tokens, separators=(",", ":")).encode("utf-8")
        ciphertext = self._aead.encrypt(nonce, plaintext, self._associated(context))
        return {"alg": ALGORITHM, "key_id": self.key_id, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}

    def open(self, sealed: Any, context: str) -> dict[str, Any] | None:
        """The tokens back; None when this key cannot open `sealed` (another key, altered, malformed)."""
        if not isinstance(sealed, dict) or sealed.get("alg") != ALGORITHM or sealed.get("key_id") != self.key_id:
            return None
        try:
            nonce = base64.urlsafe_b64decode(sealed["nonce"])
            ciphertext = base64.urlsafe_b64decode(sealed["ciphertext"])
            plaintext = self._aead.decrypt(nonce, ciphertext, self._associated(context))
            tokens = json.loads(plaintext)
        except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error):
            return None
        return tokens if isinstance(tokens, dict) else None

    def _associated(self, context: str) -> bytes:
        return f"{context}\n{self.key_id}".encode("utf-8")
