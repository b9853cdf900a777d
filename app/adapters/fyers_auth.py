"""Fyers login: the login URL, the auth-code exchange and the (best-effort) token refresh."""

from __future__ import annotations

import copy
import hashlib
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import requests
from fyers_apiv3 import fyersModel

from app.adapters.fyers_http import DeadlineSession
from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable, LoginFailed, LoginRequired
from app.ports import BrokerLogin


class FyersAuth(BrokerLogin):
    """Talks to Fyers's login endpoints; never logs or returns a token except to its caller."""

    def __init__(self, app_id: str, secret_id: str, redirect_uri: str, api_base: str):
        self._session = DeadlineSession()
        # The SDK's code exchange uses a bare `requests.post` with no timeout; it runs on
        # this pool so that the caller's deadline holds even if Fyers never answers.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fyers-auth")
        self._app_id = app_id
        self._secret_id = secret_id
        self._redirect_uri = redirect_uri
        self._api_base = api_base

    def login_url(self, state: str) -> str:
        """The Fyers login page for this app, carrying `state` back to our callback."""
        session = fyersModel.SessionModel(
            client_id=self._app_id,
            redirect_uri=self._redirect_uri,
            response_type="code",
            state=state,
        )
        return session.generate_authcode()

    def exchange_code(self, auth_code: str, deadline: Deadline) -> tuple[str, str | None]:
        """Access and refresh tokens for an auth code (validate-authcode, through the SDK)."""
        session = fyersModel.SessionModel(
            client_id=self._app_id,
            secret_key=self._secret_id,
            redirect_uri=self._redirect_uri,
            response_type="code",
            grant_type="authorization_code",
        )
        session.set_token(auth_code)
        future = self._pool.submit(session.generate_token)
        try:
            answer = copy.deepcopy(future.result(timeout=deadline.remaining()))
        except FutureTimeout:
            raise BrokerUnavailable("Fyers did not answer the login in time; try again") from None
        except (requests.RequestException, ValueError):
            raise BrokerUnavailable("Fyers could not be reached for the login; try again") from None
        return self._tokens(answer, "auth code")

    def refresh(self, refresh_token: str, pin: str, deadline: Deadline) -> str:
        """A new access token from a refresh token and the PIN (validate-refresh-token).

        The SDK has no call for this endpoint, so it is posted directly, with a deadline.
        Since April 2026 Fyers does not promise refresh sessions: a refusal means log in.
        """
        body = {
            "grant_type": "refresh_token",
            "appIdHash": self._app_id_hash(),
            "refresh_token": refresh_token,
            "pin": pin,
        }
        with self._session.bounded(deadline.timeout(5.0)):
            try:
                response = self._session.post(
                    f"{self._api_base}/validate-refresh-token", json=body
                )
                answer = response.json()
            except (requests.RequestException, ValueError):
                raise BrokerUnavailable("Fyers could not be reached for the refresh") from None
        access, _ = self._tokens(answer, "refresh token")
        return access

    def close(self) -> None:
        """Release the pool and the HTTP session."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _app_id_hash(self) -> str:
        return hashlib.sha256(f"{self._app_id}:{self._secret_id}".encode()).hexdigest()

    @staticmethod
    def _tokens(answer: object, what: str) -> tuple[str, str | None]:
        if not isinstance(answer, dict):
            raise BrokerUnavailable(f"Fyers gave an unreadable answer to the {what}")
        if answer.get("s") == "ok" and isinstance(answer.get("access_token"), str):
            return answer["access_token"], answer.get("refresh_token")
        message = str(answer.get("message") or "refused")[:200]
        if what == "refresh token":
            raise LoginRequired(f"Fyers refused the refresh ({message}): log in again")
        raise LoginFailed(f"Fyers refused the {what} ({message}): start the login again")
