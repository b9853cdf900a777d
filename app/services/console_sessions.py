"""The console's sessions, kept in the state store so that logout revokes them on every instance.

The browser holds a signed cookie naming a session id; the session is live while its record
exists and its absolute end (12 hours after the login, however active) has not passed. Logout
deletes the record, so a copy of the cookie replayed afterwards is refused. Records are keyed
by a hash of the id: a reader of the bucket sees no usable id.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from app.ports import Clock, StateStore

SESSION_LIFETIME = timedelta(hours=12)
PREFIX = "console/sessions/"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")


class ConsoleSessions:
    """Open, check and revoke console sessions shared by every instance."""

    def __init__(self, store: StateStore, clock: Clock, lifetime: timedelta = SESSION_LIFETIME):
        self._store = store
        self._clock = clock
        self._lifetime = lifetime

    def open(self) -> str:
        """A new session id, live for the lifetime from now."""
        session_id = secrets.token_urlsafe(24)
        now = self._clock.now()
        record = {"opened_at": now.isoformat(), "ends_at": (now + self._lifetime).isoformat()}
        self._store.create(_key(session_id), record)
        return session_id

    def live(self, session_id: object) -> bool:
        """Whether the id names an open session that has not reached its end."""
        if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
            return False
        found = self._store.get(_key(session_id))
        if found is None:
            return False
        return self._clock.now() < datetime.fromisoformat(found.data["ends_at"])

    def close(self, session_id: object) -> None:
        """Revoke the session (logout): its cookie, replayed, is refused from now on."""
        if isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id):
            self._store.delete(_key(session_id))


def _key(session_id: str) -> str:
    return PREFIX + hashlib.sha256(session_id.encode()).hexdigest()
