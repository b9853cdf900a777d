"""The fake Fyers server, driven by the real fyers-apiv3 SDK over real HTTP."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fyers_apiv3 import fyersModel

from tests.fakes.fake_fyers import FakeFyers

APP_ID = "TESTAPP-100"
SECRET_ID = "TESTSECRET"
PIN = "1234"
LOT_SIZES = {"NIFTY": 65, "BANKNIFTY": 30, "FINNIFTY": 60, "MIDCPNIFTY": 120}
REDIRECT = "https://bridge.example/auth/callback"
NIFTY_CE = "NSE:NIFTY2612024000CE"  # weekly, 20 Jan 2026
REPO_ROOT = Path(__file__).resolve().parent.parent


def market_order(**overrides):
    """A valid one-lot NIFTY market order in the SDK's shape."""
    order = {
        "symbol": NIFTY_CE, "qty": 65, "type": 2, "side": 1, "productType": "INTRADAY",
        "limitPrice": 0, "stopPrice": 0, "validity": "DAY", "disclosedQty": 0,
        "offlineOrder": False, "stopLoss": 0, "takeProfit": 0, "orderTag": "alert123",
        "isSliceOrder": False,
    }
    order.update(overrides)
    return {k: v for k, v in order.items() if v is not None}


def jwt_claims(token):
    """The payload of a JWT, unverified."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def fake():
    server = FakeFyers(app_id=APP_ID, secret_id=SECRET_ID, pin=PIN, lot_sizes=LOT_SIZES)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sdk(fake, monkeypatch):
    """Point the SDK's base URLs at the fake (restored afterwards)."""
    monkeypatch.setattr(fyersModel.Config, "API", fake.api_base)
    monkeypatch.setattr(fyersModel.Config, "DATA_API", fake.data_base)
    return fake


@pytest.fixture
def make_model(sdk, tmp_path):
    """Build sync FyersModel clients; close their sessions and log files afterwards."""
    models, handlers = [], []

    def make(token=None):
        model = fyersModel.FyersModel(
            client_id=APP_ID, token=token or sdk.issue_token(), is_async=False,
            log_path=str(tmp_path),
        )
        # Every client opens two log files; only the first process-wide is ever attached to
        # the (global) loggers, the others would leak until garbage collection.
        handlers.extend((model.api_logger.logger_handler, model.request_logger.logger_handler))
        models.append(model)
        return model

    yield make
    for model in models:
        model.service.session.close()
    for handler in handlers:
        handler.close()


@pytest.fixture
def model(make_model):
    return make_model()


@pytest.fixture
def http(fake):
    session = requests.Session()
    session.headers["Authorization"] = f"{APP_ID}:{fake.issue_token()}"
    yield session
    session.close()


# ---------------------------------------------------------------- auth


def login(fake, state="st4te"):
    """The browser leg of the login: returns the redirect's query."""
    session = fyersModel.SessionModel(
        client_id=APP_ID, secret_key=SECRET_ID, redirect_uri=REDIRECT, response_type="code",
        state=state, grant_type="authorization_code",
    )
    answer = requests.get(session.generate_authcode(), allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return session, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_login_flow_gives_a_token_that_works(sdk, make_model):
    session, redirect = login(sdk)
    assert redirect["s"] == "ok" and redirect["code"] == "200" and redirect["state"] == "st4te"

    session.set_token(redirect["auth_code"])
    tokens = session.generate_token()
    assert tokens["s"] == "ok" and tokens["code"] == 200
    claims = jwt_claims(tokens["access_token"])
    assert claims["exp"] - claims["iat"] == sdk.access_token_ttl
    assert jwt_claims(tokens["refresh_token"])["exp"] > claims["exp"]

    profile = make_model(tokens["access_token"]).get_profile()
    assert profile["s"] == "ok" and profile["data"]["fy_id"] == "XY12345"

    again = session.generate_token()  # auth codes are single use
    assert again["s"] == "error" and again["code"] == -374


def test_login_errors(sdk):
    session, redirect = login(sdk)
    wrong = fyersModel.SessionModel(client_id=APP_ID, secret_key="WRONG",
                                    grant_type="authorization_code")
    wrong.set_token(redirect["auth_code"])
    assert wrong.generate_token()["code"] == -371

    unknown_app = fyersModel.SessionModel(client_id="OTHER-100", redirect_uri=REDIRECT,
                                          response_type="code", state="x")
    answer = requests.get(unknown_app.generate_authcode(), allow_redirects=False, timeout=5)
    assert answer.status_code == 400 and answer.json()["s"] == "error"


def test_refresh_token(sdk, make_model):
    session, redirect = login(sdk)
    session.set_token(redirect["auth_code"])
    refresh_token = session.generate_token()["refresh_token"]
    url = sdk.api_base + "/validate-refresh-token"
    body = {"grant_type": "refresh_token", "appIdHash": sdk.app_id_hash(),
            "refresh_token": refresh_token, "pin": PIN}

    answer = requests.post(url, json=body, timeout=5).json()
    assert answer["s"] == "ok"
    assert make_model(answer["access_token"]).get_profile()["s"] == "ok"

    assert requests.post(url, json={**body, "pin": "0000"}, timeout=5).json()["s"] == "error"
    unknown = requests.post(url, json={**body, "refresh_token": "x.y.z"}, timeout=5)
    assert unknown.status_code == 401 and unknown.json()["code"] == -17
    sdk.refresh_enabled = False
    refused = requests.post(url, json=body, timeout=5)
    assert refused.status_code == 401 and refused.json()["s"] == "error"


def test_expired_and_invalid_tokens_get_401(sdk, make_model, http):
    model = make_model()
    assert model.get_profile()["s"] == "ok"
    sdk.expire_tokens()
    assert model.get_profile() == {"s": "error", "code": -8,
                                   "message": "Your token has expired. Please generate a token"}
    assert http.get(sdk.api_base + "/profile", timeout=5).status_code == 401
    assert make_model(sdk.issue_token(ttl=0)).get_profile()["code"] == -8
    assert make_model("not-a-token").get_profile()["code"] == -15
    assert make_model().get_profile()["s"] == "ok"  # tokens issued later work


# ---------------------------------------------------------------- market data


def test_quotes(sdk, model):
    answer = model.quotes({"symbols": f"{NIFTY_CE},NSE:NIFTY50-INDEX,NSE:NOSUCH"})
    assert answer["s"] == "ok" and answer["code"] == 200
    option, index, unknown = answer["d"]
    assert option["n"] == NIFTY_CE and option["s"] == "ok"
    assert option["v"]["symbol"] == NIFTY_CE
    lp = option["v"]["lp"]
    assert 50 <= lp <= 500 and abs(lp * 20 - round(lp * 20)) < 1e-6
    assert 25000 < index["v"]["lp"] < 27000
    assert unknown["s"] == "error"
    assert model.quotes({"symbols": NIFTY_CE})["d"][0]["v"]["lp"] == lp  # deterministic

    sdk.set_ltp(NIFTY_CE, 123.45)
    assert model.quotes({"symbols": NIFTY_CE})["d"][0]["v"]["lp"] == 123.45
    too_many = ",".join(f"NSE:NIFTY26120{24000 + 50 * i}CE" for i in range(51))
    assert model.quotes({"symbols": too_many})["s"] == "error"


def test_market_status(sdk, model):
    def fo_status():
        rows = model.market_status()["marketStatus"]
        return next(r["status"] for r in rows
                    if (r["exchange"], r["segment"], r["market_type"]) == (10, 11, "NORMAL"))

    assert fo_status() == "OPEN"
    sdk.market_open = False
    assert fo_status() == "CLOSED"


# ---------------------------------------------------------------- orders


def test_market_order_fills_and_shows_in_book_and_positions(sdk, model):
    sdk.set_ltp(NIFTY_CE, 150.0)
    answer = model.place_order(market_order())
    assert answer["s"] == "ok" and answer["code"] == 1101
    order_id = answer["id"]
    assert re.fullmatch(r"\d{14}", order_id) and order_id in answer["message"]

    by_id = model.orderbook({"id": order_id})["orderBook"]
    by_tag = model.orderbook({"order_tag": "1:alert123"})["orderBook"]
    by_bare_tag = model.orderbook({"order_tag": "alert123"})["orderBook"]
    assert by_id == by_tag == by_bare_tag and len(by_id) == 1
    row = by_id[0]
    assert row["status"] == 2 and row["filledQty"] == 65 and row["tradedPrice"] == 150.0
    assert row["orderTag"] == "1:alert123" and row["symbol"] == NIFTY_CE
    assert model.orderbook({"order_tag": "1:other"})["orderBook"] == []
    assert model.orderbook({"id": "26010100009999"})["code"] == -51

    position = model.positions()["netPositions"][0]
    assert (position["symbol"], position["netQty"], position["side"]) == (NIFTY_CE, 65, 1)
    assert position["productType"] == "INTRADAY"

    model.place_order(market_order(side=-1, orderTag="exit1"))
    position = model.positions()["netPositions"][0]
    assert (position["netQty"], position["side"]) == (0, 0)
    assert len(sdk.placed_orders()) == 2


def test_lot_size_follows_the_underlying(sdk, model):
    def place(symbol, qty):
        return model.place_order(market_order(symbol=symbol, qty=qty))

    assert place("NSE:BANKNIFTY26JAN60000PE", 30)["s"] == "ok"
    assert place("NSE:MIDCPNIFTY26JAN13500CE", 120)["s"] == "ok"
    assert place("NSE:FINNIFTY26JAN27000CE", 65)["code"] == -50
    assert place("NSE:NIFTY26JANFUT", 65)["s"] == "ok"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"qty": 60}, -50),
        ({"qty": 0}, -50),
        ({"symbol": "NSE:NOSUCH26JAN100CE"}, -300),
        ({"symbol": "NIFTY2612024000CE"}, -300),
        ({"type": 9}, -50),
        ({"side": 0}, -50),
        ({"productType": "CNC"}, -50),
        ({"orderTag": "has space"}, -50),
        ({"orderTag": "x" * 31}, -50),
        ({"orderTag": "Untagged"}, -50),
        ({"productType": "CO", "stopLoss": 10, "orderTag": "tag1"}, -50),
        ({"productType": "CO", "orderTag": None}, -50),
        ({"productType": "BO", "stopLoss": 10.02, "takeProfit": 20, "orderTag": None}, -50),
        ({"productType": "BO", "stopLoss": 10, "orderTag": None}, -50),
        ({"type": 1, "limitPrice": 0}, -50),
    ],
)
def test_invalid_orders_are_refused_and_not_placed(sdk, model, overrides, code):
    answer = model.place_order(market_order(**overrides))
    assert answer["s"] == "error" and answer["code"] == code
    assert sdk.orders == []


def test_cover_and_bracket_orders(sdk, model):
    co = model.place_order(market_order(productType="CO", stopLoss=12.5, orderTag=None))
    bo = model.place_order(market_order(productType="BO", stopLoss=10, takeProfit=20.05,
                                        orderTag=None))
    assert co["code"] == bo["code"] == 1101
    assert [o["orderTag"] for o in sdk.orders] == ["2:Untagged", "2:Untagged"]
    assert sdk.orders[1]["takeProfit"] == 20.05


def test_concurrent_orders_get_distinct_ids(sdk, make_model):
    models = [make_model() for _ in range(10)]
    answers = [None] * 10

    def place(i):
        answers[i] = models[i].place_order(market_order(orderTag=f"tag{i}"))

    threads = [threading.Thread(target=place, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len({a["id"] for a in answers if a["code"] == 1101}) == 10
    assert sdk.positions[0]["netQty"] == 650


def test_rejected_order(sdk, model):
    sdk.reject_next_order("RED:Margin Shortfall")
    answer = model.place_order(market_order())
    assert answer["code"] == -99 and "Margin" in answer["message"]
    assert sdk.orders[0]["status"] == 5 and sdk.placed_orders() == []
    assert model.place_order(market_order())["code"] == 1101  # only the next one


def test_unknown_path_and_method_answer_json(sdk, http):
    missing = http.get(sdk.api_base + "/nope", timeout=5)
    assert missing.status_code == 404 and missing.json()["s"] == "error"
    wrong_method = http.get(sdk.api_base + "/orders/sync", timeout=5)
    assert wrong_method.status_code == 405 and wrong_method.json()["s"] == "error"


def test_calls_are_recorded_and_reset_keeps_tokens(sdk, model):
    model.place_order(market_order())
    model.orderbook({"order_tag": "1:alert123"})
    place, book = sdk.calls
    assert (place.method, place.path, place.status) == ("POST", "orders/sync", 200)
    assert place.body["orderTag"] == "alert123"
    assert (book["path"], book["query"]) == ("orders", {"order_tag": "1:alert123"})
    assert sdk.count("orders/sync") == 1

    sdk.reset()
    assert sdk.calls == [] and sdk.orders == [] and sdk.positions == []
    assert model.get_profile()["s"] == "ok"


# ---------------------------------------------------------------- faults


def test_fault_latency(sdk, model):
    sdk.add_fault("orders/sync", "latency", seconds=0.3)
    started = time.monotonic()
    assert model.place_order(market_order())["code"] == 1101
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    model.place_order(market_order())  # times=1: the next call is fast
    assert time.monotonic() - started < 0.3


def test_fault_status(sdk, model):
    sdk.add_fault("orders/sync", "status", status=503, times=2)
    assert model.place_order(market_order())["code"] == -503
    sdk.add_fault("quotes", "status", status=500, body={"s": "error", "code": -96, "message": "x"})
    assert model.quotes({"symbols": NIFTY_CE})["code"] == -96
    assert model.place_order(market_order())["s"] == "error"
    assert model.place_order(market_order())["code"] == 1101
    assert len(sdk.orders) == 1 and sdk.calls[0].status == 503


@pytest.mark.timeout(20)
def test_fault_hang_until_released(sdk, http):
    sdk.add_fault("orders/sync", "hang")
    with pytest.raises(requests.ReadTimeout):
        http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=0.3)
    sdk.release_hangs()
    assert sdk.orders == []
    assert http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=5).ok

    sdk.add_fault("orders/sync", "hang", accept=True)  # placed, but no answer ever comes
    with pytest.raises(requests.ReadTimeout):
        http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=0.3)
    sdk.release_hangs()
    assert len(sdk.placed_orders()) == 2


@pytest.mark.timeout(20)
def test_stop_releases_a_hang():
    fake = FakeFyers().start()
    fake.add_fault("profile", "hang")
    errors = []

    def call():
        try:
            requests.get(fake.api_base + "/profile", timeout=15)
        except requests.RequestException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while fake.count("profile") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    caller.join(10)
    assert not caller.is_alive() and time.monotonic() - started < 5
    assert isinstance(errors[0], requests.ConnectionError)


def test_fault_rate_limit(sdk, model, http):
    sdk.add_fault("orders/sync", "rate_limit", retry_after=2, times=2)
    answer = http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=5)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2" and answer.headers["X-Retry-After-Ms"] == "2000"
    assert answer.json() == {"s": "error", "code": -429,
                             "message": "Request limit reached, refresh after few mins"}
    assert model.place_order(market_order())["code"] == -429
    assert sdk.orders == []


def test_a_refused_post_keeps_its_connection_open_as_a_front_server_does(sdk, http):
    # The refusal reads the body first: a socket closed with unread bytes is reset, and the client
    # could lose the 429 itself (it did, once, on a loaded machine).
    sdk.strict_rate_limit = True
    sdk.limits = ((5.0, 1), (60.0, 200))
    assert http.get(sdk.data_base + "/quotes", params={"symbols": NIFTY_CE}, timeout=5).status_code == 200
    host, port = urlsplit(sdk.api_base).netloc.split(":")
    body = json.dumps(market_order()).encode()
    head = (f"POST {urlsplit(sdk.api_base).path}/orders/sync HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {http.headers['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        answers = conn.makefile("rb")
        for _ in range(2):  # the second request on the same connection finds it open
            conn.sendall(head + body)
            status = answers.readline()
            assert status.startswith(b"HTTP/1.1 429"), status
            length = 0
            while (line := answers.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert json.loads(answers.read(length))["code"] == -429
    assert sdk.orders == []


def test_strict_rate_limit_refuses_the_eleventh_request_in_a_second_and_counts_refusals(sdk, http):
    sdk.strict_rate_limit = True
    # The second's rule stretched to 10 in any 5 s: 13 requests in a row fit in it on a loaded machine too.
    sdk.limits = ((5.0, 10), (60.0, 200))
    answers = [http.get(sdk.data_base + "/quotes", params={"symbols": NIFTY_CE}, timeout=5) for _ in range(12)]
    answers.append(http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=5))  # api counts too
    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert all(a.status_code == 429 for a in answers[10:])
    assert answers[10].json() == {"s": "error", "code": -429,
                                  "message": "Request limit reached, refresh after few mins"}
    assert 1 <= int(answers[10].headers["Retry-After"]) <= 5
    assert sdk.rate_limited == 3 and sdk.orders == []
    assert sdk.max_in_any_minute() == 13  # refused requests are arrivals too


def test_strict_rate_limit_holds_two_hundred_a_minute(fake):
    fake.strict_rate_limit = True
    fake.limits = ((1.0, 1000), (60.0, 5))  # the minute's rule, scaled down
    session = requests.Session()
    session.headers["Authorization"] = f"{APP_ID}:{fake.issue_token()}"
    statuses = [session.get(fake.api_base + "/positions", timeout=5).status_code for _ in range(7)]
    session.close()
    assert statuses == [200] * 5 + [429] * 2 and fake.rate_limited == 2


def test_default_mode_counts_arrivals_but_refuses_nothing(sdk, http):
    answers = [http.get(sdk.data_base + "/quotes", params={"symbols": NIFTY_CE}, timeout=5) for _ in range(15)]
    assert {a.status_code for a in answers} == {200}
    assert sdk.rate_limited == 0 and sdk.max_in_any_second() == 15


@pytest.mark.timeout(20)
def test_fault_reset_before_places_nothing(sdk, model, http):
    sdk.add_fault("orders/sync", "reset_before", times=2)
    with pytest.raises(requests.ConnectionError):
        http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=5)
    assert model.place_order(market_order())["code"] == -99  # the SDK's transport error
    assert sdk.orders == []
    assert sdk.calls[0].status is None and sdk.calls[0].fault == "reset_before"


@pytest.mark.timeout(20)
def test_fault_drop_after_accept_places_the_order(sdk, model, http):
    sdk.add_fault("orders/sync", "drop_after_accept")
    with pytest.raises(requests.ConnectionError):
        http.post(sdk.api_base + "/orders/sync", json=market_order(), timeout=5)
    assert len(sdk.placed_orders()) == 1
    assert len(model.orderbook({"order_tag": "1:alert123"})["orderBook"]) == 1

    sdk.add_fault("orders/sync", "drop_after_accept", hidden_reads=1)
    assert model.place_order(market_order(orderTag="late1"))["code"] == -99
    assert model.orderbook({"order_tag": "late1"})["orderBook"] == []  # not visible yet
    assert len(model.orderbook({"order_tag": "late1"})["orderBook"]) == 1


def test_fault_code_201(sdk, model):
    sdk.add_fault("orders/sync", "code_201")
    answer = model.place_order(market_order())
    assert answer["s"] == "ok" and answer["code"] == 201 and answer["id"] == ""
    assert sdk.orders[0]["status"] == 4 and model.positions()["netPositions"] == []
    row = model.orderbook({"order_tag": "1:alert123"})["orderBook"][0]
    assert row["status"] == 2 and row["filledQty"] == 65
    assert model.positions()["netPositions"][0]["netQty"] == 65

    sdk.add_fault("orders/sync", "code_201", transit_reads=1)
    model.place_order(market_order(orderTag="slow1", type=1, limitPrice=1))
    assert model.orderbook({"order_tag": "slow1"})["orderBook"][0]["status"] == 4
    assert model.orderbook({"order_tag": "slow1"})["orderBook"][0]["status"] == 6  # pending


def test_faults_on_any_path(sdk, model):
    sdk.add_fault("*", "status", status=502)
    assert model.get_profile()["code"] == -502
    assert model.get_profile()["s"] == "ok"
    with pytest.raises(ValueError, match="unknown fault kind"):
        sdk.add_fault("orders/sync", "explode")


# ---------------------------------------------------------------- command line


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(20)
def test_cli_serves_until_terminated():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_fyers", "--port", str(port),
         "--latency", "0.05", "--token", "fixed-token"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v3/profile"
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = requests.get(url, headers={"Authorization": f"{APP_ID}:fixed-token"},
                                      timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        assert answer.status_code == 200 and answer.json()["data"]["fy_id"] == "XY12345"
        bad = requests.get(url, headers={"Authorization": f"{APP_ID}:other"}, timeout=2)
        assert bad.status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert f"api_base=http://127.0.0.1:{port}/api/v3" in out
    assert f"data_base=http://127.0.0.1:{port}/data" in out


# ---------------------------------------------------------------- exit positions (DELETE /positions)


def test_exit_position_by_id_flattens_a_cover_order_position(sdk, model):
    assert model.place_order(market_order(productType="CO", stopLoss=12.5, orderTag=None))["code"] == 1101
    answer = model.exit_positions({"id": f"{NIFTY_CE}-CO", "pending_orders_cancel": 1})
    assert answer == {"s": "ok", "code": 200, "message": "The position is closed."}
    [row] = sdk.positions
    assert row["id"] == f"{NIFTY_CE}-CO" and row["netQty"] == 0
    counter = sdk.orders[-1]
    assert (counter["side"], counter["qty"], counter["productType"], counter["status"]) == (-1, 65, "CO", 2)
    assert sdk.count("positions", "DELETE") == 1


def test_exit_position_with_nothing_open_is_minus_352(sdk, model):
    assert model.exit_positions({"id": f"{NIFTY_CE}-INTRADAY"})["code"] == -352
    model.place_order(market_order())
    model.exit_positions({"id": f"{NIFTY_CE}-INTRADAY"})
    again = model.exit_positions({"id": f"{NIFTY_CE}-INTRADAY"})
    assert again["s"] == "error" and again["code"] == -352
    assert len(sdk.orders) == 2  # the entry and one counter order


def test_exit_positions_by_list_and_exit_all_close_each_product_row(sdk, model):
    model.place_order(market_order())
    model.place_order(market_order(productType="MARGIN", side=-1, qty=130))
    assert sorted((p["productType"], p["netQty"]) for p in sdk.positions) == [("INTRADAY", 65), ("MARGIN", -130)]
    answer = model.exit_positions({"id": [f"{NIFTY_CE}-INTRADAY"]})
    assert answer["code"] == 200
    assert sorted((p["productType"], p["netQty"]) for p in sdk.positions) == [("INTRADAY", 0), ("MARGIN", -130)]
    assert model.exit_positions()["code"] == 200  # the SDK sends {"exit_all": 1}
    assert all(p["netQty"] == 0 for p in sdk.positions)
    assert [(o["side"], o["productType"]) for o in sdk.orders[2:]] == [(-1, "INTRADAY"), (1, "MARGIN")]


def test_pending_orders_cancel_cancels_the_working_orders_of_that_position(sdk, model):
    model.place_order(market_order())
    model.place_order(market_order(type=1, limitPrice=9999.0, side=-1, orderTag="other"))  # stays pending
    model.place_order(market_order(symbol="NSE:NIFTY2612024100CE", type=1, limitPrice=1.0, orderTag="else"))
    assert model.exit_positions({"id": f"{NIFTY_CE}-INTRADAY", "pending_orders_cancel": 1})["code"] == 200
    assert [o["status"] for o in sdk.orders] == [2, 1, 6, 2]  # the other contract's order still works


def test_an_unfilled_exit_answers_201_and_leaves_the_position_open(sdk, model):
    model.place_order(market_order(productType="CO", stopLoss=10, orderTag=None))
    sdk.leave_next_exit_unfilled()
    answer = model.exit_positions({"id": f"{NIFTY_CE}-CO"})
    assert answer["s"] == "ok" and answer["code"] == 201
    assert sdk.positions[0]["netQty"] == 65
    assert sdk.orders[-1]["status"] == 6
    assert model.exit_positions({"id": f"{NIFTY_CE}-CO"})["code"] == 200  # the knob was for one call


def test_exit_positions_refuses_a_body_without_an_id(sdk, http):
    answer = http.delete(sdk.api_base + "/positions", json={"id": 5}, timeout=5)
    assert answer.status_code == 400 and answer.json()["code"] == -50


# ---------------------------------------------------------------- answers as Fyers sends them


def test_cover_and_bracket_fills_open_child_legs_with_parent_ids(sdk, model):
    co = model.place_order(market_order(productType="CO", stopLoss=12.5, orderTag=None))
    bo = model.place_order(market_order(productType="BO", stopLoss=10, takeProfit=20.05,
                                        orderTag=None, side=-1))
    book = model.orderbook()["orderBook"]
    legs = {row["id"]: row for row in book if row.get("parentId")}
    assert sorted(legs) == sorted([f"{co['id']}-BO-2", f"{bo['id']}-BO-2", f"{bo['id']}-BO-3"])
    co_stop = legs[f"{co['id']}-BO-2"]
    assert co_stop["parentId"] == co["id"] and co_stop["side"] == -1 and co_stop["qty"] == 65
    assert co_stop["status"] == 6 and co_stop["type"] == 3 and co_stop["productType"] == "CO"
    assert co_stop["symbol"] == NIFTY_CE
    traded = sdk.orders[1]["tradedPrice"]
    assert legs[f"{bo['id']}-BO-2"]["side"] == 1  # the short bracket's stop buys back
    assert legs[f"{bo['id']}-BO-2"]["stopPrice"] == pytest.approx(traded + 10)
    assert legs[f"{bo['id']}-BO-3"]["limitPrice"] == pytest.approx(traded - 20.05)
    assert [o["id"] for o in sdk.orders] == [co["id"], bo["id"]]  # legs are not placed orders
    assert len(sdk.child_legs) == 3
    positions = model.positions()["netPositions"]
    assert sorted((p["productType"], p["netQty"]) for p in positions) == [("BO", -65), ("CO", 65)]


def test_slice_order_answer_has_one_body_per_slice_and_no_top_level_id(sdk, model):
    sdk.freeze_qty["NIFTY"] = 150  # two lots of 65 per slice
    answer = model.place_order(market_order(qty=325, isSliceOrder=True))
    assert set(answer) == {"code", "message", "data"}
    assert answer["code"] == 1101
    assert [entry["statusCode"] for entry in answer["data"]] == [200, 200, 200]
    assert all(entry["body"]["s"] == "ok" and entry["body"]["code"] == 1101
               for entry in answer["data"])
    ids = [entry["body"]["id"] for entry in answer["data"]]
    assert [(o["id"], o["qty"]) for o in sdk.orders] == list(zip(ids, [130, 130, 65]))
    assert {o["orderTag"] for o in sdk.orders} == {"1:alert123"}


def test_chosen_slices_are_rejected(sdk, model):
    sdk.freeze_qty["NIFTY"] = 65
    sdk.reject_slices({2: "RED:Margin Shortfall"})
    answer = model.place_order(market_order(qty=195, isSliceOrder=True))
    second = answer["data"][1]
    assert second["statusCode"] == 400 and second["statusDescription"] == "Bad Request"
    assert second["body"]["s"] == "error" and second["body"]["code"] == -99
    assert second["body"]["message"] == "RED:Margin Shortfall"
    assert [o["status"] for o in sdk.orders] == [2, 5, 2]
    assert model.place_order(market_order(qty=195, isSliceOrder=True, orderTag="next"))[
        "data"][1]["body"]["code"] == 1101  # only the next slice order
