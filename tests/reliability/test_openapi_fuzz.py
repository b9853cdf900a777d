"""Schemathesis against /openapi.json: every operation, positive and negative cases, with and
without the admin token; no 5xx, and every answer as documented (status code, content type,
schema). The document itself must list exactly the routes the app serves.

Like test_hostile_input, each test sends all of its cases and then lists every kind of
failure with its shortest case; the counts go to tests/reliability/.results/hostile.json
under SOAK=1 (POST /webhook cases with a generated token count as hostile inputs).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.settings import Settings
from app.web.openapi import document
from tests.clock import FixedClock
from tests.conftest import (
    ADMIN,
    APP_ID,
    APP_SECRET,
    MARKET_MORNING,
    PIN,
    REDIRECT_URI,
    SECRET,
    build_bridge,
    fyers_settings_for,
)
from tests.reliability.test_hostile_input import _redact, scaled, soak_results, tally  # noqa: F401 (fixtures)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# On Fyers without a login, 503 is the documented answer of /readyz and of an alert
# (login_required): there, any other 5xx is the failure.
FYERS_CHECKS = [check for check in CHECKS if check is not not_a_server_error]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
WEBHOOKS = ("/webhook", "/webhook/test")
# Order matters a little: the webhook cases fill the journal that GET /orders reads, so they go last.
OPERATIONS = sorted(
    ((path, method.upper(), op) for path, item in document()["paths"].items() for method, op in item.items()),
    key=lambda o: (o[0] in WEBHOOKS, o[0], o[1]),
)


def _negatable(op: dict, auth: str) -> bool:
    """Whether schemathesis can build a negative case: something to break, beyond a fixed header.

    A path parameter that is any string cannot be broken (every path segment is a string).
    """
    breakable = [
        p for p in op.get("parameters", []) if p["in"] != "path" or p.get("schema", {}) != {"type": "string"}
    ]
    return bool(breakable or op.get("requestBody") or (op.get("security") and auth == "none"))


def _variants(app_name: str):
    """Operator operations: without / with `Authorization: Bearer <ADMIN>`. The webhooks: the
    token schemathesis generates (never the secret: hostile), or the secret put into the body
    (with the admin header too) so that validation, resolution and the gates answer."""
    for path, method, op in OPERATIONS:
        auths = ("generated-token", "secret-token") if path in WEBHOOKS else ("none", "admin")
        if app_name == "fyers":
            auths = auths[1:]  # the Fyers app: the authorised surface, where the broker is reached
        for auth in auths:
            for mode in ("positive", "negative"):
                if mode == "positive" or _negatable(op, auth):
                    yield pytest.param(path, method, mode, auth, id=f"{method} {path} {mode} {auth}")


def _build(settings: Settings):
    bridge = build_bridge(settings, clock=FixedClock(MARKET_MORNING))
    return bridge, bridge.app, schemathesis.openapi.from_wsgi("/openapi.json", bridge.app)


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    settings = Settings(
        webhook_secret_token=SECRET, admin_token=ADMIN, state_dir=str(tmp_path_factory.mktemp("fuzz") / "var")
    )
    return _build(settings)


@pytest.fixture(scope="module")
def fyers(tmp_path_factory):
    from tests.fakes.fake_fyers import FakeFyers

    fake = FakeFyers(app_id=APP_ID, secret_id=APP_SECRET, pin=PIN, redirect_uri=REDIRECT_URI)
    fake.start()
    settings = fyers_settings_for(fake, tmp_path_factory.mktemp("fuzz-fyers") / "var")
    bridge, app, schema = _build(settings)
    yield bridge, app, schema
    bridge.services.broker.close()
    fake.stop()


def _orders(bridge) -> int:
    # Only the paper broker keeps a book here; on the fake Fyers the alerts are authorised by design.
    return len(bridge.paper.orders) if bridge.paper is not None else 0


def fuzz(built, tally, path, method, mode, auth, *, ci: int, soak: int, deliberate_503: bool = False) -> None:
    bridge, app, schema = built
    operation = schema[path][method]
    tally.hostile = auth != "secret-token"
    strategy = operation.as_strategy(
        generation_mode=GenerationMode(mode), headers=ADMIN_HEADERS if auth in ("admin", "secret-token") else None
    )

    @scaled(ci=ci, soak=soak)
    @given(case=strategy)
    def send(case):
        if auth == "secret-token" and isinstance(case.body, dict):
            case.body["token"] = SECRET  # past authentication: validation, resolution, gates
        before = _orders(bridge)
        response = case.call()
        placed = _orders(bridge) - before
        tally.inputs += 1
        tally.webhook_inputs += path == "/webhook" and tally.hostile
        deliberate = deliberate_503 and response.status_code == 503
        tally.server_errors += response.status_code >= 500 and not deliberate
        content_type = (response.headers.get("content-type") or [""])[0]
        html_by_contract = path in ("/auth/callback", "/auth/start") or response.status_code == 302
        if not html_by_contract and not _is_json_object(content_type, response.content):
            tally.non_json_answers += 1
        problems = []
        if placed and tally.hostile:
            tally.orders += placed
            problems.append("an order was placed for a hostile case")
        if deliberate_503 and response.status_code >= 500 and not deliberate:
            problems.append("Server error")
        try:
            case.validate_response(response, checks=FYERS_CHECKS if deliberate_503 else CHECKS)
        except (AssertionError, BaseExceptionGroup) as failed:
            problems.extend(getattr(f, "title", type(f).__name__) for f in getattr(failed, "exceptions", [failed]))
        for problem in problems:
            sent = (case.method, case.formatted_path, case.query, case.headers, case.body)
            tally.violation(
                f"{problem} ({response.status_code})",
                sent,
                _redact(response.content[:200].decode("utf-8", "replace")),
            )

    send()
    tally.assert_clean()


def _is_json_object(content_type: str, content: bytes) -> bool:
    if not content_type.startswith("application/json"):
        return False
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


@pytest.mark.parametrize("path, method, mode, auth", list(_variants("paper")))
def test_every_operation_on_the_paper_broker_conforms(paper, tally, path, method, mode, auth):
    fuzz(paper, tally, path, method, mode, auth, ci=25, soak=300)


@pytest.mark.parametrize("path, method, mode, auth", list(_variants("fyers")))
def test_every_operation_on_fyers_conforms(fyers, tally, path, method, mode, auth):
    fuzz(fyers, tally, path, method, mode, auth, ci=8, soak=100, deliberate_503=True)


# -- The document and the app agree ------------------------------------------------------------------------

_UNDOCUMENTED_ON_PURPOSE = {("/openapi.json", "GET")}
BROWSER_PAGES = "/console"  # the operator console: HTML pages behind a session, not the HTTP API


def _served(app) -> set[tuple[str, str]]:
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(BROWSER_PAGES):  # not the API
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        path = path.split("{")[0] + "".join("{" + part.split(":")[-1] for part in path.split("{")[1:])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    return served - _UNDOCUMENTED_ON_PURPOSE


def test_the_document_lists_exactly_the_routes_the_app_serves(paper):
    _, app, _ = paper
    documented = {(path, method.upper()) for path, item in document()["paths"].items() for method in item}
    served = _served(app)
    assert served - documented == set(), "served but not in /openapi.json"
    assert documented - served == set(), "in /openapi.json but not served"


def test_the_served_document_is_the_module_document(paper):
    _, app, _ = paper
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == json.loads(json.dumps(document()))


@pytest.mark.parametrize("path, method, op", [pytest.param(*o, id=f"{o[1]} {o[0]}") for o in OPERATIONS])
def test_every_admin_operation_declares_its_401(path, method, op):
    if op.get("security"):
        assert "401" in op["responses"], f"{method} {path} needs the admin token but documents no 401"
