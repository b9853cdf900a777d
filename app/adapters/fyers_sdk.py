"""The fyers-apiv3 SDK, kept quiet and bounded: every call paced, authenticated and on the deadline.

Every FyersModel opens log files in the working directory and hands back one shared error dict
per client: here the files are closed and removed, each answer is copied, and token and
rate-limit answers become LoginRequired and RateLimited before anything else reads them.
"""

from __future__ import annotations

import copy
import logging
import shutil
import tempfile
import threading
from functools import partial
from typing import Any

from fyers_apiv3 import fyersModel

from app.adapters.fyers_answers import RATE_LIMIT_CODES, TOKEN_ERROR_CODES, describe
from app.adapters.fyers_http import DeadlineSession, Exchange
from app.adapters.pacer import Pacer
from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable, LoginRequired, RateLimited, Unexecutable
from app.domain.orders import Priority
from app.logs import log_event
from app.ports import TokenSource

log = logging.getLogger(__name__)

READ_CALL_CAP = 1.0  # seconds one quote/positions/order-book call may take
_SDK_LOGGERS = ("FyersAPI", "FyersAPIRequest")
# Endpoints SDK 3.2.0 has no method for: posted through its own HTTP helper (Config.API + path),
# so they keep its headers and quirks, and the same session, pacer and deadline as every call.
SDK_LESS_POSTS = {"multiorder_margin": "/multiorder/margin"}
# What a read-only client (BROKER=fyers-paper) may call. An allowlist, not a list of order calls:
# the SDK also places orders through smart-order, alert and basket methods, and a method a later
# SDK adds stays refused until someone has read what it does.
READ_ONLY_METHODS = frozenset(
    {"quotes", "market_status", "get_profile", "funds", "positions", "orderbook", "tradebook"}
)


def point_sdk_at(api_base: str, data_base: str) -> None:
    """Aim the SDK's process-wide base URLs (a fake server in tests)."""
    fyersModel.Config.API = api_base
    fyersModel.Config.DATA_API = data_base


class FyersClient:
    """One SDK model on a deadline-bounded HTTP session, called under the pacer with the current token."""

    def __init__(self, app_id: str, tokens: TokenSource, pacer: Pacer, *, read_only: bool = False):
        self._read_only = read_only
        self._session = DeadlineSession()
        self._model = quiet_model(app_id)
        self._model.service.session = self._session
        self._header_lock = threading.Lock()
        self._app_id = app_id
        self._tokens = tokens
        self._pacer = pacer

    def read(
        self,
        method: str,
        argument: Any,
        deadline: Deadline,
        tolerate_codes: frozenset[int] | set[int] = frozenset(),
        priority: Priority = Priority.LOOKUP,
    ) -> dict[str, Any]:
        """One read; BrokerUnavailable unless Fyers answered `s` ok (or a tolerated code)."""
        body, exchange = self.call(method, argument, deadline, deadline.timeout(READ_CALL_CAP), priority)
        if body is None or exchange.response is None:
            raise BrokerUnavailable(f"Fyers could not be reached ({describe(exchange)})")
        if body.get("s") != "ok" and body.get("code") not in tolerate_codes:
            raise BrokerUnavailable(f"Fyers answered HTTP {exchange.status}: {str(body.get('message', ''))[:200]}")
        return body

    def call(
        self,
        method: str,
        argument: Any,
        deadline: Deadline,
        timeout: float,
        priority: Priority = Priority.ENTRY,
        keep_for_call: float = 0.05,
    ) -> tuple[dict[str, Any] | None, Exchange]:
        """One SDK call: token, pacing at `priority`, deadline; token and rate-limit answers become errors.

        The pacer's slot must leave `keep_for_call` seconds for the call itself, else PacedOut
        (nothing sent): an order is never sent with too little time to hear its answer.
        A read-only client refuses every method but its reads (Unexecutable) before any of that.
        """
        if self._read_only and method not in READ_ONLY_METHODS:
            raise Unexecutable(f"read-only Fyers client (BROKER=fyers-paper): {method} is never sent")
        token = self._tokens.access_token()
        if timeout <= 0.05:
            raise BrokerUnavailable("this alert's time budget is spent")
        self._pacer.acquire(deadline.sooner(keep_for_call), priority)
        with self._header_lock:
            if self._model.token != token:
                self._model.token = token
                self._model.header = f"{self._app_id}:{token}"
        if method in SDK_LESS_POSTS:
            sdk_call = partial(self._model.service.post_call, SDK_LESS_POSTS[method], self._model.header)
        else:
            sdk_call = getattr(self._model, method)
        with self._session.bounded(min(timeout, deadline.remaining())) as exchange:
            try:
                result = sdk_call(argument) if argument is not None else sdk_call()
            except Exception:  # the SDK parses bodies outside its own try; the wire record tells
                result = None
        # The SDK returns one shared error dict per client: copy before anything else runs.
        body = copy.deepcopy(result) if isinstance(result, dict) else None
        if exchange.response is not None:
            self._raise_refusal(body, exchange, token)
        return body, exchange

    def close(self) -> None:
        """Release the HTTP session."""
        self._session.close()

    def _raise_refusal(self, body: dict[str, Any] | None, exchange: Exchange, token: str) -> None:
        """Fyers refused the token (LoginRequired) or asked us to slow down (RateLimited)."""
        code = body.get("code") if body else None
        if exchange.status == 401 or code in TOKEN_ERROR_CODES:
            self._tokens.mark_invalid(token, f"code {code}" if code else "HTTP 401")
            log_event(log, logging.WARNING, "token_rejected", "Fyers refused the access token; login required")
            raise LoginRequired("Fyers refused the access token: log in again")
        if exchange.status == 429 or code in RATE_LIMIT_CODES:
            wait = exchange.retry_after() or 1.0
            self._pacer.hold(wait)
            raise RateLimited("Fyers asked us to slow down", retry_after=wait)


def quiet_model(app_id: str) -> fyersModel.FyersModel:
    """A sync FyersModel whose log files and log lines go nowhere.

    Every FyersModel opens fyersApi.log and fyersRequests.log; the request log is at DEBUG and
    would hold URLs and bodies. They are opened in a temporary folder, closed, and the folder is
    removed; the SDK's loggers are switched off.
    """
    folder = tempfile.mkdtemp(prefix="fyers-sdk-")
    try:
        model = fyersModel.FyersModel(client_id=app_id, token="", is_async=False, log_path=folder)
        for sdk_logger in (model.api_logger, model.request_logger):
            handler = getattr(sdk_logger, "logger_handler", None)
            if handler is not None:
                handler.close()
        for name in _SDK_LOGGERS:
            sdk_log = logging.getLogger(name)
            for handler in list(sdk_log.handlers):
                handler.close()
                sdk_log.removeHandler(handler)
            sdk_log.disabled = True
            sdk_log.propagate = False
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return model
