"""The Fyers session: tokens kept in the state store, and when a login is needed."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from app.domain.errors import LoginRequired
from app.ports import Clock, StateStore, TokenCipher, TokenSource, TokenStatus
from app.services.sealed_session import SessionSealing

# How stale an instance's view of a usable token may be. Long enough that a burst never reads the
# store before an order; safe because expiry is read from the token itself, and a token Fyers
# refuses (revoked, replaced by a login elsewhere) is dropped at once and read afresh.
_CACHE_SECONDS = 60.0


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (epoch seconds), read without verifying the signature."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return None


class TokenManager(TokenSource):
    """Reads and writes the session document with compare-and-swap; caches it briefly."""

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        document: str,
        cipher: TokenCipher,
        on_secret: Callable[..., None] = lambda *values: None,
    ):
        self._on_secret = on_secret  # tells the log redactor about every token it sees
        self._store = store
        self._clock = clock
        self._document = document
        self._sealing = SessionSealing(cipher, document, on_secret)
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any] | None] = (-1e9, None)

    def access_token(self) -> str:
        """The current access token; LoginRequired when there is none that is usable."""
        session = self._session()
        status = self._status_of(session)
        if not status.logged_in:
            raise LoginRequired(f"Fyers login required: {status.reason}")
        return session["access_token"]

    def status(self) -> TokenStatus:
        """Whether a usable session exists, until when, and why not."""
        return self._status_of(self._session())

    def refresh_token(self) -> str | None:
        """The stored refresh token, if one is still unexpired."""
        session = self._session(fresh=True)
        if not session or not session.get("refresh_token"):
            return None
        refresh_expires = jwt_expiry(session["refresh_token"])
        if refresh_expires is not None and refresh_expires <= self._now():
            return None
        return session["refresh_token"]

    def save(self, access_token: str, refresh_token: str | None, source: str) -> TokenStatus:
        """Store a new session (a login or a refresh), replacing whatever was there."""
        expires_at = jwt_expiry(access_token)
        if expires_at is None:
            raise LoginRequired("Fyers returned an access token without an expiry")
        current = self._store.get(self._document)
        if not refresh_token and current is not None:
            refresh_token = self._sealing.open(current).get("refresh_token")  # a refresh keeps the login's
        session = {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_at": expires_at,
            "saved_at": self._now(),
            "source": source,
            "valid": True,
        }
        document = self._sealing.seal(session)
        # Each attempt reads the generation it replaces: two logins at once both succeed,
        # the later one wins, and neither half-overwrites the other.
        for _ in range(5):
            if current is None:
                if self._store.create(self._document, document) is not None:
                    break
            elif self._store.replace(self._document, document, current.generation) is not None:
                break
            current = self._store.get(self._document)
        else:
            raise LoginRequired("could not store the new Fyers session: too many concurrent writers")
        self._remember(session)
        return self._status_of(session)

    def mark_invalid(self, access_token: str, reason: str) -> None:
        """Fyers refused this token: no call uses it again until the next login."""
        for _ in range(5):
            current = self._store.get(self._document)
            session = self._sealing.open(current) if current else {}
            if session.get("access_token") != access_token:
                break  # a newer login already replaced it
            if not current.data.get("valid", True):
                break
            refused = {"valid": False, "invalid_reason": reason}
            if self._store.replace(self._document, {**current.data, **refused}, current.generation) is not None:
                self._remember({**session, **refused})
                return
        self._forget()

    def _status_of(self, session: dict[str, Any] | None) -> TokenStatus:
        if session and session.get("unusable"):
            return TokenStatus(False, None, session["unusable"], False)
        if not session or not session.get("access_token"):
            return TokenStatus(False, None, "no Fyers session yet: log in", False)
        expires = datetime.fromtimestamp(session["expires_at"], timezone.utc)
        can_refresh = bool(session.get("refresh_token"))
        if not session.get("valid", True):
            reason = f"Fyers refused the token ({session.get('invalid_reason', 'invalid')})"
            return TokenStatus(False, expires, reason, can_refresh)
        if session["expires_at"] <= self._now():
            return TokenStatus(False, expires, "the Fyers session has expired", can_refresh)
        return TokenStatus(True, expires, "logged in", can_refresh)

    def _session(self, fresh: bool = False) -> dict[str, Any] | None:
        with self._lock:
            read_at, session = self._cached
            # Only a usable session is cached: a login made through another instance is
            # seen at once, and a refusal is never remembered past the next read.
            usable = session is not None and self._status_of(session).logged_in
            if usable and not fresh and time.monotonic() - read_at < _CACHE_SECONDS:
                return session
        found = self._store.get(self._document)
        session = self._sealing.open(found) if found else None
        self._remember(session)
        return session

    def _remember(self, session: dict[str, Any] | None) -> None:
        if session:
            self._on_secret(session.get("access_token"), session.get("refresh_token"))
        with self._lock:
            self._cached = (time.monotonic(), session)

    def _forget(self) -> None:
        with self._lock:
            self._cached = (-1e9, None)

    def _now(self) -> float:
        return self._clock.now().timestamp()
