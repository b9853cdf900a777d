"""Issue 17, item 5: the operator surface, hardened.

- With BROKER=fyers a secret shorter than 16 characters stops the start, naming the variable only.
- The console login pauses a source after 5 failures in 5 minutes (429, Retry-After); another
  address, the operator's, still logs in, also behind Cloud Run's front end.
- Logout revokes the session on the server (a replayed cookie is refused, on every instance), and
  a session ends 12 hours after its login however active.
- Console answers are uncacheable and unframeable.
- Cloud Scheduler's jobs take a Google-signed OIDC token for SCHEDULER_SERVICE_ACCOUNT and
  SCHEDULER_AUDIENCE, checked against keys served here as Google serves them; the admin token still
  works for a person; a call with neither is refused, and the scheduler's token opens no other door.
"""

from __future__ import annotations

import base64
import json
import pathlib
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from app.adapters.google_oidc import GoogleOidcVerifier
from app.domain.errors import Unauthorized, VerifierUnavailable
from app.settings import MIN_SECRET_LENGTH, ConfigError, Settings
from tests.conftest import ADMIN, SECRET
from tests.fakes.google_certs import FakeGoogleCerts, GoogleKey, SilentServer
from tests.reliability.test_hostile_input import HMAC_SECRET
from tests.test_settings import FYERS_ENV

ROOT = pathlib.Path(__file__).resolve().parent.parent
HTTPS = "https://bridge.test"  # the console's cookie is Secure
OPERATOR = "192.0.2.10"  # TEST-NET-1
ATTACKER = "203.0.113.66"  # TEST-NET-3
FRONT_END = "169.254.1.1"  # Cloud Run's front end, the peer of every request there
SCHEDULER = "bridge-scheduler@my-project.iam.gserviceaccount.com"
SERVICE_URL = "https://fyers-alert-bridge-abc123-el.a.run.app"
JOBS = [("POST", "/refresh-token"), ("POST", "/process-queue"), ("POST", "/reconcile")]


# -- Short secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["WEBHOOK_SECRET_TOKEN", "ADMIN_TOKEN", "WEBHOOK_HMAC_SECRET"])
def test_a_short_secret_stops_the_start_naming_the_variable_not_the_value(variable):
    short = "Sh0rt-15-chars!"
    assert len(short) == MIN_SECRET_LENGTH - 1
    with pytest.raises(ConfigError, match=f"{variable} must be at least 16 characters") as refused:
        Settings.from_env({**FYERS_ENV, variable: short})
    assert short not in str(refused.value)
    assert getattr(Settings.from_env({**FYERS_ENV, variable: short + "x"}), variable.lower()) == short + "x"


def test_the_paper_broker_keeps_its_short_default():
    assert Settings.from_env({}).webhook_secret_token == "paper"
    assert Settings.from_env({"ADMIN_TOKEN": "short"}).admin_token == "short"


def test_the_process_refuses_to_start_with_a_short_admin_token():
    env = {**FYERS_ENV, "ADMIN_TOKEN": "tiny-admin", "PATH": "", "NO_GCE_CHECK": "true"}
    result = subprocess.run(
        [sys.executable, "main.py"], env=env, capture_output=True, text=True, timeout=60, cwd=str(ROOT)
    )
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.endswith("ADMIN_TOKEN must be at least 16 characters with BROKER=fyers")
    assert "tiny-admin" not in result.stderr + result.stdout


def test_the_repository_s_own_secrets_are_long_enough():
    compose = (ROOT / "docker-compose.yml").read_text()
    pattern = r"^\s+(WEBHOOK_SECRET_TOKEN|ADMIN_TOKEN|WEBHOOK_HMAC_SECRET):\s*\"?([^\s\"]+)"
    found = dict(re.findall(pattern, compose, re.M))
    assert {"WEBHOOK_SECRET_TOKEN", "ADMIN_TOKEN"} <= set(found)
    for value in (SECRET, ADMIN, HMAC_SECRET, *found.values()):
        assert len(value) >= MIN_SECRET_LENGTH


# -- The console: headers ----------------------------------------------------------------------------


def login(client, token=ADMIN, address=OPERATOR, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/console/login", data={"admin_token": token}, base_url=HTTPS,
        environ_base={"REMOTE_ADDR": address}, headers=headers,
    )


def on_console(client) -> bool:
    return client.get("/console", base_url=HTTPS).status_code == 200


def csrf_of(client) -> str:
    page = client.get("/console", base_url=HTTPS).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def pause(client, csrf):
    return client.post("/console/pause", data={"csrf_token": csrf, "reason": "test"}, base_url=HTTPS)


def assert_guarded(response):
    assert "no-store" in response.headers.get("Cache-Control", ""), response.headers
    assert response.headers.get("X-Frame-Options") == "DENY"
    policy = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy
    # The pages' one style sheet is inline; their one script (the home's refresh) is served from the console,
    # never inline: the policy allows the style inline, and scripts from the console only.
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    scripts = re.findall(r"<script[^>]*>", response.get_data(as_text=True).lower())
    assert all(tag == '<script src="/console/refresh.js" defer>' for tag in scripts), scripts


def test_every_console_answer_is_uncacheable_and_unframeable(paper_bridge):
    client = paper_bridge.client
    assert_guarded(client.get("/console/login", base_url=HTTPS))
    assert_guarded(client.get("/console", base_url=HTTPS))  # the redirect to the login
    assert_guarded(login(client, token="wrong-token-0000"))  # 401 page
    assert_guarded(pause(client, "x"))  # 401 JSON
    assert_guarded(login(client))  # 303 into the console
    page = client.get("/console", base_url=HTTPS)
    assert page.status_code == 200
    assert_guarded(page)
    assert_guarded(pause(client, "forged"))  # 403


# -- The console: the login's rate limit ---------------------------------------------------------------


def test_the_console_login_pauses_a_source_after_5_failures(paper_bridge, clock):
    client = paper_bridge.client
    for attempt in range(5):
        assert login(client, f"guess-{attempt}", ATTACKER).status_code == 401
    refused = login(client, ADMIN, ATTACKER)  # even the right token waits: guessing gains nothing
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert_guarded(refused)
    assert not on_console(client)
    # The operator, from another address, is not locked out.
    operator = paper_bridge.app.test_client()
    assert login(operator, ADMIN, OPERATOR).status_code == 303 and on_console(operator)
    # Two minutes on, the wait has shrunk; five minutes after the first failure the source may try again.
    clock.instant += timedelta(minutes=2)
    assert 170 <= int(login(client, ADMIN, ATTACKER).headers["Retry-After"]) <= 180
    clock.instant += timedelta(minutes=3)
    assert login(client, ADMIN, ATTACKER).status_code == 303 and on_console(client)


def test_a_good_login_clears_the_count(paper_bridge):
    client = paper_bridge.client
    for _ in range(4):
        assert login(client, "wrong-token-0000").status_code == 401
    assert login(client).status_code == 303
    for _ in range(4):  # four more: still below the limit
        assert login(client, "wrong-token-0000").status_code == 401
    assert login(client).status_code == 303


def test_behind_cloud_run_an_attacker_cannot_lock_out_the_operator(make_bridge):
    """Every request comes from the front end; the source is the address it appended to X-Forwarded-For."""
    bridge = make_bridge(trusted_proxy_hops=1)
    attacker, operator = bridge.client, bridge.app.test_client()
    for _ in range(6):  # the attacker even writes the operator's address first: only the last entry counts
        login(attacker, "wrong-token-0000", FRONT_END, forwarded=f"{OPERATOR}, {ATTACKER}")
    assert login(attacker, ADMIN, FRONT_END, forwarded=ATTACKER).status_code == 429
    assert login(operator, ADMIN, FRONT_END, forwarded=OPERATOR).status_code == 303


def test_an_ipv6_source_counts_by_its_64(paper_bridge):
    client = paper_bridge.client
    for host in range(5):  # five addresses of one /64: one source
        assert login(client, "wrong-token-0000", f"2001:db8:1:2::{host + 1}").status_code == 401
    assert login(client, ADMIN, "2001:db8:1:2::ff").status_code == 429
    assert login(client, ADMIN, "2001:db8:1:3::1").status_code == 303  # the next /64 is someone else


# -- The console: sessions revoked on the server, and ended 12 hours after login ----------------------------


def test_a_logged_out_cookie_is_refused(paper_bridge, services):
    client = paper_bridge.client
    assert login(client).status_code == 303
    kept = client.get_cookie("bridge_console", domain="bridge.test").value  # what a thief copied
    csrf = csrf_of(client)
    assert client.post("/console/logout", data={"csrf_token": csrf}, base_url=HTTPS).status_code == 303
    client.set_cookie("bridge_console", kept, domain="bridge.test")
    assert not on_console(client)
    assert pause(client, csrf).status_code == 401
    assert not services.controls.paused()


def test_logout_on_one_instance_revokes_the_session_on_another(make_bridge):
    first, second = make_bridge(), make_bridge()  # the same state store, the same admin token
    assert login(first.client).status_code == 303
    cookie = first.client.get_cookie("bridge_console", domain="bridge.test").value
    csrf = csrf_of(first.client)
    second.client.set_cookie("bridge_console", cookie, domain="bridge.test")
    assert on_console(second.client)  # the control: one session, valid on both
    assert second.client.post("/console/logout", data={"csrf_token": csrf}, base_url=HTTPS).status_code == 303
    assert not on_console(first.client)


def test_logging_out_ends_only_that_session(paper_bridge):
    phone, laptop = paper_bridge.client, paper_bridge.app.test_client()
    assert login(phone).status_code == 303 and login(laptop).status_code == 303
    assert phone.post("/console/logout", data={"csrf_token": csrf_of(phone)}, base_url=HTTPS).status_code == 303
    assert on_console(laptop)


def test_a_session_ends_12_hours_after_login_however_active(paper_bridge, clock, services):
    client = paper_bridge.client
    assert login(client).status_code == 303
    csrf = csrf_of(client)
    for _ in range(11):  # active every hour
        clock.instant += timedelta(hours=1)
        response = client.get("/console", base_url=HTTPS)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers  # activity does not extend the cookie either
    clock.instant += timedelta(minutes=59, seconds=59)
    assert on_console(client)  # 11:59:59 after the login
    clock.instant += timedelta(seconds=1)
    assert not on_console(client)
    assert pause(client, csrf).status_code == 401 and not services.controls.paused()
    assert login(client).status_code == 303 and on_console(client)  # a new login: 12 new hours


def test_a_session_id_is_not_stored_in_the_clear(paper_bridge, services):
    client = paper_bridge.client
    assert login(client).status_code == 303
    keys = services.store.list("console/sessions/")
    assert len(keys) == 1
    with paper_bridge.app.test_request_context():
        cookie = client.get_cookie("bridge_console", domain="bridge.test").value
        session_id = paper_bridge.app.session_interface.get_signing_serializer(paper_bridge.app).loads(cookie)["sid"]
    assert session_id not in keys[0]


# -- Cloud Scheduler: Google-signed OIDC tokens ------------------------------------------------------------


@pytest.fixture(scope="module")
def google():
    fake = FakeGoogleCerts().start()
    yield fake
    fake.stop()


@pytest.fixture
def scheduled(make_bridge, fyers_settings, google):
    """A Fyers bridge whose jobs accept the scheduler's OIDC token, checked against the fake's keys."""
    return make_bridge(
        settings=fyers_settings,
        scheduler_service_account=SCHEDULER,
        scheduler_audience=SERVICE_URL,
        scheduler_certs_url=google.url,
    )


def scheduler_token(google, **claims) -> str:
    return google.key.id_token(audience=SERVICE_URL, email=SCHEDULER, **claims)


def call(client, method, path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.open(path, method=method, headers=headers)


@pytest.mark.parametrize("method, path", JOBS)
def test_the_scheduler_s_token_runs_the_job(scheduled, google, method, path):
    response = call(scheduled.client, method, path, scheduler_token(google))
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("method, path", JOBS)
def test_a_person_may_still_run_a_job_with_the_admin_token(scheduled, method, path):
    assert call(scheduled.client, method, path, ADMIN).status_code == 200


@pytest.mark.parametrize("method, path", JOBS)
@pytest.mark.parametrize("token", [None, "", "wrong-token-0000", SECRET, "a.b.c", "e30.e30.e30"])
def test_a_job_call_with_neither_token_is_refused(scheduled, method, path, token):
    response = call(scheduled.client, method, path, token)
    assert response.status_code == 401 and response.json["status"] == "unauthorized"


def _tampered(token: str, **changes) -> str:
    """The token with its claims changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(**claims) -> str:
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


REFUSED_TOKENS = {
    "another-audience": lambda g: g.key.id_token(audience="https://other-service-xyz-el.a.run.app", email=SCHEDULER),
    "the-job-url-as-audience": lambda g: g.key.id_token(audience=f"{SERVICE_URL}/reconcile", email=SCHEDULER),
    "another-account": lambda g: g.key.id_token(
        audience=SERVICE_URL, email="someone-else@other-project.iam.gserviceaccount.com"
    ),
    "no-email": lambda g: g.key.id_token(audience=SERVICE_URL, email=None),
    "email-unverified": lambda g: scheduler_token(g, email_verified=False),
    "email-verified-missing": lambda g: scheduler_token(g, email_verified=None),
    "another-issuer": lambda g: scheduler_token(g, iss="https://issuer.example"),
    "expired": lambda g: scheduler_token(g, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "unpublished-key": lambda g: GoogleKey(g.key.kid).id_token(audience=SERVICE_URL, email=SCHEDULER),
    "unknown-kid": lambda g: GoogleKey("another-kid").id_token(audience=SERVICE_URL, email=SCHEDULER),
    "claims-changed": lambda g: _tampered(
        g.key.id_token(audience=SERVICE_URL, email="someone-else@other-project.iam.gserviceaccount.com"),
        email=SCHEDULER,
    ),
    "alg-none": lambda g: _unsigned(
        iss="https://accounts.google.com", aud=SERVICE_URL, email=SCHEDULER, email_verified=True,
        iat=int(time.time()), exp=int(time.time()) + 600,
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED_TOKENS))
def test_a_token_for_another_audience_or_account_or_signer_is_refused(scheduled, google, name):
    token = REFUSED_TOKENS[name](google)
    for method, path in JOBS:
        response = call(scheduled.client, method, path, token)
        assert response.status_code == 401 and response.json["status"] == "unauthorized", (name, path)
        assert token not in response.get_data(as_text=True)


def test_the_scheduler_s_token_opens_no_other_door(scheduled, google, services):
    token = scheduler_token(google)
    others = [
        ("GET", "/orders"), ("POST", "/admin/pause"), ("GET", "/admin/status"), ("GET", "/token-status"),
        ("GET", "/auth-url"), ("POST", "/generate-token"), ("GET", "/queue"),
    ]
    for method, path in others:
        assert call(scheduled.client, method, path, token).status_code == 401, path
    assert not scheduled.services.controls.paused()


def test_without_a_scheduler_account_a_google_token_is_not_enough(fyers_bridge, google):
    for method, path in JOBS:
        assert call(fyers_bridge.client, method, path, scheduler_token(google)).status_code == 401


def test_google_s_keys_are_fetched_once_and_kept_a_while(scheduled, google):
    before = google.fetches
    for _ in range(3):
        assert call(scheduled.client, "POST", "/reconcile", scheduler_token(google)).status_code == 200
    assert google.fetches - before == 1
    for _ in range(3):  # junk that is not shaped like a token costs no fetch
        assert call(scheduled.client, "POST", "/reconcile", "not-a-jwt-0000000").status_code == 401
    assert google.fetches - before == 1


def test_unreachable_keys_refuse_the_call_with_503(make_bridge, fyers_settings, google):
    silent = SilentServer()
    silent.close()  # nothing listens there now: the connection is refused at once
    bridge = make_bridge(
        settings=fyers_settings, scheduler_service_account=SCHEDULER, scheduler_audience=SERVICE_URL,
        scheduler_certs_url=silent.url,
    )
    response = call(bridge.client, "POST", "/reconcile", scheduler_token(google))
    assert response.status_code == 503 and response.json["status"] == "unauthorized"
    assert "unreachable" in response.json["message"]


def test_the_keys_fetch_has_a_deadline(google):
    silent = SilentServer()  # accepts, never answers
    try:
        verifier = GoogleOidcVerifier(SCHEDULER, SERVICE_URL, silent.url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(VerifierUnavailable):
            verifier.verify(scheduler_token(google))
        assert time.monotonic() - started < 10  # the deadline is 0.5 s; a wide margin for a busy machine
    finally:
        silent.close()


def test_the_verifier_refuses_before_any_fetch_what_is_not_a_token(google):
    verifier = GoogleOidcVerifier(SCHEDULER, SERVICE_URL, google.url)
    before = google.fetches
    for junk in ("", "abc", "a.b", "a.b.c.d", "x" * 5000 + ".y.z"):
        with pytest.raises(Unauthorized):
            verifier.verify(junk)
    assert google.fetches == before


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SCHEDULER_SERVICE_ACCOUNT": SCHEDULER}, "SCHEDULER_SERVICE_ACCOUNT and SCHEDULER_AUDIENCE"),
        ({"SCHEDULER_AUDIENCE": SERVICE_URL}, "SCHEDULER_SERVICE_ACCOUNT and SCHEDULER_AUDIENCE"),
        ({"SCHEDULER_SERVICE_ACCOUNT": SCHEDULER, "SCHEDULER_AUDIENCE": "not-a-url"}, "SCHEDULER_AUDIENCE"),
        ({"SCHEDULER_CERTS_URL": "file:///etc/passwd"}, "SCHEDULER_CERTS_URL"),
    ],
)
def test_scheduler_settings_are_checked_at_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_scheduler_settings_default_to_google_and_off():
    settings = Settings.from_env({})
    assert settings.scheduler_service_account is None and settings.scheduler_audience is None
    assert settings.scheduler_certs_url == "https://www.googleapis.com/oauth2/v1/certs"
