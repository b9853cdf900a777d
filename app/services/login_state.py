"""Login links and OAuth states: single use, 15 minutes, bound to the browser that opened them.

An operator starts a login by opening a bridge link (`/auth/start?t=...`): from the console,
`/auth-url`, or the morning notification on a phone. Opening it spends the link, sets a cookie
holding a random browser key in that browser, and only then makes the OAuth `state`, stored
with a hash of the key. The callback accepts the state only with that cookie: a state or a
callback URL seen by anyone else is useless in their browser, and their refused callback leaves
the state for the operator's own. The store keeps hashes only: a bucket reader learns nothing
usable.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import urllib.parse
from typing import Any

from app.domain.errors import Forbidden, InvalidRequest
from app.ports import Clock, StateStore, Versioned

# Long enough to get through Fyers's login and 2FA on a phone; short enough that a link or a
# state read later (a forwarded message, a screenshot, a proxy log) has lapsed.
LOGIN_TTL_SECONDS = 15 * 60
# __Host-: only ever set by this origin over HTTPS for path /, so a sibling site cannot plant one.
BROWSER_COOKIE = "__Host-bridge_login"
START_PATH = "/auth/start"
_CALLBACK_PATH = "/auth/callback"
_LINKS = "auth/links/"
_STATES = "auth/states/"
_BROWSER_KEY = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def browser_key(cookie: Any) -> str:
    """The browser's login key from its cookie, or a new random one."""
    # Kept when already set, so that two taps on login links in one browser both stay usable.
    if isinstance(cookie, str) and _BROWSER_KEY.match(cookie):
        return cookie
    return secrets.token_urlsafe(32)


def start_url_for(redirect_uri: str) -> str:
    """The bridge link's address: the origin (and path prefix) Fyers sends the callback to."""
    # The cookie must live where the callback lands, whatever host the operator used to start.
    parts = urllib.parse.urlsplit(redirect_uri)
    prefix = parts.path[: -len(_CALLBACK_PATH)] if parts.path.endswith(_CALLBACK_PATH) else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}{START_PATH}"


class LoginStates:
    """Issues login links, turns an opened link into a browser-bound state, and accepts it once."""

    def __init__(self, store: StateStore, clock: Clock, redirect_uri: str):
        self._store = store
        self._clock = clock
        self._start_url = start_url_for(redirect_uri)

    def new_link(self, return_to: str | None = None) -> str:
        """A single-use bridge link, valid 15 minutes, that starts a login in the browser opening it."""
        token = secrets.token_urlsafe(24)
        self._store.create(_LINKS + _digest(token) + ".json", self._expiring(return_to=return_to))
        return f"{self._start_url}?t={token}"

    def open_link(self, token: Any, key: str) -> str:
        """Spend a link in the browser holding `key`: a new state bound to that browser."""
        found = self._found(_LINKS, token, "t", "login link")
        link = self._spend(_LINKS, token, found, "t", "login link")
        state = secrets.token_urlsafe(24)
        self._store.create(
            _STATES + _digest(state) + ".json",
            self._expiring(return_to=link.get("return_to"), browser=_digest(key)),
        )
        return state

    def consume(self, state: Any, key: Any) -> str | None:
        """Accept a `state` once, from the browser that started it; where to go after it."""
        found = self._found(_STATES, state, "state", "login state")
        bound_to = found.data.get("browser")
        # Refused before anything changes: another browser's callback cannot spend the state.
        if not isinstance(key, str) or not bound_to or not hmac.compare_digest(_digest(key), str(bound_to)):
            raise Forbidden(
                "this login was started in another browser (or this browser refused the login cookie): "
                "finish it there, or start the login again here"
            )
        return self._spend(_STATES, state, found, "state", "login state").get("return_to")

    def _expiring(self, **data: Any) -> dict[str, Any]:
        return {"expires_at": self._now() + LOGIN_TTL_SECONDS, **data}

    def _found(self, folder: str, value: Any, field: str, what: str) -> Versioned:
        if not isinstance(value, str) or not 8 <= len(value) <= 128:
            raise InvalidRequest(field, f"the {what} is missing or malformed: start the login again")
        found = self._store.get(folder + _digest(value) + ".json")
        if found is None:
            raise InvalidRequest(field, f"this {what} is unknown or was already used: start the login again")
        return found

    def _spend(self, folder: str, value: str, found: Versioned, field: str, what: str) -> dict[str, Any]:
        # Deleted before the expiry check: an expired one is spent too, and of two callers
        # racing for the same one exactly one wins the compare-and-swap.
        if not self._store.delete(folder + _digest(value) + ".json", found.generation):
            raise InvalidRequest(field, f"this {what} is unknown or was already used: start the login again")
        if found.data["expires_at"] <= self._now():
            raise InvalidRequest(field, f"this {what} has expired (15 minutes): start the login again")
        return found.data

    def _now(self) -> float:
        return self._clock.now().timestamp()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
