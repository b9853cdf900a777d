"""The console's sessions, kept in the state store so that logout or a revoke ends them on every instance.

The browser holds a signed cookie naming a session id; the session is live while its record
exists and its absolute end has not passed: 12 hours after the login however active, or, for a
remembered device ("remember this phone"), CONSOLE_REMEMBER_DAYS. Logout or a revoke deletes the
record, so a copy of the cookie replayed afterwards is refused. Records are keyed by a hash of
the id: a reader of the bucket sees no usable id, and the hash names a device in the console.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.ports import Clock, StateStore

SESSION_LIFETIME = timedelta(hours=12)
REMEMBERED_LIFETIME = timedelta(days=30)
PREFIX = "console/sessions/"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_DEVICE_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrustedDevice:
    """A remembered console session as the console lists it: never its id, only the id's hash."""

    device_id: str  # the hash of the session id: enough to revoke, useless as a cookie
    name: str
    opened_at: datetime
    ends_at: datetime


class ConsoleSessions:
    """Open, check, list and revoke console sessions shared by every instance."""

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        lifetime: timedelta = SESSION_LIFETIME,
        remembered_lifetime: timedelta = REMEMBERED_LIFETIME,
    ):
        self._store = store
        self._clock = clock
        self._lifetime = lifetime
        self._remembered_lifetime = remembered_lifetime

    def open(self, remember: bool = False, device: str = "") -> str:
        """A new session id, live for the (remembered) lifetime from now."""
        session_id = secrets.token_urlsafe(24)
        now = self._clock.now()
        ends = now + (self._remembered_lifetime if remember else self._lifetime)
        record = {"opened_at": now.isoformat(), "ends_at": ends.isoformat(), "remember": remember, "device": device}
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

    def trusted_devices(self) -> list[TrustedDevice]:
        """The remembered sessions still live, newest first."""
        now = self._clock.now()
        devices = []
        for key in self._store.list(PREFIX):
            found = self._store.get(key)
            if found is None or not found.data.get("remember"):
                continue
            ends = datetime.fromisoformat(found.data["ends_at"])
            if ends > now:
                opened = datetime.fromisoformat(found.data["opened_at"])
                devices.append(TrustedDevice(key[len(PREFIX):], found.data.get("device") or "a device", opened, ends))
        return sorted(devices, key=lambda device: device.opened_at, reverse=True)

    def revoke(self, device_id: object) -> bool:
        """End a remembered session by its device id (the id's hash); False when there was none."""
        if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
            return False
        return self._store.delete(PREFIX + device_id)

    @staticmethod
    def device_id(session_id: object) -> str | None:
        """The device id a session id is listed under."""
        if isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id):
            return _key(session_id)[len(PREFIX):]
        return None


def _key(session_id: str) -> str:
    return PREFIX + hashlib.sha256(session_id.encode()).hexdigest()
