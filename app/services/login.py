"""The daily Fyers login: a bridge link, Fyers's page, the callback, a manual code, and a best-effort refresh."""

from __future__ import annotations

import logging
from typing import Any

from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable, InvalidRequest, LoginRequired, Unexecutable
from app.logs import log_event
from app.ports import BrokerLogin, Notification, TokenStatus
from app.services.login_state import LoginStates
from app.services.notify import Notifications
from app.services.tokens import TokenManager

log = logging.getLogger(__name__)

LOGIN_DEADLINE = 10.0  # seconds: an operator action, not an alert
NOTIFY_BUDGET = 2.0  # seconds for the morning job's notification


class LoginService:
    """Turns the operator's login into a stored Fyers session shared by every instance."""

    def __init__(
        self,
        tokens: TokenManager,
        states: LoginStates,
        auth: BrokerLogin,
        pin: str | None,
        auth_code: str | None,
        notifications: Notifications | None = None,
    ):
        self.tokens = tokens
        self._states = states
        self._auth = auth
        self._pin = pin
        self._configured_code = auth_code
        self._notifications = notifications

    def login_url(self, return_to: str | None = "console") -> str:
        """The link the operator opens to log in: the bridge's single-use start link (15 minutes)."""
        # Links sent to the phone come back to the console; /auth-url (an API caller) asks for none.
        return self._states.new_link(return_to)

    def start(self, token: Any, browser_key: str) -> str:
        """A browser opened a login link: Fyers's login page, its state bound to that browser."""
        return self._auth.login_url(self._states.open_link(token, browser_key))

    def complete(self, state: Any, browser_key: Any, auth_code: Any) -> tuple[TokenStatus, str | None]:
        """The callback: accept the state once, from its own browser; exchange the code; where to go."""
        return_to = self._states.consume(state, browser_key)
        return self._exchange(auth_code, "login"), return_to

    def generate(self, auth_code: Any = None) -> TokenStatus:
        """Exchange an auth code given by the operator (or FYERS_AUTH_CODE)."""
        return self._exchange(auth_code or self._configured_code, "auth code")

    def refresh(self) -> dict[str, Any]:
        """Try the refresh token with the PIN; otherwise say a login is needed, with the link."""
        refresh_token = self.tokens.refresh_token()
        reason = "no refresh token is stored"
        if refresh_token and not self._pin:
            reason = "FYERS_PIN is not set"
        elif refresh_token:
            try:
                access = self._auth.refresh(refresh_token, self._pin, Deadline(LOGIN_DEADLINE))
                status = self.tokens.save(access, None, "refresh")
                log_event(log, logging.INFO, "token_refreshed", "Fyers token refreshed")
                return {"status": "refreshed", **status.as_dict()}
            except (LoginRequired, Unexecutable) as refused:
                reason = refused.message
            except BrokerUnavailable as unreachable:
                reason = unreachable.message
                log_event(log, logging.WARNING, "token_refresh_error", f"Fyers token refresh failed: {reason}")
                self._notify("token_refresh_error", f"Fyers token refresh failed: {reason}")
        url = self.login_url()
        log_event(log, logging.WARNING, "login_required", f"Fyers login required: {reason}")
        self._notify("login_required", f"Fyers login required today ({reason}). Log in:", url)
        return {"status": "login_required", "reason": reason, "login_url": url}

    def remind(self, trading_day: bool) -> dict[str, Any]:
        """The 09:10 job: on a trading day with no usable session, a second, louder notification with a link."""
        if not trading_day:
            return {"status": "not_a_trading_day"}
        status = self.tokens.status()
        if status.logged_in:
            return {"status": "logged_in"}
        log_event(log, logging.WARNING, "login_reminder", f"still no Fyers login at the open: {status.reason}")
        self._notify(
            "login_reminder",
            f"NOT LOGGED IN to Fyers, and NSE opens at 09:15 IST: every alert will be refused until you log in "
            f"({status.reason}). Log in now:",
            self.login_url(),
        )
        return {"status": "reminded", "reason": status.reason}

    def _notify(self, kind: str, text: str, link: str | None = None) -> None:
        if self._notifications is not None:
            self._notifications.notify(Notification(kind, text, {}, link), Deadline(NOTIFY_BUDGET))

    def _exchange(self, auth_code: Any, source: str) -> TokenStatus:
        if not isinstance(auth_code, str) or not 4 <= len(auth_code) <= 4096:
            raise InvalidRequest("auth_code", "auth_code is missing or malformed")
        access, refresh = self._auth.exchange_code(auth_code, Deadline(LOGIN_DEADLINE))
        status = self.tokens.save(access, refresh, source)
        log_event(log, logging.INFO, "token_refreshed", f"Fyers login stored ({source})")
        return status
