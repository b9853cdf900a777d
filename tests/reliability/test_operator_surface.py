"""The operator surface under attack: the admin token, the login callback, the sender allowlist.

- Every operator endpoint (every API route but the public ones) refuses a missing, wrong or
  malformed admin token with 401 JSON, on the paper app and on the Fyers app; the comparison
  is constant-time (`hmac.compare_digest`, checked in the source, never timed). The console
  (/console) refuses the same tokens at its login, and its actions need the session and its
  CSRF token.
- /auth/callback refuses an unknown, forged, malformed, expired or reused `state` (and one
  from another browser: tests/test_login_binding.py), and then never exchanges the auth code.
- ALLOWED_SOURCE_IPS / TRUSTED_PROXY_HOPS: off by default; on, a sender outside the list gets
  403 `forbidden` and places nothing, TradingView's addresses pass, X-Forwarded-For counts only
  through trusted proxies and a forged earlier entry does not help.
"""

from __future__ import annotations

import ast
import base64
import itertools
import json
import re
import secrets
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest

from app.settings import TRADINGVIEW_IPS, ConfigError, Settings
from tests.conftest import ADMIN, SECRET, admin_headers, at_fyers, login_link, path_of, seed_alert
from tests.reliability.test_hostile_input import fresh_key, soak_results, tally  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
# The routes anyone may call; every other route is an operator endpoint.
PUBLIC = {
    ("/health", "GET"),
    ("/readyz", "GET"),
    ("/readyz/startup", "GET"),
    ("/webhook", "POST"),
    ("/webhook/test", "POST"),
    ("/auth/callback", "GET"),
    ("/auth/start", "GET"),  # its single-use link token is the credential
    ("/openapi.json", "GET"),
    ("/fyers/postback", "POST"),  # Fyers signs nothing: a doorbell, read back from the order book before believed
}
CONSOLE = "/console"  # the operator's browser pages: a session cookie, not a bearer token (below)
# The operator endpoints the brief names; any later one is covered by the url_map walk too.
NAMED_OPERATOR_ENDPOINTS = {
    ("/auth-url", "GET"),
    ("/generate-token", "POST"),
    ("/refresh-token", "POST"),
    ("/token-status", "GET"),
    ("/reconcile", "POST"),
    ("/orders", "GET"),
}
# TradingView's documented webhook senders, written out independently of app/settings.py.
TRADINGVIEW = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
OUTSIDER = "203.0.113.9"  # TEST-NET-3
CLOUD_RUN_FRONT_END = "169.254.1.1"


_LOGIN_SOURCES = (f"198.51.100.{n % 250 + 1}" for n in itertools.count())  # TEST-NET-2


def send(tally, client, method: str, path: str, **kwargs):
    if path == "/console/login" and "environ_base" not in kwargs:
        # The console login pauses a source after 5 failures (tests/test_operator_surface_hardening.py):
        # each attempt here comes from its own address, so what these tests see is the refusal itself.
        kwargs["environ_base"] = {"REMOTE_ADDR": next(_LOGIN_SOURCES)}
    response = client.open(path, method=method, **kwargs)
    html = path.startswith(("/auth/callback", "/auth/start", CONSOLE))  # HTML by contract
    tally.sent(response, webhook=(method, path) == ("POST", "/webhook"), json_expected=not html)
    return response


def operator_endpoints(app) -> list[tuple[str, str]]:
    """Every (path, method) of the HTTP API except the public ones; path variables filled in."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(CONSOLE):
            continue
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.rule, method) not in PUBLIC:
                found.add((path, method))
    return sorted(found)


# -- The admin token ---------------------------------------------------------------------------------

REFUSED_HEADERS = {
    "missing": None,
    "empty": "",
    "no-scheme": ADMIN,
    "basic": f"Basic {ADMIN}",
    "basic-base64": "Basic " + base64.b64encode(f"admin:{ADMIN}".encode()).decode(),
    "token-scheme": f"Token {ADMIN}",
    "bearer-alone": "Bearer",
    "bearer-empty": "Bearer ",
    "bearer-spaces": "Bearer    ",
    "bearer-no-space": f"Bearer{ADMIN}",
    "bearer-tab": f"Bearer\t{ADMIN}",
    "prefix": f"Bearer {ADMIN[:-1]}",
    "first-char": f"Bearer {ADMIN[:1]}",
    "plus-a-char": f"Bearer {ADMIN}x",
    "char-plus": f"Bearer x{ADMIN}",
    "last-char-changed": f"Bearer {ADMIN[:-1]}{chr(ord(ADMIN[-1]) + 1)}",
    "token-upper": f"Bearer {ADMIN.upper()}",
    "twice": f"Bearer {ADMIN} {ADMIN}",
    "comma": f"Bearer {ADMIN},",
    "quoted": f'Bearer "{ADMIN}"',
    "wrong": "Bearer wrong",
    "webhook-secret": f"Bearer {SECRET}",
    "null-word": "Bearer None",
    "non-ascii": "Bearer " + "ключ-é".encode().decode("latin-1"),
    "latin-1": "Bearer ÿ" + ADMIN,
    "long": "Bearer " + "A" * 8000,
    "jwt-shaped": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
}
ACCEPTED_HEADERS = {
    "canonical": f"Bearer {ADMIN}",
    "lower": f"bearer {ADMIN}",
    "upper": f"BEARER {ADMIN}",
    "mixed": f"BeArEr {ADMIN}",
}


def _check_refusals(tally, client, app, extra_headers=None) -> list[str]:
    """Every operator endpoint × every refused header: the failures, as readable lines."""
    failures = []
    for path, method in operator_endpoints(app):
        for name, value in REFUSED_HEADERS.items():
            headers = dict(extra_headers or {})
            if value is not None:
                headers["Authorization"] = value
            response = send(tally, client, method, path, headers=headers, json={"auth_code": "x" * 10})
            body = response.json if response.mimetype == "application/json" else None
            if response.status_code != 401 or not isinstance(body, dict) or body.get("status") != "unauthorized":
                failures.append(
                    f"{method} {path} [{name}]: {response.status_code} {response.get_data(as_text=True)[:120]}"
                )
            elif ADMIN in response.get_data(as_text=True):
                failures.append(f"{method} {path} [{name}]: the answer repeats the admin token")
    return failures


def test_the_operator_endpoints_include_the_named_six(app):
    assert NAMED_OPERATOR_ENDPOINTS <= set(operator_endpoints(app))


def test_every_operator_endpoint_refuses_a_bad_admin_token_on_paper(app, client, paper, tally):
    assert _check_refusals(tally, client, app) == []
    assert paper.orders == []


def test_every_operator_endpoint_refuses_a_bad_admin_token_on_fyers(fyers_bridge, fake_fyers, tally):
    app = fyers_bridge.app
    # Query-string and cookie tokens are not credentials either.
    failures = _check_refusals(
        tally, app.test_client(), app, {"Cookie": f"admin_token={ADMIN}", "X-Admin-Token": ADMIN}
    )
    assert failures == []
    assert fake_fyers.calls == []  # nothing reached Fyers


def test_a_token_in_the_query_string_is_not_a_credential(app, client, tally):
    for path, method in operator_endpoints(app):
        response = send(tally, client, method, f"{path}?token={ADMIN}&admin_token={ADMIN}&access_token={ADMIN}")
        assert response.status_code == 401, (method, path)


@pytest.mark.parametrize("name", sorted(ACCEPTED_HEADERS))
@pytest.mark.parametrize("broker", ["paper", "fyers"])
def test_the_bearer_scheme_is_case_insensitive(request, tally, name, broker):
    app = request.getfixturevalue("paper_bridge" if broker == "paper" else "fyers_bridge").app
    client = app.test_client()
    for path, method in [("/token-status", "GET"), ("/orders", "GET"), ("/admin/status", "GET")]:
        if (path, method) not in operator_endpoints(app):
            continue
        response = send(tally, client, method, path, headers={"Authorization": ACCEPTED_HEADERS[name]})
        assert response.status_code != 401 and response.status_code < 500, (path, response.get_data(as_text=True))
        assert response.mimetype == "application/json"


def test_without_an_admin_token_configured_every_operator_endpoint_is_closed(make_bridge, tmp_path, tally):
    settings = Settings(webhook_secret_token=SECRET, state_dir=str(tmp_path / "var"))  # ADMIN_TOKEN unset
    app = make_bridge(settings=settings).app
    client = app.test_client()
    for path, method in operator_endpoints(app):
        for value in ("Bearer ", "Bearer None", "Bearer null", "Bearer", f"Bearer {ADMIN}", "Bearer undefined"):
            response = send(tally, client, method, path, headers={"Authorization": value})
            assert response.status_code == 401 and response.json["status"] == "unauthorized", (method, path, value)


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return {node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _compare_digest_calls(node: ast.AST) -> list[ast.Call]:
    """Calls of hmac.compare_digest, or of app.security.same_secret (which is one: see below)."""
    return [
        call
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and (
            (
                isinstance(call.func, ast.Attribute)
                and call.func.attr == "compare_digest"
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id in ("hmac", "secrets")
            )
            or (isinstance(call.func, ast.Name) and call.func.id == "same_secret")
        )
    ]


def test_same_secret_is_hmac_compare_digest():
    same_secret = _functions(ROOT / "app" / "security.py")["same_secret"]
    calls = [
        c for c in ast.walk(same_secret)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "compare_digest"
    ]
    assert calls and not _names_compared(same_secret) & {"given", "expected"}


def _names_compared(node: ast.AST) -> set[str]:
    """Names inside ==, !=, <, in comparisons (not `is None`), or str methods like startswith."""
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Compare) and not all(isinstance(op, (ast.Is, ast.IsNot)) for op in child.ops):
            for part in [child.left, *child.comparators]:
                names |= {n.id for n in ast.walk(part) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(part) if isinstance(n, ast.Attribute)}
        if (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr in ("startswith", "endswith", "find", "index")
        ):
            names |= {n.id for n in ast.walk(child) if isinstance(n, ast.Name)}
    return names


def test_the_admin_token_is_compared_in_constant_time():
    """A source check of app/web/admin.py: hmac.compare_digest, and no == on the secret."""
    functions = _functions(ROOT / "app" / "web" / "admin.py")
    guard = functions["require_admin"]
    calls = _compare_digest_calls(guard)
    assert calls, "require_admin must compare with hmac.compare_digest"
    compared = {n.id for call in calls for n in ast.walk(call) if isinstance(n, ast.Name)}
    assert {"expected", "presented"} <= compared or "admin_token" in ast.unparse(calls[0])
    leaking = _names_compared(guard) & {"expected", "presented", "admin_token", "token"}
    assert leaking == set(), f"the admin token also goes through a non-constant-time comparison: {leaking}"


def test_the_webhook_secret_is_compared_in_constant_time():
    functions = _functions(ROOT / "app" / "security.py")
    authenticate = functions["authenticate_alert"]
    assert _compare_digest_calls(authenticate), "the webhook secret must be compared with hmac.compare_digest"
    leaking = _names_compared(authenticate) & {"token", "webhook_secret", "expected", "signature"}
    assert leaking == set(), f"the secret also goes through a non-constant-time comparison: {leaking}"


# -- The console: a session cookie from the admin token, and a CSRF token on every action ----------------

HTTPS = "https://bridge.test"  # the session cookie is Secure
CONSOLE_ACTIONS = ["/console/pause", "/console/resume", "/console/logout", "/console/fyers-login"]
REFUSED_FORM_TOKENS = [
    "",
    " ",
    ADMIN[:-1],
    ADMIN + "x",
    " " + ADMIN,
    ADMIN.upper(),
    f"Bearer {ADMIN}",
    SECRET,
    "None",
    "null",
    "A" * 8000,
    "ключ",
    ADMIN + "\x00",
]
# Raw form bodies a browser would not send: invalid UTF-8 escapes, a NUL, the token split.
REFUSED_RAW_FORMS = [
    b"admin_token=%ED%A0%80",
    b"admin_token=%FF%FE",
    b"admin_token=" + ADMIN.encode() + b"%00",
    b"admin_token=" + ADMIN[:5].encode() + b"&admin_token=" + ADMIN[5:].encode(),
    b"admin_token",
    b"=" + ADMIN.encode(),
]


def console_post(tally, client, path, **form):
    return send(tally, client, "POST", path, data=form, base_url=HTTPS)


def console_session(client) -> bool:
    """Whether the client holds a console session: /console shows the page instead of the login."""
    return client.get("/console", base_url=HTTPS).status_code == 200


def csrf_of(client) -> str:
    page = client.get("/console", base_url=HTTPS).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_console_pages_need_a_session(app, client, services, tally):
    response = send(tally, client, "GET", "/console", base_url=HTTPS)
    assert response.status_code == 303 and response.headers["Location"].endswith("/console/login")
    for path in CONSOLE_ACTIONS:
        response = console_post(tally, client, path, csrf_token="x", reason="attacker")
        assert response.status_code == 401, (path, response.status_code)
    assert not services.controls.paused()


@pytest.mark.parametrize("broker", ["paper", "fyers"])
def test_the_console_login_refuses_a_wrong_token(request, tally, broker):
    client = request.getfixturevalue("paper_bridge" if broker == "paper" else "fyers_bridge").client
    for token in REFUSED_FORM_TOKENS:
        response = console_post(tally, client, "/console/login", admin_token=token)
        assert response.status_code == 401, (token[:20], response.status_code)
        assert "bridge_console" not in response.headers.get("Set-Cookie", "") or not console_session(client)
        assert ADMIN not in response.get_data(as_text=True)
    for raw in REFUSED_RAW_FORMS:
        response = send(
            tally,
            client,
            "POST",
            "/console/login",
            data=raw,
            content_type="application/x-www-form-urlencoded",
            base_url=HTTPS,
        )
        assert response.status_code == 401, (raw[:30], response.status_code)
    assert not console_session(client)
    for form in ({}, {"token": ADMIN}, {"admin_token[]": ADMIN}):  # the wrong field is no token
        assert console_post(tally, client, "/console/login", **form).status_code == 401
    # The control: the right token opens a session.
    response = console_post(tally, client, "/console/login", admin_token=ADMIN)
    assert response.status_code == 303 and console_session(client)


def test_console_actions_need_the_session_csrf_token(app, client, services, tally):
    assert console_post(tally, client, "/console/login", admin_token=ADMIN).status_code == 303
    csrf = csrf_of(client)
    other = app.test_client()
    assert console_post(tally, other, "/console/login", admin_token=ADMIN).status_code == 303
    someone_elses = csrf_of(other)
    changed_case = csrf.upper() if csrf.upper() != csrf else csrf.lower()
    for forged in ("", "x", csrf[:-1], csrf + "x", changed_case, someone_elses):
        response = console_post(tally, client, "/console/pause", csrf_token=forged, reason="forged")
        assert response.status_code == 403, (forged, response.status_code)
    response = send(tally, client, "POST", "/console/pause", query_string={"csrf_token": csrf}, base_url=HTTPS)
    assert response.status_code == 403  # in the query string it does not count
    assert not services.controls.paused()
    # The control: the page's own token works.
    assert console_post(tally, client, "/console/pause", csrf_token=csrf, reason="test").status_code == 303
    assert services.controls.paused()


def test_a_forged_or_foreign_session_cookie_is_refused(make_bridge, client, services, tmp_path, tally):
    from flask import Flask

    forger = Flask("forger")
    forger.secret_key = "not-the-derived-key"
    forged = forger.session_interface.get_signing_serializer(forger).dumps({"admin": True, "csrf": "forged-csrf"})
    # A session opened on a bridge with another admin token (the token was rotated, or another
    # deployment): "changing the token signs everybody out".
    rotated = Settings(webhook_secret_token=SECRET, admin_token=ADMIN + "-old", state_dir=str(tmp_path / "old"))
    old_client = make_bridge(settings=rotated).client
    assert console_post(tally, old_client, "/console/login", admin_token=ADMIN + "-old").status_code == 303
    foreign = old_client.get_cookie("bridge_console", domain="bridge.test").value
    for cookie in (forged, foreign, foreign[:-2], "", "e30", "." + forged):
        client.set_cookie("bridge_console", cookie, domain="bridge.test")
        assert not console_session(client), cookie[:30]
        response = console_post(tally, client, "/console/pause", csrf_token="forged-csrf", reason="forged")
        assert response.status_code == 401, (cookie[:30], response.status_code)
    assert not services.controls.paused()


def test_without_an_admin_token_nobody_enters_the_console(make_bridge, tmp_path, tally):
    settings = Settings(webhook_secret_token=SECRET, state_dir=str(tmp_path / "var"))  # ADMIN_TOKEN unset
    client = make_bridge(settings=settings).client
    for token in ("", "None", "null", "undefined", ADMIN):
        assert console_post(tally, client, "/console/login", admin_token=token).status_code == 401
    assert not console_session(client)


def test_the_console_compares_in_constant_time():
    # The CSRF check lives in console_security.require_session (shared with the Trusted devices page).
    web = ROOT / "app" / "web"
    functions = {**_functions(web / "console.py"), **_functions(web / "console_security.py")}
    for name in ("login", "require_session"):
        assert _compare_digest_calls(functions[name]), f"console.{name} must use hmac.compare_digest"
        leaking = _names_compared(functions[name]) & {"expected", "given", "admin_token", "csrf"}
        assert leaking == set(), f"console.{name} also compares {leaking} in non-constant time"


# -- The login callback -----------------------------------------------------------------------------------


def login_query(client) -> dict[str, str]:
    """Start a login in this client's browser and follow Fyers's redirect: the callback's query (auth_code, state)."""
    callback_path = at_fyers(client.get(path_of(login_link(client))))
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback_path).query))


def callback(tally, client, query) -> object:
    path = "/auth/callback"
    if query:
        path += "?" + (query if isinstance(query, str) else urllib.parse.urlencode(query))
    return send(tally, client, "GET", path)


def logged_in(client) -> bool:
    return client.get("/token-status", headers=admin_headers()).json["logged_in"]


def assert_login_failed(response):
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "Login failed" in response.get_data(as_text=True)


def test_a_real_login_works(fyers_client, fake_fyers, tally):
    """The control: the same steps with the state Fyers sent back log in."""
    response = callback(tally, fyers_client, login_query(fyers_client))
    assert response.status_code == 200 and "Logged in" in response.get_data(as_text=True)
    assert logged_in(fyers_client) and fake_fyers.count("validate-authcode") == 1


def test_an_unknown_state_is_refused_and_the_code_never_exchanged(fyers_client, fake_fyers, tally):
    query = {"s": "ok", "auth_code": fake_fyers.issue_auth_code(), "state": secrets.token_urlsafe(24)}
    assert_login_failed(callback(tally, fyers_client, query))
    assert not logged_in(fyers_client) and fake_fyers.count("validate-authcode") == 0


def test_a_forged_state_is_refused_and_the_real_one_still_works(fyers_client, fake_fyers, tally):
    real = login_query(fyers_client)
    state = real["state"]
    forgeries = [
        state[:-1] + ("A" if state[-1] != "A" else "B"),  # one character changed
        state[:-1],  # a prefix
        state + "A",  # one character more
        state.upper() if state.upper() != state else state.lower(),
        " " + state,
        state + "\x00",
        urllib.parse.quote(state + "/", safe=""),
    ]
    for forged in forgeries:
        assert_login_failed(callback(tally, fyers_client, {**real, "state": forged}))
    assert not logged_in(fyers_client) and fake_fyers.count("validate-authcode") == 0
    response = callback(tally, fyers_client, real)
    assert response.status_code == 200 and logged_in(fyers_client)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=",
        "auth_code=abc",
        "state=short",
        "state=" + "A" * 129,
        "state=" + "A" * 5000,
        "state=%00%00%00%00%00%00%00%00",
        "state=" + urllib.parse.quote("ключ-состояния-12"),
        "state=" + urllib.parse.quote("<script>alert(1)</script>"),
        "state=../../../../etc/passwd",
        "state[]=x&state[]=y",
    ],
    ids=[
        "none", "empty", "code-only", "short", "129-chars", "5000-chars",
        "nul", "cyrillic", "script", "traversal", "array",
    ],
)
def test_a_malformed_state_is_refused(fyers_client, fake_fyers, tally, query):
    response = callback(tally, fyers_client, query)
    assert_login_failed(response)
    assert "<script>alert(1)" not in response.get_data(as_text=True)  # nothing reflected unescaped
    assert not logged_in(fyers_client) and fake_fyers.count("validate-authcode") == 0


def test_a_second_state_parameter_does_not_smuggle_a_real_one(fyers_client, fake_fyers, tally):
    real = login_query(fyers_client)
    query = urllib.parse.urlencode(
        [("auth_code", real["auth_code"]), ("state", "forged-state-0000"), ("state", real["state"])]
    )
    assert_login_failed(callback(tally, fyers_client, query))
    assert not logged_in(fyers_client)


def test_an_expired_state_is_refused(fyers_client, fake_fyers, clock, tally):
    query = login_query(fyers_client)
    clock.instant += timedelta(minutes=15, seconds=1)  # login states last 15 minutes
    assert_login_failed(callback(tally, fyers_client, query))
    assert not logged_in(fyers_client) and fake_fyers.count("validate-authcode") == 0
    # Expired is also spent: coming back to the old clock does not revive it.
    clock.instant -= timedelta(minutes=15, seconds=1)
    assert_login_failed(callback(tally, fyers_client, query))


def test_a_state_just_inside_its_15_minutes_is_accepted(fyers_client, fake_fyers, clock, tally):
    query = login_query(fyers_client)
    clock.instant += timedelta(minutes=15) - timedelta(seconds=1)
    response = callback(tally, fyers_client, query)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_reused_state_is_refused_and_the_code_not_exchanged_again(fyers_client, fake_fyers, tally):
    query = login_query(fyers_client)
    assert callback(tally, fyers_client, query).status_code == 200
    assert_login_failed(callback(tally, fyers_client, query))
    # Even with a fresh, valid auth code, the spent state stays spent.
    assert_login_failed(callback(tally, fyers_client, {**query, "auth_code": fake_fyers.issue_auth_code()}))
    assert fake_fyers.count("validate-authcode") == 1


def test_a_state_from_another_deployment_is_refused(
    fyers_client, fake_fyers, make_bridge, tmp_path, fyers_settings, tally
):
    """A state issued by another bridge (another state store) is unknown here."""
    other = make_bridge(settings=fyers_settings, state_dir=str(tmp_path / "other"))
    other_query = login_query(other.client)
    assert_login_failed(callback(tally, fyers_client, other_query))
    assert not logged_in(fyers_client)


def test_a_valid_state_with_a_hostile_auth_code_is_a_login_failure_page(fyers_client, fake_fyers, tally):
    for code in ["", "x", "A" * 5000, "<script>alert(1)</script>", "eyJhbGciOiJub25lIn0.e30."]:
        query = {**login_query(fyers_client), "auth_code": code}
        response = callback(tally, fyers_client, query)
        assert response.status_code in (400, 422, 503), response.status_code
        assert "Login failed" in response.get_data(as_text=True)
        assert "<script>alert(1)" not in response.get_data(as_text=True)
    assert not logged_in(fyers_client)


# -- The sender allowlist ------------------------------------------------------------------------------------


def allowlisted(make_bridge, tmp_path, ips=(), hops=0):
    """A paper bridge with the sender allowlist: its client and the paper broker's book."""
    bridge = make_bridge(
        state_dir=str(tmp_path / f"var-{secrets.token_hex(4)}"),
        allowed_source_ips=tuple(ips),
        trusted_proxy_hops=hops,
    )
    return bridge.client, bridge.paper


def alert_from(tally, client, address: str, forwarded: str | None = None, path: str = "/webhook", alert=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return send(
        tally,
        client,
        "POST",
        path,
        data=json.dumps(alert or seed_alert(idempotency_key=fresh_key())),
        content_type="application/json",
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def assert_forbidden(response):
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.mimetype == "application/json" and response.json["status"] == "forbidden"


def test_the_allowlist_is_off_by_default(make_bridge, tmp_path, tally):
    tally.hostile = False
    assert Settings().allowed_source_ips == () and Settings.from_env({}).allowed_source_ips == ()
    client, paper = allowlisted(make_bridge, tmp_path)
    for address in (OUTSIDER, "10.0.0.1", "::1", "2001:db8::1", TRADINGVIEW[0]):
        assert alert_from(tally, client, address, forwarded="garbage").status_code == 200
    assert len(paper.orders) == 5


def test_on_an_outsider_is_403_and_places_nothing_tradingview_passes(make_bridge, tmp_path, tally):
    tally.hostile = False  # the TradingView alerts are valid and placed
    client, paper = allowlisted(make_bridge, tmp_path, ips=TRADINGVIEW_IPS)
    for address in (OUTSIDER, "10.0.0.1", "127.0.0.1", "::1", "52.89.214.239", "52.89.214.237"):
        assert_forbidden(alert_from(tally, client, address))
        assert_forbidden(alert_from(tally, client, address, path="/webhook/test"))
    assert paper.orders == []
    for address in TRADINGVIEW:
        response = alert_from(tally, client, address)
        assert response.status_code == 200 and response.json["status"] == "placed", response.json
    assert len(paper.orders) == len(TRADINGVIEW)


def test_without_trusted_hops_x_forwarded_for_is_ignored(make_bridge, tmp_path, tally):
    client, paper = allowlisted(make_bridge, tmp_path, ips=TRADINGVIEW_IPS, hops=0)
    for forwarded in (TRADINGVIEW[0], f"{TRADINGVIEW[0]}, {TRADINGVIEW[1]}", f"{OUTSIDER}, {TRADINGVIEW[0]}"):
        assert_forbidden(alert_from(tally, client, OUTSIDER, forwarded=forwarded))
    assert paper.orders == []


def test_behind_one_trusted_proxy_the_last_forwarded_entry_is_the_sender(make_bridge, tmp_path, tally):
    tally.hostile = False
    client, paper = allowlisted(make_bridge, tmp_path, ips=TRADINGVIEW_IPS, hops=1)
    # Cloud Run's front end appends the real client: a forged earlier entry does not help.
    for forwarded in (
        f"{TRADINGVIEW[0]}, {OUTSIDER}", f"{TRADINGVIEW[0]},{OUTSIDER}", OUTSIDER, f"{TRADINGVIEW[0]}, 10.0.0.1"
    ):
        assert_forbidden(alert_from(tally, client, CLOUD_RUN_FRONT_END, forwarded=forwarded))
    # No X-Forwarded-For: the peer itself (the front end) is the sender, and is not allowed.
    assert_forbidden(alert_from(tally, client, CLOUD_RUN_FRONT_END))
    # Unreadable entries fail closed.
    for forwarded in ("unknown", "not-an-ip", f"{TRADINGVIEW[0]}:443", ",", " , ", "[::1]"):
        assert_forbidden(alert_from(tally, client, CLOUD_RUN_FRONT_END, forwarded=forwarded))
    assert paper.orders == []
    for forwarded in (TRADINGVIEW[0], f"{OUTSIDER}, {TRADINGVIEW[1]}", f"  {TRADINGVIEW[2]}  "):
        response = alert_from(tally, client, CLOUD_RUN_FRONT_END, forwarded=forwarded)
        assert response.status_code == 200, (forwarded, response.get_data(as_text=True))
    assert len(paper.orders) == 3


def test_behind_two_trusted_proxies_the_second_last_entry_is_the_sender(make_bridge, tmp_path, tally):
    tally.hostile = False
    client, paper = allowlisted(make_bridge, tmp_path, ips=TRADINGVIEW_IPS, hops=2)
    assert alert_from(tally, client, "10.0.0.2", forwarded=f"{TRADINGVIEW[0]}, 10.0.0.1").status_code == 200
    assert_forbidden(alert_from(tally, client, "10.0.0.2", forwarded=f"{TRADINGVIEW[0]}, {OUTSIDER}, 10.0.0.1"))
    assert_forbidden(alert_from(tally, client, "10.0.0.2", forwarded=TRADINGVIEW[0]))  # too few hops: the peer
    assert len(paper.orders) == 1


def test_cidr_ranges_v4_and_v6(make_bridge, tmp_path, tally):
    tally.hostile = False
    client, paper = allowlisted(make_bridge, tmp_path, ips=("10.0.0.0/8", "2001:db8::/32"))
    for address in ("10.0.0.1", "10.255.255.255", "2001:db8::1", "2001:db8:ffff::1"):
        assert alert_from(tally, client, address).status_code == 200, address
    for address in ("11.0.0.1", "9.255.255.255", "2001:db9::1", "::1", OUTSIDER):
        assert_forbidden(alert_from(tally, client, address))
    assert len(paper.orders) == 4


@pytest.mark.parametrize("address", ["", "garbage", "999.1.1.1", "10.0.0.1%eth0", "::ffff:zz"])
def test_an_unreadable_peer_address_is_403_never_500(make_bridge, tmp_path, tally, address):
    client, paper = allowlisted(make_bridge, tmp_path, ips=("10.0.0.0/8",))
    assert_forbidden(alert_from(tally, client, address))
    assert paper.orders == []


def test_the_allowlist_is_checked_before_the_secret(make_bridge, tmp_path, tally):
    client, paper = allowlisted(make_bridge, tmp_path, ips=TRADINGVIEW_IPS)
    for alert in (seed_alert(token="wrong"), {"junk": True}, seed_alert(qty=1)):
        assert_forbidden(alert_from(tally, client, OUTSIDER, alert=alert))
    assert paper.orders == []


# -- Parsing ALLOWED_SOURCE_IPS and TRUSTED_PROXY_HOPS ---------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", ()),
        ("tradingview", TRADINGVIEW),
        ("TradingView", TRADINGVIEW),
        (" tradingview , 10.0.0.0/8 ", (*TRADINGVIEW, "10.0.0.0/8")),
        ("10.0.0.0/8,2001:db8::/32", ("10.0.0.0/8", "2001:db8::/32")),
        ("203.0.113.9", ("203.0.113.9",)),
        ("10.1.2.3/8", ("10.1.2.3/8",)),  # host bits set: read as its network
        ("203.0.113.9,,", ("203.0.113.9",)),
    ],
)
def test_allowed_source_ips_parsing(value, expected):
    assert Settings.from_env({"ALLOWED_SOURCE_IPS": value}).allowed_source_ips == expected
    assert set(TRADINGVIEW_IPS) == set(TRADINGVIEW)


@pytest.mark.parametrize(
    "value",
    ["not-an-ip", "10.0.0.0/33", "256.1.1.1", "tradingview;10.0.0.1", "tv", "10.0.0.1 10.0.0.2", "*", "0x0a000001"],
)
def test_a_bad_allowed_source_ips_value_fails_naming_the_variable(value):
    with pytest.raises(ConfigError, match="ALLOWED_SOURCE_IPS"):
        Settings.from_env({"ALLOWED_SOURCE_IPS": value})


@pytest.mark.parametrize("value, expected", [("", 0), ("0", 0), ("1", 1), (" 2 ", 2)])
def test_trusted_proxy_hops_parsing(value, expected):
    assert Settings.from_env({"TRUSTED_PROXY_HOPS": value}).trusted_proxy_hops == expected


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "99"])
def test_a_bad_trusted_proxy_hops_fails_naming_the_variable(value):
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        Settings.from_env({"TRUSTED_PROXY_HOPS": value})


def test_from_the_environment_end_to_end(make_bridge, tmp_path, tally):
    """ALLOWED_SOURCE_IPS=tradingview behind Cloud Run (TRUSTED_PROXY_HOPS=1), as deployed."""
    tally.hostile = False
    settings = Settings.from_env(
        {
            "WEBHOOK_SECRET_TOKEN": SECRET,
            "ADMIN_TOKEN": ADMIN,
            "STATE_DIR": str(tmp_path / "var"),
            "ALLOWED_SOURCE_IPS": "tradingview",
            "TRUSTED_PROXY_HOPS": "1",
        }
    )
    bridge = make_bridge(settings=settings)
    client = bridge.client
    assert alert_from(tally, client, CLOUD_RUN_FRONT_END, forwarded=TRADINGVIEW[3]).status_code == 200
    assert_forbidden(alert_from(tally, client, CLOUD_RUN_FRONT_END, forwarded=f"{TRADINGVIEW[3]}, {OUTSIDER}"))
    assert len(bridge.paper.orders) == 1
