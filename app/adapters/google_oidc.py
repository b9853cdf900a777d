"""Cloud Scheduler's identity: a Google-signed OIDC token, checked with google-auth.

A job created with `--oidc-service-account-email` / `--oidc-token-audience` sends
`Authorization: Bearer <ID token>`. The token is good when Google's key signed it (fetched
from the certs URL, with a deadline), it has not expired, its issuer is Google, its audience is
the service's URL and its verified email is the Scheduler's service account.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from google.auth import exceptions
from google.auth.transport import requests as google_requests
from google.oauth2 import id_token

from app.domain.errors import Unauthorized, VerifierUnavailable
from app.logs import log_event

log = logging.getLogger(__name__)

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CERTS_TIMEOUT = 5.0  # seconds for one fetch of Google's keys; a job's attempt deadline is 30 s or more
CERTS_CACHE_SECONDS = 300  # Google publishes a new key days before signing with it
MAX_TOKEN_CHARS = 4096  # a Google ID token is about 1 kB; anything far longer is not one
CLOCK_SKEW_SECONDS = 10


class GoogleOidcVerifier:
    """Checks that a bearer token is a Google ID token for `service_account` and `audience`."""

    def __init__(self, service_account: str, audience: str, certs_url: str, timeout: float = CERTS_TIMEOUT):
        self._account = service_account.strip().lower()
        self._audience = audience
        self._certs_url = certs_url
        self._request = _CachedCerts(timeout)

    def verify(self, token: str) -> None:
        """Return if the token is the Scheduler's; Unauthorized otherwise (VerifierUnavailable without keys)."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise Unauthorized("not a Google OIDC token")  # junk costs no fetch of Google's keys
        try:
            claims = id_token.verify_token(
                token, self._request, audience=self._audience, certs_url=self._certs_url,
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
        except exceptions.TransportError as error:
            log_event(log, logging.WARNING, "oidc_keys_unreachable", f"Google's keys could not be fetched: {error}")
            raise VerifierUnavailable("the scheduler's token could not be checked: Google's keys are unreachable")
        except (ValueError, exceptions.GoogleAuthError):
            # Bad signature, expired, wrong audience, malformed: the reason could echo the token's claims.
            raise Unauthorized("the OIDC token is not valid for this service") from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise Unauthorized("the OIDC token was not issued by Google")
        email = claims.get("email")
        if not isinstance(email, str) or email.lower() != self._account or claims.get("email_verified") is not True:
            raise Unauthorized("the OIDC token is not the scheduler's service account (SCHEDULER_SERVICE_ACCOUNT)")


class _CachedCerts(google_requests.Request):
    """google-auth's requests transport with a deadline on every call and the keys kept a few minutes."""

    def __init__(self, timeout: float):
        super().__init__(requests.Session())
        self._timeout = timeout
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, object]] = {}

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        """The keys at `url`, from the cache while fresh; a fetch never waits past the deadline."""
        with self._lock:
            fetched_at, response = self._cached.get(url, (float("-inf"), None))
        if method == "GET" and time.monotonic() - fetched_at < CERTS_CACHE_SECONDS:
            return response
        limit = self._timeout if timeout is None else min(timeout, self._timeout)
        response = super().__call__(url, method=method, body=body, headers=headers, timeout=limit, **kwargs)
        if method == "GET" and response.status == 200:
            with self._lock:
                self._cached[url] = (time.monotonic(), response)
        return response
