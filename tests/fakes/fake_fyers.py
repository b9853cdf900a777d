"""A fake Fyers API v3 server: real HTTP on a local port, for the real ``fyers-apiv3`` SDK.

Point the SDK at it with ``fyersModel.Config.API = fake.api_base`` and
``fyersModel.Config.DATA_API = fake.data_base`` (or the bridge's ``FYERS_API_BASE_URL`` /
``FYERS_DATA_BASE_URL``). Shapes, field names and error codes follow the official reference
(``/work/shared/reference/fyers-api-v3.md``); where the reference is silent, Fyers' own
error-code sheet (FyersDev/fyers-api-sample-code, Postman/...Error Codes...csv) is used.

    fake = FakeFyers(app_id="TESTAPP-100", secret_id="TESTSECRET", pin="1234")
    with fake:
        token = fake.issue_token()
        fake.add_fault("orders/sync", "drop_after_accept")
        ...
        assert fake.placed_orders()[0]["orderTag"] == "1:alert123"

Every answer, error or not, carries a JSON body (the SDK calls ``response.json()`` on
every response). Faults (``add_fault(path, kind, times=1, **params)``) reproduce what a
real network and a real Fyers do to a client:

- ``latency`` (seconds=1.0): wait, then handle normally.
- ``status`` (status=503, body=None, headers=None): answer that, order not placed; the
  default body is ``{"s":"error","code":-<status>,"message":<reason>}``.
- ``hang`` (accept=False, max_seconds=60): hold the request until ``release_hangs()`` or
  ``stop()``, then reset the connection with no answer; ``accept=True`` places the order
  first (a read timeout after the order went through).
- ``rate_limit`` (retry_after=1): HTTP 429, ``Retry-After`` / ``X-Retry-After-Ms`` headers,
  body ``{"s":"error","code":-429,"message":"Request limit reached, refresh after few mins"}``
  (the wording Fyers answers).
- ``reset_before``: TCP reset before the body is read; nothing happens.
- ``gateway`` (status=504, accept=True): a gateway's HTML error page instead of Fyers's JSON
  (the SDK then reports ``code`` = the HTTP status); ``accept`` places the order first.
- ``drop_after_accept`` (hidden_reads=0): the order is placed, then a TCP reset instead of
  the answer; ``hidden_reads`` order-book reads do not show it yet.
- ``code_201`` (transit_reads=0, hidden_reads=0): the order goes in the book in transit
  (status 4) and the answer is code 201 with an empty id; order-book reads resolve it (2
  traded / 6 pending) after ``transit_reads`` reads that still show 4. On a slice order every
  slice is answered so.

Answers follow what Fyers really sends, not what a client might expect:

- A slice order (``isSliceOrder``) becomes one order per slice of at most ``freeze_qty`` (in
  whole lots) and is answered ``{"code":1101,"message":...,"data":[{"statusCode","body":
  {"s","code","id","message"},"statusDescription"}, ...]}``: no top-level ``s`` or ``id``.
  ``reject_slices({2: "RED:Margin Shortfall"})`` rejects chosen slices of the next one.
- A filled CO/BO order gets child legs in the order book: pending stop-loss (``-BO-2``) and,
  for BO, target (``-BO-3``) orders on the other side, with ``parentId``; see ``child_legs``.

The trade after the order (SDK 3.1.15+ legs, stop orders, GTT, tradebook, postbacks):

- TP/SL legs: ``place_order`` with productType INTRADAY or MARGIN may carry ``stopLoss`` /
  ``takeProfit`` offsets (> 0) with ``legType`` 1 (points, default; a multiple of the 0.05 tick,
  else -50 "StopLoss not a multiple of tick size 0.0500") or 2 (percent of the entry price). Any
  other legType, or legs on CNC/MTF, is -50. The parent row keeps ``stopLoss``/``takeProfit`` as
  given and gains ``legType``. When it fills, each leg becomes a child row exactly as for BO:
  pending (6), other side, same qty/productType/orderTag, ``parentId`` = the parent's id;
  ``<parent>-BO-2`` is the stop (type 3 SL-M, stopPrice = fill -/+ offset on the tick, at least
  one tick), ``<parent>-BO-3`` the target (type 1, limitPrice = fill +/- offset). Fyers says
  nothing of the row shape of INTRADAY legs: this is our strictest reading (same as BO). Each
  slice of a slice order gets its own legs.
- Prices move with ``set_ltp(symbol, price)`` (alias ``move_price``): every pending order on the
  symbol is evaluated in book order. SL-M (3) triggers when a sell's LTP <= stopPrice (buy >=)
  and fills at the LTP; SL-L (4) triggers alike and fills at its limitPrice when marketable (else
  it stays pending, triggered, as a limit); a limit (1) fills at its limit price when marketable
  (sell LTP >= limit, buy <=). AMO and pending market orders are left alone. When a leg fills,
  its working siblings are cancelled (1, "Cancelled: the other leg was executed"). Fills update
  positions (realized_profit, unrealized_profit, pl, buyAvg, sellAvg, ltp) and the tradebook.
  Stop orders placed directly stay pending until a ``set_ltp`` crosses them, even when the
  trigger is already crossed at placement.
- ``DELETE /orders/sync {"id"}``: a working (4/6) order is cancelled (status 1, answer code
  1103); otherwise -52 "Order is not in a modifiable state" (HTTP 400); unknown id -51 "Invalid
  order id". ``PATCH /orders/sync``: a working order's limitPrice/stopPrice/qty/type change
  (``type`` is then mandatory, as the reference says; a marketable result fills at once);
  ``stopLoss``/``takeProfit`` change the legs of an INTRADAY/MARGIN parent (pending: recorded;
  traded: its working legs move, 0 or null cancels one, a new one is added; a re-added leg
  takes the next free ``-BO-<n>``); ``legType`` cannot change once legs exist; a parent whose
  leg already traded is -52. Answer code 1102.
- ``reject_after_accept(message, times)``: the next order(s) are answered 1101 with an id, show
  status 4 on the first order-book read and status 5 with ``message`` after; never filled.
- ``GET /tradebook`` (``?order_tag=`` filters like the order book): one "tradeBook" row per
  fill (clientId, orderDateTime, orderNumber = order id, exchangeOrderNo, exchange, side,
  segment, orderType, fyToken, productType, tradedQty, tradePrice, tradeValue, tradeNumber, row,
  symbol, orderTag); also ``fake.trades``.
- ``PATCH /positions`` (attach_position_legs: positionId "SYMBOL-PRODUCT", takeProfit, stopLoss,
  legType, qty): legs on an open INTRADAY/MARGIN position, priced off its netAvg, as pending
  child rows with ``parentId`` = the positionId, fresh order ids and orderTag "2:Untagged" (the
  position has no tag of its own: strictest reading); again to move/remove them; answer code 200.
- Postbacks: ``fake.postback_urls`` (empty = off). Every status change but to transit (pending,
  traded, rejected, cancelled; legs too) queues the order's body (POSTBACK_FIELDS of its row plus
  ``fytoken``; ``parentId`` when a leg) for each URL. A background thread POSTs it as a raw body
  (Content-Type text/plain: the reference only promises a raw JSON body), 2 s timeout, never
  under the fake's lock. A non-200 or a failed connection is retried (4 attempts in all,
  ``postback_retry_pause`` apart), then the URL is blacklisted for
  ``postback_blacklist_seconds`` (1800) and nothing is sent to it meanwhile. ``postbacks``
  records every attempt, ``blacklisted(url)``, ``drain_postbacks(timeout)`` waits for the queue,
  ``send_postback(url, body)`` posts a forged body once. Fyers's webhook secret is not
  described anywhere, so none is sent.
- GTT: ``POST/PATCH/DELETE /gtt/orders/sync`` and ``GET /gtt/orders`` (the reference's row
  fields). CNC/MARGIN/MTF only (INTRADAY is -50 naming the product); ``orderInfo.leg1`` (and
  ``leg2`` for OCO: leg1 trigger above the LTP, leg2 below) with price/triggerPrice/qty in whole
  lots. A ``set_ltp`` crossing a trigger places a limit order at that leg's price (orderTag
  "1:GTT<tag>" or "2:GTTUntagged") and marks the GTT ord_status 2 "TRIGGERED".
- Funds and margin: ``GET /funds`` answers the reference's ten ``fund_limit`` rows (id 10
  "Available Balance" = ``fake.funds_available``, default Rs 10,00,000). ``POST
  /multiorder/margin {"data": [{symbol, qty, side, type, productType, limitPrice, stopLoss,
  stopPrice, takeProfit}, ...]}`` checks each row like an order's fields (symbol, qty in lots,
  side, type, productType mandatory; -50 / -300 otherwise) and answers ``{"code":200,
  "message":"","data":{"margin_avail","margin_total","margin_new_order"},"s":"ok"}``: a buy
  needs premium x qty, a sell ``sell_margin_per_lot`` (Rs 1,20,000) a lot, or
  ``hedged_sell_margin_per_lot`` for the lots a buy earlier in the list covers (same underlying
  and option type): order matters, as the reference says. Fyers publishes no formula; this is ours.

Strict rate limit (``strict_rate_limit=True``, ``--strict-rate-limit``): the strictest reading
of Fyers's published limits, since Fyers does not say how it counts. At most 10 requests in ANY
sliding 1-second window and 200 in any sliding 60 s, across every endpoint (api and data); a
refused request counts against the client too. A refusal is HTTP 429 with the body above and a
``Retry-After`` (whole seconds until the window that was full frees a place). Every arrival is
recorded: ``max_in_any_second()``, ``max_in_any_minute()`` and ``rate_limited`` (429s sent,
strict refusals and ``rate_limit`` faults alike) read them.

Command line (docker-compose, benchmarks)::

    python -m tests.fakes.fake_fyers --port 9000 [--latency 0.15] [--token FIXED] [--strict-rate-limit]
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import http.client
import io
import json
import math
import os
import queue
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FakeFyers", "Call", "FAULT_KINDS", "DEFAULT_LOT_SIZES", "main"]

IST = timezone(timedelta(hours=5, minutes=30))
TICK = 0.05
HANG_MAX_SECONDS = 60.0
MAX_QUOTE_SYMBOLS = 50

DEFAULT_LOT_SIZES = {"NIFTY": 65, "BANKNIFTY": 30, "FINNIFTY": 60, "MIDCPNIFTY": 120, "SENSEX": 20, "BANKEX": 30}
# Underlyings whose options trade on BSE (BSE_FO.csv, tickers "BSE:..."); the others are NSE's.
BSE_UNDERLYINGS = frozenset({"SENSEX", "BANKEX"})
# NSE freeze quantities (contracts per order): a slice order is cut into pieces no larger.
DEFAULT_FREEZE_QTY = {"NIFTY": 1800, "BANKNIFTY": 900, "FINNIFTY": 1800, "MIDCPNIFTY": 2800}
MAX_SLICES = 10  # "Maximum slices per request: 10" (reference, Auto-Order Slice)
_NOT_ACKNOWLEDGED = {"s": "ok", "code": 201,
                     "message": "Order sent to exchange, not acknowledged. "
                                "Please check the order book before placing again",
                     "id": ""}

FAULT_KINDS = frozenset(
    {"latency", "status", "hang", "rate_limit", "reset_before", "drop_after_accept", "code_201",
     "gateway"}
)

PRODUCT_TYPES = frozenset({"INTRADAY", "MARGIN", "CNC", "CO", "BO", "MTF"})
LEG_PRODUCTS = frozenset({"INTRADAY", "MARGIN"})  # TP/SL legs (SDK 3.1.15+)
GTT_PRODUCTS = frozenset({"CNC", "MARGIN", "MTF"})
WORKING = (4, 6)  # transit, pending: what cancel and modify may still touch
OTHER_LEG_EXECUTED = "Cancelled: the other leg was executed"
NOT_MODIFIABLE = "Order is not in a modifiable state"
POSTBACK_ATTEMPTS = 4  # the first try and "typically three retries" (reference, Blacklisting)
POSTBACK_TIMEOUT = 2.0
# Postbacks are sent for these statuses (the dashboard's Cancel, Traded, Rejected, Pending); a
# transit status (4) is not a preference one can choose, so it is never posted.
POSTBACK_FIELDS = (
    "id", "exchOrdId", "symbol", "qty", "remainingQuantity", "filledQty", "status", "message", "segment",
    "limitPrice", "stopPrice", "productType", "type", "side", "disclosedQty", "discloseQty", "dqQtyRem",
    "orderValidity", "orderDateTime", "tradedPrice", "source", "fyToken", "offlineOrder", "pan", "clientId",
    "exchange", "instrument", "orderNumStatus", "orderTag", "parentId",
)

# Index spot levels (late 2026) for "NSE:<name>-INDEX" and "BSE:<name>-INDEX"; options/futures
# of an underlying quote around these.
INDEX_LEVELS = {
    "NIFTY50": 26000.0,
    "NIFTYBANK": 59000.0,
    "FINNIFTY": 27500.0,
    "MIDCPNIFTY": 13500.0,
    "NIFTYNXT50": 70000.0,
    "SENSEX": 85000.0,
    "BANKEX": 65000.0,
    "INDIAVIX": 13.0,
}
UNDERLYING_INDEX = {
    "NIFTY": "NIFTY50",
    "BANKNIFTY": "NIFTYBANK",
    "FINNIFTY": "FINNIFTY",
    "MIDCPNIFTY": "MIDCPNIFTY",
    "NIFTYNXT50": "NIFTYNXT50",
    "SENSEX": "SENSEX",
    "BANKEX": "BANKEX",
}

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
# After the underlying: weekly "YY M DD strike CE|PE" (M = 1-9, O, N, D) or monthly
# "YY MON strike CE|PE"; futures "YY MON FUT".
_OPTION_RE = re.compile(
    rf"^\d{{2}}(?:(?:{_MONTHS})|[1-9OND](?:0[1-9]|[12]\d|3[01]))(\d+(?:\.\d+)?)(CE|PE)$"
)
# Funds and margin. Fyers publishes no formula: a buy needs its premium (limitPrice for a limit
# order, else the LTP) times qty; a sell a fixed margin per lot, less when a buy earlier in the
# same request covers it (same underlying and option type: the reference's "hedge benefit" when
# the BUY order is passed first). margin_new_order adds what open short lots hold.
FUNDS_AVAILABLE = 1_000_000.0
SELL_MARGIN_PER_LOT = 120_000.0  # about SPAN + exposure for a NIFTY option lot, late 2026
HEDGED_SELL_MARGIN_PER_LOT = 30_000.0
FUND_TITLES = (
    "Total Balance", "Utilized Amount", "Clear Balance", "Realized Profit and Loss", "Collaterals",
    "Fund Transfer", "Receivables", "Adhoc Limit", "Limit at start of the day", "Available Balance",
)
_FUTURE_RE = re.compile(rf"^\d{{2}}(?:{_MONTHS})FUT$")
_SYMBOL_RE = re.compile(r"^(NSE|BSE):([A-Z0-9&_\-]+)$")
_ORDER_TAG_RE = re.compile(r"^[A-Za-z0-9]{1,30}$")


def _error(code: int, message: str, **extra: Any) -> dict:
    return {"s": "error", "code": code, "message": message, **extra}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_tick_multiple(value: float) -> bool:
    return abs(value / TICK - round(value / TICK)) < 1e-6


def _round_tick(value: float) -> float:
    return round(round(value / TICK) * TICK, 2)


@dataclass
class Call:
    """One request the fake received. ``status`` is None while in progress or when the
    connection was closed without an answer. Item access (``call["path"]``) works too."""

    method: str
    path: str  # relative to its base: "orders/sync", "quotes", "generate-authcode"
    query: dict
    body: Any = None
    status: int | None = None
    fault: str | None = None
    at: float = field(default_factory=time.time)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class _Fault:
    kind: str
    params: dict
    remaining: int | None  # None: every call


@dataclass
class _SymbolInfo:
    kind: str  # option | future | index | equity
    underlying: str
    lot: int
    segment: int
    instrument: int


@dataclass
class _Order:
    book: dict  # the order-book row, Fyers field names
    hidden_reads: int = 0  # order-book reads that do not show it yet
    transit_reads: int = 0  # order-book reads that still show status 4
    leg: str = ""  # "stop" or "target" on a child leg
    triggered: bool = False  # a stop order whose trigger was crossed (SL-L then works as a limit)
    late_rejection: str | None = None  # the exchange rejects it once out of transit


@dataclass
class _Gtt:
    row: dict  # the GTT order-book row, Fyers field names
    tag: str  # orderTag of the orders it places
    leg1_up: bool  # leg 1 triggers when the LTP rises to its trigger (else when it falls to it)


MAX_DRAIN_BYTES = 1 << 20  # a refused body larger than this is not read: the connection closes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, fake: "FakeFyers"):
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request, client_address):  # quiet: clients hang up on purpose
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ValueError, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeFyers/1.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle plus the client's
        # delayed ACK add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write("fake-fyers: " + (format % args) + "\n")

    def _dispatch(self) -> None:
        self.server.fake._dispatch(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class FakeFyers:
    """Fake Fyers API v3 (see module docstring). Thread-safe; start()/stop() or ``with``."""

    def __init__(
        self,
        app_id: str = "TESTAPP-100",
        secret_id: str = "TESTSECRET",
        pin: str = "1234",
        lot_sizes: dict[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        redirect_uri: str | None = None,
        fixed_token: str | None = None,
        latency: float = 0.0,
        fy_id: str = "XY12345",
        verbose: bool = False,
        strict_rate_limit: bool = False,
        per_second: int = 10,
        per_minute: int = 200,
    ) -> None:
        self.app_id = app_id
        self.secret_id = secret_id
        self.pin = pin
        self.lot_sizes = dict(DEFAULT_LOT_SIZES if lot_sizes is None else lot_sizes)
        self.host = host
        self.port = port
        self.redirect_uri = redirect_uri  # when set, generate-authcode insists on it
        self.fixed_token = fixed_token  # always valid (CLI mode)
        self.latency = float(latency)  # applied to every request
        self.fy_id = fy_id
        self.verbose = verbose
        self.strict_rate_limit = strict_rate_limit
        self.limits = ((1.0, per_second), (60.0, per_minute))  # (window seconds, requests)
        self.rate_limited = 0  # 429s sent
        # Switches tests flip.
        self.access_token_ttl = 8 * 3600
        self.refresh_token_ttl = 15 * 24 * 3600
        self.auth_code_ttl = 300
        self.refresh_enabled = True
        self.market_open = True
        # marketStatus rows to serve as they are, in place of those built from market_open.
        self.market_status_rows: list[dict] | None = None
        self.freeze_qty = dict(DEFAULT_FREEZE_QTY)
        # GET /funds and POST /multiorder/margin: the account's free money ("Available Balance",
        # margin_avail), and what one short option or future lot needs (a buy needs its premium).
        self.funds_available = FUNDS_AVAILABLE
        self.sell_margin_per_lot = SELL_MARGIN_PER_LOT
        self.hedged_sell_margin_per_lot = HEDGED_SELL_MARGIN_PER_LOT

        self._lock = threading.RLock()
        self._signing_key = secrets.token_bytes(32)
        self._auth_codes: dict[str, float] = {}  # jti -> exp (single use)
        self._access: dict[str, float] = {}  # jti -> exp
        self._revoked: set[str] = set()
        self._refresh: dict[str, float] = {}  # jti -> exp
        self._calls: list[Call] = []
        self._arrivals: list[float] = []  # time.monotonic() of every request, refused ones too
        self._faults: dict[str, list[_Fault]] = {}
        self._rejections: list[str] = []
        self._slice_rejections: dict[int, str] = {}  # slice number -> rejection, next slice order
        self._ltp: dict[str, float] = {}
        self._orders: list[_Order] = []
        self._positions: dict[tuple[str, str], dict] = {}
        self._unfilled_exits = 0  # exit-position calls whose counter orders stay unfilled (201)
        self._order_seq = 0
        self._trades: list[dict] = []
        self._gtts: list[_Gtt] = []
        self._late_rejections: list[str] = []
        # Postbacks: the URLs registered in the API dashboard (empty: off).
        self.postback_urls: list[str] = []
        self.postback_blacklist_seconds = 1800.0
        self.postback_retry_pause = 0.05
        self._postback_queue: queue.Queue = queue.Queue()
        self._postback_log: list[dict] = []
        self._blacklist: dict[str, float] = {}  # url -> time.monotonic() it is allowed again
        self._postback_stop = threading.Event()
        self._postback_thread: threading.Thread | None = None
        self._hang_event = threading.Event()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeFyers":
        """Listen on ``host:port`` (port 0: a free one) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-fyers:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._postback_stop.clear()
        self._postback_thread = threading.Thread(
            target=self._deliver_postbacks, name=f"fake-fyers-postbacks:{self.port}", daemon=True
        )
        self._postback_thread.start()
        return self

    def stop(self) -> None:
        """Release hangs, stop serving, close every connection and join the server thread."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        self._postback_stop.set()
        self.release_hangs()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handler threads idle on keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._postback_thread is not None:  # an attempt in flight ends within its timeout
            self._postback_thread.join(timeout=POSTBACK_TIMEOUT + 1)
        self._server = None
        self._thread = None
        self._postback_thread = None

    def __enter__(self) -> "FakeFyers":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``fyersModel.Config.API`` / ``FYERS_API_BASE_URL`` should be."""
        return self.base_url + "/api/v3"

    @property
    def data_base(self) -> str:
        """What ``fyersModel.Config.DATA_API`` / ``FYERS_DATA_BASE_URL`` should be."""
        return self.base_url + "/data"

    # ------------------------------------------------------------------ tokens
    def _jwt(self, claims: dict) -> str:
        compact = (",", ":")
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=compact).encode())
        payload = _b64url(json.dumps(claims, separators=compact).encode())
        signature = hmac.new(self._signing_key, f"{header}.{payload}".encode(), "sha256")
        return f"{header}.{payload}.{_b64url(signature.digest())}"

    def _read_jwt(self, token: str) -> dict | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._signing_key, f"{parts[0]}.{parts[1]}".encode(), "sha256")
        try:
            if not hmac.compare_digest(_b64url(expected.digest()), parts[2]):
                return None
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None

    def _new_token(self, sub: str, ttl: float, store: dict[str, float]) -> str:
        now = int(time.time())
        jti = secrets.token_hex(8)
        exp = now + max(int(ttl), 1) if ttl > 0 else now - 1
        claims = {
            "iss": "api.fyers.in",
            "iat": now,
            "exp": exp,
            "nbf": now,
            "aud": ["d:1", "d:2", "x:0", "x:1", "x:2"],
            "sub": sub,
            "jti": jti,
            "app_id": self.app_id,
            "fy_id": self.fy_id,
            "display_name": "TEST USER",
            "appType": 100,
            "isDdpiEnabled": "N",
            "isMtfEnabled": "N",
            "poa_flag": "N",
        }
        with self._lock:
            store[jti] = exp
        return self._jwt(claims)

    def issue_token(self, ttl: float | None = None) -> str:
        """A valid access token, skipping the login (``ttl`` seconds; <= 0: already expired)."""
        return self._new_token("access_token", self.access_token_ttl if ttl is None else ttl,
                               self._access)

    def issue_refresh_token(self, ttl: float | None = None) -> str:
        """A valid refresh token, as validate-authcode hands out."""
        return self._new_token("refresh_token", self.refresh_token_ttl if ttl is None else ttl,
                               self._refresh)

    def issue_auth_code(self) -> str:
        """An auth code as the login redirect would carry it (single use)."""
        return self._new_token("auth_code", self.auth_code_ttl, self._auth_codes)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (HTTP 401, code -8)."""
        with self._lock:
            self._revoked.update(self._access)

    def app_id_hash(self) -> str:
        """sha256("APPID:SECRET") hex, the ``appIdHash`` the auth endpoints expect."""
        return hashlib.sha256(f"{self.app_id}:{self.secret_id}".encode()).hexdigest()

    def _check_token(self, token: str, sub: str, store: dict[str, float]) -> str | None:
        """None if valid, else "invalid" or "expired"."""
        claims = self._read_jwt(token)
        if not claims or claims.get("sub") != sub or claims.get("app_id") != self.app_id:
            return "invalid"
        jti = claims.get("jti")
        with self._lock:
            if jti not in store:
                return "invalid"
            if jti in self._revoked or store[jti] <= time.time():
                return "expired"
        return None

    def _authenticate(self, header: str | None) -> tuple[int, dict] | None:
        """None when the Authorization header is good, else the 401 answer."""
        if not header or ":" not in header:
            return 401, _error(-16, "Could not authenticate the user")
        app_id, token = header.split(":", 1)
        app_id, token = app_id.strip(), token.strip()
        if self.fixed_token and token == self.fixed_token and app_id == self.app_id:
            return None
        if app_id != self.app_id:
            return 401, _error(-16, "Could not authenticate the user: app id does not match")
        verdict = self._check_token(token, "access_token", self._access)
        if verdict == "expired":
            return 401, _error(-8, "Your token has expired. Please generate a token")
        if verdict == "invalid":
            return 401, _error(-15, "Provided token is invalid")
        return None

    # ------------------------------------------------------------------ test controls
    def add_fault(self, path: str, kind: str, *, times: int | None = 1, **params: Any) -> None:
        """Apply ``kind`` to the next ``times`` calls (None: all) of ``path`` ("orders/sync",
        "quotes", ...; "*" for any path). Faults for one path queue up in order."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        key = path.strip("/")
        with self._lock:
            self._faults.setdefault(key, []).append(_Fault(kind, dict(params), times))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, key: str) -> _Fault | None:
        with self._lock:
            for k in (key, "*"):
                queue = self._faults.get(k)
                if queue:
                    fault = queue[0]
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            queue.pop(0)
                    return fault
        return None

    def release_hangs(self) -> None:
        """Wake every request held by a "hang" fault (it then closes without answering)."""
        with self._lock:
            event, self._hang_event = self._hang_event, threading.Event()
        event.set()

    def reject_next_order(self, message: str = "RED:Margin Shortfall", times: int = 1) -> None:
        """The next ``times`` valid orders are rejected (code -99, status 5 in the book)."""
        with self._lock:
            self._rejections.extend([message] * times)

    def reject_slices(self, rejections: dict[int, str]) -> None:
        """In the next slice order, reject the numbered slices (1 = first) with these messages."""
        with self._lock:
            self._slice_rejections = dict(rejections)

    def leave_next_exit_unfilled(self, times: int = 1) -> None:
        """The next ``times`` exit-position calls place their counter orders but leave them
        pending (low liquidity): the answer is code 201 and the position stays open."""
        with self._lock:
            self._unfilled_exits += times

    def reject_after_accept(self, message: str = "RED:Order price is outside the price band", times: int = 1) -> None:
        """The next ``times`` orders are accepted (1101, an id) and then rejected by the exchange:
        status 4 on the first order-book read, status 5 with ``message`` after."""
        with self._lock:
            self._late_rejections.extend([message] * times)

    def set_ltp(self, symbol: str, price: float) -> None:
        """Move the price of ``symbol``: working stop and limit orders and GTTs on it trigger or
        fill, in book order (see the module docstring)."""
        with self._lock:
            self._ltp[symbol] = float(price)
            self._match(symbol, float(price))

    move_price = set_ltp

    def ltp(self, symbol: str) -> float:
        """The price quotes answer for ``symbol`` (override or the deterministic default)."""
        with self._lock:
            if symbol in self._ltp:
                return self._ltp[symbol]
        info = self.symbol_info(symbol)
        return self._default_ltp(symbol, info)

    def reset(self) -> None:
        """Forget orders, positions, calls, faults, rejections and LTP overrides; reopen the
        market and refresh. Tokens (and the order-id sequence) are kept."""
        with self._lock:
            self._orders.clear()
            self._positions.clear()
            self._calls.clear()
            self._arrivals.clear()
            self.rate_limited = 0
            self._faults.clear()
            self._rejections.clear()
            self._slice_rejections.clear()
            self._unfilled_exits = 0
            self._ltp.clear()
            self._trades.clear()
            self._gtts.clear()
            self._late_rejections.clear()
            self.postback_urls = []
            self._postback_log.clear()
            self._blacklist.clear()
        while True:  # forget what is queued; an attempt in flight still finishes
            try:
                self._postback_queue.get_nowait()
            except queue.Empty:
                break
            self._postback_queue.task_done()
        with self._lock:
            self.market_open = True
            self.market_status_rows = None
            self.refresh_enabled = True
        self.release_hangs()

    def settle(self) -> None:
        """Resolve every in-transit order (status 4) now, as the exchange eventually would."""
        with self._lock:
            for order in self._orders:
                order.hidden_reads = 0
                order.transit_reads = 0
                if order.book["status"] == 4:
                    self._execute(order)

    # ------------------------------------------------------------------ observation
    @property
    def calls(self) -> list[Call]:
        """Every request received so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._calls)

    def max_in_any_second(self) -> int:
        """The most requests that arrived in any sliding 1-second window."""
        return self._max_in_window(1.0)

    def max_in_any_minute(self) -> int:
        """The most requests that arrived in any sliding 60-second window."""
        return self._max_in_window(60.0)

    def _max_in_window(self, span: float) -> int:
        with self._lock:
            times = sorted(self._arrivals)
        most, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= span:
                first += 1
            most = max(most, last - first + 1)
        return most

    def _over_limit(self, now: float) -> float | None:
        """Record an arrival; under strict limits, the seconds until a place frees if it is over."""
        with self._lock:
            self._arrivals.append(now)
            if not self.strict_rate_limit:
                return None
            for span, limit in self.limits:
                inside = [t for t in self._arrivals[-(limit + 1):] if t > now - span]
                if len(inside) > limit:
                    # Free again once enough of them have left for one more to fit.
                    return inside[len(inside) - limit] + span - now
        return None

    def count(self, path: str, method: str | None = None) -> int:
        """How many requests hit ``path`` (optionally with ``method``)."""
        key = path.strip("/")
        with self._lock:
            return sum(
                1 for c in self._calls if c.path == key and (method is None or c.method == method)
            )

    @property
    def orders(self) -> list[dict]:
        """Every order placed (copies), including rejected ones, in placement order; CO/BO
        child legs, which Fyers books itself, are in ``child_legs``."""
        with self._lock:
            return [copy.deepcopy(o.book) for o in self._orders if not o.book.get("parentId")]

    @property
    def child_legs(self) -> list[dict]:
        """The stop-loss and target legs Fyers opened for filled CO/BO orders (copies)."""
        with self._lock:
            return [copy.deepcopy(o.book) for o in self._orders if o.book.get("parentId")]

    @property
    def trades(self) -> list[dict]:
        """The tradeBook rows (copies), one per fill, oldest first."""
        with self._lock:
            return copy.deepcopy(self._trades)

    @property
    def gtt_orders(self) -> list[dict]:
        """The GTT order-book rows (copies)."""
        with self._lock:
            return [copy.deepcopy(g.row) for g in self._gtts]

    def placed_orders(self) -> list[dict]:
        """Orders Fyers accepted (anything but status 5 rejected)."""
        return [o for o in self.orders if o["status"] != 5]

    @property
    def positions(self) -> list[dict]:
        """The netPositions rows the positions endpoint would answer now."""
        with self._lock:
            return [self._position_row(k, v) for k, v in self._positions.items()]

    # ------------------------------------------------------------------ symbols and prices
    def symbol_info(self, symbol: str) -> _SymbolInfo | None:
        """Kind, underlying and lot size of a Fyers ticker; None when it is not one."""
        match = _SYMBOL_RE.match(symbol or "")
        if not match:
            return None
        ticker = match.group(2)
        if ticker.endswith("-INDEX"):
            return _SymbolInfo("index", ticker[: -len("-INDEX")], 0, 10, 0)
        if ticker.endswith("-EQ"):
            return _SymbolInfo("equity", ticker[: -len("-EQ")], 1, 10, 0)
        for underlying in sorted(self.lot_sizes, key=len, reverse=True):
            if not ticker.startswith(underlying):
                continue
            if match.group(1) != ("BSE" if underlying in BSE_UNDERLYINGS else "NSE"):
                return None  # SENSEX options are BSE's, NIFTY's NSE's
            rest = ticker[len(underlying):]
            option = _OPTION_RE.match(rest)
            if option and float(option.group(1)) > 0:
                return _SymbolInfo("option", underlying, int(self.lot_sizes[underlying]), 11, 14)
            if _FUTURE_RE.match(rest):
                return _SymbolInfo("future", underlying, int(self.lot_sizes[underlying]), 11, 11)
        return None

    @staticmethod
    def _hash(symbol: str) -> int:
        return int(hashlib.sha256(symbol.encode()).hexdigest()[:12], 16)

    def _default_ltp(self, symbol: str, info: _SymbolInfo | None) -> float:
        h = self._hash(symbol)
        if info is None or info.kind == "equity":
            return _round_tick(100 + (h % 58000) * TICK)  # 100 .. 3000
        if info.kind == "option":
            return _round_tick(50 + (h % 9000) * TICK)  # 50 .. 500
        if info.kind == "index":
            level = INDEX_LEVELS.get(info.underlying, 1000.0 + (h >> 20) % 20000)
            return _round_tick(level + (h % 2000) * TICK)
        level = INDEX_LEVELS.get(UNDERLYING_INDEX.get(info.underlying, ""), 10000.0)
        return _round_tick(level + 50 + (h % 2000) * TICK)  # future: a small premium

    def _fytoken(self, symbol: str, info: _SymbolInfo | None) -> str:
        exchange = "12" if symbol.startswith("BSE:") else "10"
        prefix = exchange + ("11" if info is not None and info.segment == 11 else "10")
        return prefix + str(self._hash(symbol) % 10**11).zfill(11)

    def _quote(self, symbol: str) -> dict:
        with self._lock:
            override = self._ltp.get(symbol)
        info = self.symbol_info(symbol)
        if info is None and override is None:
            return {
                "n": symbol,
                "s": "error",
                "v": {"code": -300, "message": "Please provide a valid symbol",
                      "errmsg": "Please provide a valid symbol", "symbol": symbol},
            }
        lp = override if override is not None else self._default_ltp(symbol, info)
        prev = _round_tick(lp * (1 - ((self._hash(symbol) % 81) - 40) / 1000))
        ch = round(lp - prev, 2)
        exchange, _, ticker = symbol.partition(":")
        return {
            "n": symbol,
            "s": "ok",
            "v": {
                "ch": ch,
                "chp": round(ch / prev * 100, 2) if prev else 0.0,
                "lp": lp,
                "spread": TICK,
                "ask": lp,
                "bid": _round_tick(max(lp - TICK, 0)),
                "open_price": prev,
                "high_price": max(lp, prev),
                "low_price": min(lp, prev),
                "prev_close_price": prev,
                "atp": _round_tick((lp + prev) / 2),
                "volume": self._hash(symbol) % 5_000_000,
                "short_name": ticker,
                "exchange": exchange,
                "description": symbol,
                "original_name": symbol,
                "symbol": symbol,
                "fyToken": self._fytoken(symbol, info),
                "tt": str(int(time.time())),
            },
        }

    # ------------------------------------------------------------------ HTTP plumbing
    def _track_connection(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: dict | None,
              headers: dict[str, str] | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        try:
            h.send_response(status)
            if payload is not None:
                h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
        except OSError:  # the client gave up (timeout); nothing to do
            h.close_connection = True

    @staticmethod
    def _abort(h: BaseHTTPRequestHandler) -> None:
        """Close the connection at once with a TCP reset; no HTTP answer at all."""
        h.close_connection = True
        conn = h.connection
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for stream in (h.wfile, h.rfile):
            try:
                stream.close()
            except OSError:
                pass
        try:
            conn.close()
        except OSError:
            pass
        # http.server still flushes/closes these after the handler returns.
        h.wfile = io.BytesIO()
        h.rfile = io.BytesIO()

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        path = url.path
        if path.startswith("/api/v3/"):
            base, key = "api", path[len("/api/v3/"):]
        elif path.startswith("/data/"):
            base, key = "data", path[len("/data/"):]
        else:
            base, key = "", path.lstrip("/")
        key = key.strip("/")
        query = {k: v[0] if len(v) == 1 else v
                 for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        call = Call(method=h.command, path=key, query=query)
        with self._lock:
            self._calls.append(call)
        over = self._over_limit(time.monotonic())

        self._sleep(self.latency)
        if over is not None:
            call.fault = "strict_rate_limit"
            # Read before the refusal, as a front server does: closing a socket with unread bytes
            # resets it, and the client could lose the 429 (seen as RemoteDisconnected on a busy machine).
            self._drain_body(h)
            self._refuse_rate(h, call, over)
            return
        fault = self._take_fault(key)
        if fault is not None:
            call.fault = fault.kind
        if fault is not None and fault.kind == "reset_before":
            self._abort(h)
            return

        raw = b""
        length = int(h.headers.get("Content-Length") or 0)
        if length > 0:
            try:
                raw = h.rfile.read(length)
            except OSError:
                h.close_connection = True
                return
        body: Any = None
        body_ok = True
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body, body_ok = raw.decode("utf-8", "replace"), False
        call.body = body

        kind = fault.kind if fault is not None else None
        params = fault.params if fault is not None else {}
        if kind == "latency":
            self._sleep(float(params.get("seconds", 1.0)))
        elif kind == "status":
            status = int(params.get("status", 503))
            payload = params.get("body")
            if payload is None:
                try:
                    phrase = HTTPStatus(status).phrase
                except ValueError:
                    phrase = f"HTTP {status}"
                payload = _error(-status, phrase)
            call.status = status
            self._send(h, status, payload, params.get("headers"))
            return
        elif kind == "rate_limit":
            self._refuse_rate(h, call, float(params.get("retry_after", 1)))
            return
        elif kind == "gateway":
            if params.get("accept", True):  # Fyers took the order; the gateway lost the answer
                self._route(h, base, key, body, body_ok, fault)
            status = int(params.get("status", 504))
            call.status = status
            page = f"<html><body><h1>{status} Gateway Time-out</h1></body></html>".encode()
            try:
                h.send_response(status)
                h.send_header("Content-Type", "text/html")
                h.send_header("Content-Length", str(len(page)))
                h.end_headers()
                h.wfile.write(page)
            except OSError:
                h.close_connection = True
            return
        elif kind == "hang":
            if params.get("accept"):  # the order is placed, the answer never comes
                self._route(h, base, key, body, body_ok, fault)
            with self._lock:
                event = self._hang_event
            if not self._stopping.is_set():
                event.wait(min(float(params.get("max_seconds", HANG_MAX_SECONDS)),
                               HANG_MAX_SECONDS))
            self._abort(h)
            return

        status, payload, headers = self._route(h, base, key, body, body_ok, fault)
        if kind == "drop_after_accept":
            self._abort(h)
            return
        call.status = status
        self._send(h, status, payload, headers)

    @staticmethod
    def _drain_body(h: BaseHTTPRequestHandler) -> None:
        """Read a refused request's body, so the connection can stay open; a huge one closes it instead."""
        length = int(h.headers.get("Content-Length") or 0)
        if length > MAX_DRAIN_BYTES:
            h.close_connection = True
        elif length > 0:
            try:
                h.rfile.read(length)
            except OSError:
                h.close_connection = True

    def _refuse_rate(self, h: BaseHTTPRequestHandler, call: Call, retry_after: float) -> None:
        """HTTP 429 as Fyers answers it, with Retry-After in whole seconds (and in ms)."""
        call.status = 429
        with self._lock:
            self.rate_limited += 1
        self._send(
            h, 429, _error(-429, "Request limit reached, refresh after few mins"),
            {"Retry-After": str(max(1, math.ceil(retry_after))),
             "X-Retry-After-Ms": str(int(retry_after * 1000))},
        )

    def _route(self, h: BaseHTTPRequestHandler, base: str, key: str, body: Any, body_ok: bool,
               fault: _Fault | None) -> tuple[int, dict | None, dict | None]:
        routes = {
            ("api", "generate-authcode"): ("GET", False, self._generate_authcode),
            ("api", "validate-authcode"): ("POST", False, self._validate_authcode),
            ("api", "validate-refresh-token"): ("POST", False, self._validate_refresh_token),
            ("api", "profile"): ("GET", True, self._profile),
            ("api", "positions"): ("GET", True, self._get_positions),
            # The same path exits positions on DELETE (Exit Position in the reference).
            ("api", "positions", "DELETE"): ("DELETE", True, self._exit_positions),
            ("api", "positions", "PATCH"): ("PATCH", True, self._attach_position_legs),
            ("api", "orders/sync"): ("POST", True, self._place_order),
            ("api", "orders/sync", "DELETE"): ("DELETE", True, self._cancel_order),
            ("api", "orders/sync", "PATCH"): ("PATCH", True, self._modify_order),
            ("api", "orders"): ("GET", True, self._orderbook),
            ("api", "tradebook"): ("GET", True, self._tradebook),
            ("api", "funds"): ("GET", True, self._funds),
            ("api", "multiorder/margin"): ("POST", True, self._multiorder_margin),
            ("api", "gtt/orders/sync"): ("POST", True, self._place_gtt),
            ("api", "gtt/orders/sync", "PATCH"): ("PATCH", True, self._modify_gtt),
            ("api", "gtt/orders/sync", "DELETE"): ("DELETE", True, self._cancel_gtt),
            ("api", "gtt/orders"): ("GET", True, self._gtt_orderbook),
            ("data", "quotes"): ("GET", True, self._quotes),
            ("data", "marketStatus"): ("GET", True, self._market_status),
        }
        route = routes.get((base, key, h.command)) or routes.get((base, key))
        if route is None:
            path = urlsplit(h.path).path
            return 404, _error(-404, f"No such endpoint: {h.command} {path}"), None
        method, needs_auth, handler = route
        if h.command != method:
            return 405, _error(-405, f"Method {h.command} not allowed on {key}"), None
        if needs_auth:
            denied = self._authenticate(h.headers.get("Authorization"))
            if denied is not None:
                return denied[0], denied[1], None
        if method == "POST" and not body_ok:
            return 400, _error(-50, "Invalid request: body is not JSON"), None
        query = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query,
                                              keep_blank_values=True).items()}
        result = handler(query=query, body=body, fault=fault)
        return result if len(result) == 3 else (result[0], result[1], None)

    # ------------------------------------------------------------------ auth endpoints
    def _generate_authcode(self, query: dict, **_: Any):
        if query.get("client_id") != self.app_id:
            return 400, _error(-352, "Please provide a valid app id")
        redirect = query.get("redirect_uri")
        if not redirect or (self.redirect_uri and redirect != self.redirect_uri):
            return 400, _error(-50, "Please provide a valid redirect uri")
        if query.get("response_type") != "code":
            return 400, _error(-50, "Please provide a valid response type")
        params = {"s": "ok", "code": "200", "auth_code": self.issue_auth_code(),
                  "state": query.get("state", "")}
        location = redirect + ("&" if "?" in redirect else "?") + urlencode(params)
        return 302, None, {"Location": location}

    def _validate_authcode(self, body: Any, **_: Any):
        if not isinstance(body, dict) or body.get("grant_type") != "authorization_code":
            return 400, _error(-441, "invalid grant type")
        if not hmac.compare_digest(str(body.get("appIdHash", "")), self.app_id_hash()):
            return 400, _error(-371, "Please provide sha256 hash of appId and app secret")
        code = str(body.get("code") or "")
        claims = self._read_jwt(code)
        with self._lock:
            jti = (claims or {}).get("jti")
            exp = self._auth_codes.pop(jti, None) if claims and claims.get("sub") == "auth_code" \
                else None
        if exp is None or exp <= time.time():
            return 400, _error(-374, "Please provide a valid authorization code")
        return 200, {"s": "ok", "code": 200, "message": "",
                     "access_token": self.issue_token(),
                     "refresh_token": self.issue_refresh_token()}

    def _validate_refresh_token(self, body: Any, **_: Any):
        if not isinstance(body, dict) or body.get("grant_type") != "refresh_token":
            return 400, _error(-441, "invalid grant type")
        if not hmac.compare_digest(str(body.get("appIdHash", "")), self.app_id_hash()):
            return 400, _error(-371, "Please provide sha256 hash of appId and app secret")
        if not self.refresh_enabled:
            return 401, _error(-17, "Refresh token sessions are not supported. Please login again")
        verdict = self._check_token(str(body.get("refresh_token") or ""), "refresh_token",
                                    self._refresh)
        if verdict is not None:
            return 401, _error(-17, "Refresh token is invalid or expired. Please login again")
        if not hmac.compare_digest(str(body.get("pin", "")), self.pin):
            return 400, _error(-50, "Please provide a valid pin")
        return 200, {"s": "ok", "code": 200, "message": "", "access_token": self.issue_token()}

    # ------------------------------------------------------------------ account endpoints
    def _profile(self, **_: Any):
        return 200, {
            "s": "ok", "code": 200, "message": "",
            "data": {
                "fy_id": self.fy_id, "name": "TEST USER", "display_name": "TEST",
                "image": None, "email_id": "txxxxxx@example.com", "PAN": "ABxxxxxx1Z",
                "pin_change_date": "01-01-2026 10:00:00", "pwd_change_date": "01-01-2026 10:00:00",
                "mobile_number": "98xxxxxx10", "totp": True, "pwd_to_expire": 90,
                "ddpi_enabled": False, "mtf_enabled": False,
            },
        }

    def _market_status(self, **_: Any):
        nse_fo = "OPEN" if self.market_open else "CLOSED"
        rows = [
            (10, 10, "NORMAL", "OPEN" if self.market_open else "CLOSED"),
            (10, 11, "NORMAL", nse_fo),
            (10, 12, "NORMAL", "OPEN" if self.market_open else "CLOSED"),
            (10, 10, "CALL_AUCTION2", "CLOSED"),
            (10, 10, "AUCTION", "CLOSED"),
            (10, 10, "ODD_LOT", "CLOSED"),
            (11, 20, "NORMAL", "OPEN" if self.market_open else "CLOSED"),
            (12, 10, "NORMAL", "OPEN" if self.market_open else "CLOSED"),
            (12, 11, "NORMAL", "OPEN" if self.market_open else "CLOSED"),
        ]
        listed = [{"exchange": e, "segment": s, "market_type": m, "status": st} for e, s, m, st in rows]
        if self.market_status_rows is not None:
            listed = copy.deepcopy(self.market_status_rows)
        # The reference's own sample answer: `code` and `marketStatus`, no top-level `s`.
        return 200, {"code": 200, "message": "", "marketStatus": listed}

    def _quotes(self, query: dict, **_: Any):
        symbols = [s.strip() for s in str(query.get("symbols", "")).split(",") if s.strip()]
        if not symbols:
            return 400, _error(-50, "Please provide symbols")
        if len(symbols) > MAX_QUOTE_SYMBOLS:
            return 400, _error(-50, f"Maximum symbol limit is {MAX_QUOTE_SYMBOLS}")
        return 200, {"s": "ok", "code": 200, "message": "",
                     "d": [self._quote(s) for s in symbols]}

    # ------------------------------------------------------------------ orders
    def _validate_order(self, body: Any) -> tuple[dict | None, _SymbolInfo | None]:
        """(error answer, symbol info): error is None when the order passes."""
        def bad(message: str) -> tuple[dict, None]:
            return _error(-50, message), None

        if not isinstance(body, dict):
            return bad("Invalid request body")
        info = self.symbol_info(body.get("symbol") if isinstance(body.get("symbol"), str) else "")
        if info is None or info.kind == "index":
            return _error(-300, "Please provide a valid symbol"), None
        qty = body.get("qty")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            return bad("Please provide a valid order quantity")
        if qty % info.lot:
            return bad(f"Invalid qty {qty}: quantity should be a multiple of lot size {info.lot}")
        if body.get("type") not in (1, 2, 3, 4) or isinstance(body.get("type"), bool):
            return bad("Please provide a valid order type")
        if body.get("side") not in (1, -1) or isinstance(body.get("side"), bool):
            return bad("Please provide a valid order side of either buy or sell")
        product = body.get("productType")
        if product not in PRODUCT_TYPES:
            return bad("Please provide a valid product type for the order")
        if info.kind != "equity" and product in ("CNC", "MTF"):
            return bad(f"Product type {product} is not allowed for derivatives")
        validity = body.get("validity", "DAY")
        if validity not in ("DAY", "IOC"):
            return bad("Please provide a valid order validity")
        if not isinstance(body.get("offlineOrder", False), bool):
            return bad("Please provide a valid order offline flag")
        if not isinstance(body.get("isSliceOrder", False), bool):
            return bad("Please provide a valid isSliceOrder flag")
        disclosed = body.get("disclosedQty", 0)
        if not isinstance(disclosed, int) or isinstance(disclosed, bool) or disclosed < 0:
            return bad("Please provide a valid order disclosed quantity")
        if disclosed and info.kind != "equity":
            return bad("Disclosed quantity is allowed only for equity")
        leg_type = body.get("legType")
        if leg_type is not None and (isinstance(leg_type, bool) or leg_type not in (1, 2)):
            return bad("Please provide a valid legType: 1 (points) or 2 (percent)")
        percent_legs = leg_type == 2 and product in LEG_PRODUCTS
        prices = {}
        for name in ("limitPrice", "stopPrice", "stopLoss", "takeProfit"):
            value = body.get(name, 0)
            if value is None:
                value = 0
            if not _is_number(value) or value < 0:
                return bad(f"Please provide a valid {name}")
            if percent_legs and name in ("stopLoss", "takeProfit"):
                pass  # a percentage of the entry price, not a price: no tick to respect
            elif not _is_tick_multiple(float(value)):
                label = {"stopLoss": "StopLoss", "takeProfit": "TakeProfit"}.get(name, name)
                return bad(f"{label} not a multiple of tick size 0.0500")
            prices[name] = float(value)
        order_type = body["type"]
        if order_type in (1, 4) and prices["limitPrice"] <= 0:
            return bad("Please provide a valid limitPrice")
        if order_type in (3, 4) and prices["stopPrice"] <= 0:
            return bad("Please provide a valid stop price")
        if product in ("CO", "BO"):
            if validity != "DAY":
                return bad(f"Validity should be DAY for {product} orders")
            if prices["stopLoss"] <= 0:
                return bad(f"Please provide a valid stop loss value (mandatory for {product})")
            if product == "CO" and order_type not in (1, 2):
                return bad("Only market and limit orders are allowed")
            if product == "BO" and prices["takeProfit"] <= 0:
                return bad("Please provide a valid target value: takeProfit is mandatory for BO")
        elif product not in LEG_PRODUCTS and (prices["stopLoss"] or prices["takeProfit"]):
            return bad(f"stopLoss/takeProfit legs are not allowed for product type {product}")
        if "orderTag" in body:
            tag = body["orderTag"]
            if product in ("CO", "BO"):
                return bad("Order tag is not supported for BO and CO orders")
            if (not isinstance(tag, str) or not _ORDER_TAG_RE.match(tag)
                    or tag.lower() == "untagged" or tag.upper() == self.fy_id.upper()):
                return bad("Invalid orderTag: 1-30 alphanumeric characters, "
                           "not Untagged nor the client id")
        return None, info

    def _place_order(self, body: Any, fault: _Fault | None, **_: Any):
        error, info = self._validate_order(body)
        if error is not None:
            return 400, error
        assert info is not None
        if body.get("isSliceOrder"):
            return self._place_slices(body, info, fault)
        with self._lock:
            order, rejection = self._new_order(body, info, body["qty"], fault)
            order_id = order.book["id"]
            if rejection is not None:
                return 400, _error(-99, rejection, id=order_id)
            if fault is not None and fault.kind == "code_201":
                order.transit_reads = int(fault.params.get("transit_reads", 0))
                return 200, _NOT_ACKNOWLEDGED
            if order.late_rejection is None:
                self._execute(order)
        return 200, {"s": "ok", "code": 1101,
                     "message": f"Order submitted successfully. Your Order Ref. No. {order_id}",
                     "id": order_id}

    def _place_slices(self, body: dict, info: _SymbolInfo, fault: _Fault | None):
        """isSliceOrder: one order per slice of at most the freeze quantity (in whole lots),
        answered ``{"code":1101,"message":...,"data":[{"statusCode","body","statusDescription"}]}``
        with no top-level ``s`` or ``id`` (the reference's Auto-Order Slice sample)."""
        freeze = self.freeze_qty.get(info.underlying) or body["qty"]
        step = max(info.lot, freeze // info.lot * info.lot)
        sizes = [step] * (body["qty"] // step) + ([body["qty"] % step] if body["qty"] % step else [])
        if len(sizes) > MAX_SLICES:
            return 400, _error(-50, f"Maximum slices per request: {MAX_SLICES}")
        answers = []
        with self._lock:
            chosen, self._slice_rejections = self._slice_rejections, {}
            for number, qty in enumerate(sizes, 1):
                order, rejection = self._new_order(body, info, qty, fault, chosen.get(number))
                if rejection is not None:
                    answers.append({"statusCode": 400, "statusDescription": "Bad Request",
                                    "body": _error(-99, rejection, id=order.book["id"])})
                elif fault is not None and fault.kind == "code_201":
                    order.transit_reads = int(fault.params.get("transit_reads", 0))
                    answers.append({"statusCode": 200, "statusDescription": "OK",
                                    "body": dict(_NOT_ACKNOWLEDGED)})
                else:
                    if order.late_rejection is None:
                        self._execute(order)
                    answers.append({"statusCode": 200, "statusDescription": "OK",
                                    "body": {"code": 1101, "message": "Successfully placed order",
                                             "s": "ok", "id": order.book["id"]}})
        # The reference shows only an all-placed answer; a rejected slice is assumed to keep
        # the envelope and carry its own error body, so nothing may be read off the top level.
        return 200, {"code": 1101, "message": "Order Slice placed successfully", "data": answers}

    def _new_order(self, body: dict, info: _SymbolInfo, qty: int, fault: _Fault | None,
                   rejection: str | None = None) -> tuple[_Order, str | None]:
        """Book one order (status 4) and decide its rejection; the caller holds the lock."""
        symbol = body["symbol"]
        now = datetime.now(IST)
        self._order_seq += 1
        order_id = f"{now:%y%m%d}{self._order_seq:08d}"
        tag = body.get("orderTag")
        book = {
            "clientId": self.fy_id,
            "id": order_id,
            "id_fyers": str(uuid.uuid4()),
            "exchOrdId": "",
            "qty": qty,
            "remainingQuantity": qty,
            "filledQty": 0,
            "discloseQty": body.get("disclosedQty", 0),
            "disclosedQty": body.get("disclosedQty", 0),
            "limitPrice": float(body.get("limitPrice") or 0),
            "stopPrice": float(body.get("stopPrice") or 0),
            "tradedPrice": 0.0,
            "type": body["type"],
            "fyToken": self._fytoken(symbol, info),
            "exchange": 10,
            "segment": info.segment,
            "symbol": symbol,
            "instrument": info.instrument,
            "message": "",
            "offlineOrder": bool(body.get("offlineOrder", False)),
            "orderDateTime": now.strftime("%d-%b-%Y %H:%M:%S"),
            "orderValidity": body.get("validity", "DAY"),
            "pan": "",
            "productType": body["productType"],
            "side": body["side"],
            "status": 4,
            "source": "API",
            "ex_sym": info.underlying,
            "description": symbol,
            "ch": 0.0,
            "chp": 0.0,
            "lp": self.ltp(symbol),
            "slNo": len(self._orders) + 1,
            "dqQtyRem": 0,
            "orderNumStatus": f"{order_id}:4",
            "orderTag": f"1:{tag}" if tag else "2:Untagged",
            "takeProfit": float(body.get("takeProfit") or 0),
            "stopLoss": float(body.get("stopLoss") or 0),
        }
        if body["productType"] in LEG_PRODUCTS and (book["takeProfit"] or book["stopLoss"]):
            book["legType"] = body.get("legType") or 1  # the SDK's default: points
        order = _Order(book)
        self._orders.append(order)
        if rejection is None and self._late_rejections:
            order.late_rejection = self._late_rejections.pop(0)
            order.transit_reads = 1  # the first read still shows it in transit
            return order, None
        if rejection is None and self._rejections:
            rejection = self._rejections.pop(0)
        elif rejection is None and not self.market_open and not book["offlineOrder"]:
            rejection = "RED:Market is closed. Place an AMO order instead"
        if rejection is not None:
            self._set_status(order, 5, rejection)
            return order, rejection
        order.hidden_reads = int(fault.params.get("hidden_reads", 0)) if fault is not None else 0
        return order, None

    def _set_status(self, order: _Order, status: int, message: str = "") -> None:
        """Change an order's status; every change but to transit rings the postback URLs."""
        order.book["status"] = status
        order.book["orderNumStatus"] = f"{order.book['id']}:{status}"
        if message:
            order.book["message"] = message
        if status != 4:
            self._queue_postback(order.book)

    @staticmethod
    def _marketable(book: dict, ltp: float) -> bool:
        return book["type"] == 2 or (
            book["type"] == 1 and (ltp <= book["limitPrice"] if book["side"] == 1 else ltp >= book["limitPrice"])
        )

    def _execute(self, order: _Order) -> None:
        """Exchange side: fill market / marketable limit orders at the LTP, else pending (stop
        orders wait for ``set_ltp`` to cross their trigger); a late rejection lands here."""
        book = order.book
        ltp = self.ltp(book["symbol"])
        book["lp"] = ltp
        book["exchOrdId"] = book["exchOrdId"] or str(1100000000000000 + self._hash(book["id"]) % 10**15)
        if order.late_rejection is not None:
            self._set_status(order, 5, order.late_rejection)
            return
        if book["offlineOrder"] or not self._marketable(book, ltp):
            self._set_status(order, 6, "")
            return
        self._fill(order, ltp)

    def _fill(self, order: _Order, price: float) -> None:
        """Trade the whole order at ``price``: position, tradebook row, the legs it carries, and
        the sibling leg cancelled when a leg fills. The caller holds the lock."""
        book = order.book
        book["exchOrdId"] = book["exchOrdId"] or str(1100000000000000 + self._hash(book["id"]) % 10**15)
        book["lp"] = self.ltp(book["symbol"])
        book["filledQty"] = book["qty"]
        book["remainingQuantity"] = 0
        book["tradedPrice"] = price
        self._set_status(order, 2, "TRADE CONFIRMED")
        key = (book["symbol"], book["productType"])
        pos = self._positions.setdefault(key, {"buyQty": 0, "buyVal": 0.0, "sellQty": 0, "sellVal": 0.0})
        side = "buy" if book["side"] == 1 else "sell"
        pos[f"{side}Qty"] += book["qty"]
        pos[f"{side}Val"] += book["qty"] * price
        self._record_trade(book)
        parent_id = book.get("parentId")
        if parent_id:
            for other in self._orders:
                if other.book.get("parentId") == parent_id and other.book["status"] in WORKING:
                    self._set_status(other, 1, OTHER_LEG_EXECUTED)
        elif book["stopLoss"] and book["productType"] in ("CO", "BO"):
            self._open_legs(order)
        elif (book["stopLoss"] or book["takeProfit"]) and book["productType"] in LEG_PRODUCTS:
            self._open_legs(order)

    def _record_trade(self, book: dict) -> None:
        now = datetime.now(IST)
        number = 52600000 + len(self._trades) + 1
        self._trades.append({
            "clientId": self.fy_id, "orderDateTime": now.strftime("%d-%b-%Y %H:%M:%S"),
            "orderNumber": book["id"], "exchangeOrderNo": book["exchOrdId"], "exchange": book["exchange"],
            "side": book["side"], "segment": book["segment"], "orderType": book["type"],
            "fyToken": book["fyToken"], "productType": book["productType"], "tradedQty": book["qty"],
            "tradePrice": book["tradedPrice"], "tradeValue": round(book["qty"] * book["tradedPrice"], 2),
            "tradeNumber": str(number), "row": number, "symbol": book["symbol"], "orderTag": book["orderTag"],
        })

    @staticmethod
    def _offset_points(leg_type: int, offset: float, reference: float) -> float:
        """A leg's distance from the entry in rupees: points as given, or a percent of the entry."""
        return reference * offset / 100 if leg_type == 2 else offset

    @staticmethod
    def _leg_terms(role: str, entry_side: int, reference: float, points: float) -> dict:
        """Type and prices of a stop (SL-M) or target (limit) leg, on the tick, at least one tick."""
        if role == "stop":
            return {"type": 3, "limitPrice": 0.0, "stopPrice": max(TICK, _round_tick(reference - entry_side * points))}
        return {"type": 1, "limitPrice": max(TICK, _round_tick(reference + entry_side * points)), "stopPrice": 0.0}

    def _open_legs(self, parent: _Order) -> None:
        """A filled CO gets a stop-loss leg, a BO a stop-loss and a target leg, an INTRADAY/MARGIN
        order the legs it carries: pending orders on the other side, ids ``<parent>-BO-2`` (stop)
        / ``-BO-3`` (target), with ``parentId`` (reference: "BO Leg 2 & 3 and CO Leg 2"). The
        caller holds the lock."""
        book = parent.book
        leg_type = book.get("legType", 1)
        for role, number, offset in (("stop", "2", book["stopLoss"]), ("target", "3", book["takeProfit"])):
            if offset <= 0 or (role == "target" and book["productType"] == "CO"):
                continue
            points = self._offset_points(leg_type, offset, book["tradedPrice"])
            terms = self._leg_terms(role, book["side"], book["tradedPrice"], points)
            self._add_leg(book, f"{book['id']}-BO-{number}", book["id"], role, book["qty"], terms)

    def _add_leg(self, template: dict, leg_id: str, parent_id: str, role: str, qty: int, terms: dict) -> None:
        """Book a pending child leg copied from ``template`` (the parent's row); caller holds the lock."""
        row = copy.deepcopy(template)
        row.pop("legType", None)
        row.update({
            "id": leg_id, "parentId": parent_id, "id_fyers": str(uuid.uuid4()), "exchOrdId": "",
            "side": -template["side"], "qty": qty, "filledQty": 0, "remainingQuantity": qty,
            "tradedPrice": 0.0, "message": "", "slNo": len(self._orders) + 1, "stopLoss": 0.0,
            "takeProfit": 0.0, "offlineOrder": False, "lp": self.ltp(template["symbol"]), **terms,
        })
        order = _Order(row, leg=role)
        self._orders.append(order)
        self._set_status(order, 6, "")

    def _match(self, symbol: str, ltp: float) -> None:
        """The exchange at a new price: trigger and fill working orders in book order, then GTTs."""
        for order in list(self._orders):
            book = order.book
            if book["symbol"] != symbol or book["status"] != 6 or book["offlineOrder"]:
                continue
            price = self._fill_price(order, ltp)
            if price is not None:
                self._fill(order, price)
        for gtt in list(self._gtts):
            if gtt.row["symbol"] == symbol and gtt.row["ord_status"] == 6:
                self._trigger_gtt(gtt, ltp)

    @staticmethod
    def _fill_price(order: _Order, ltp: float) -> float | None:
        """Where a pending order trades at ``ltp``: SL-M at the LTP once triggered, limit and
        triggered SL-L at their limit price when marketable; None when it keeps waiting."""
        book = order.book
        buy = book["side"] == 1
        if book["type"] in (3, 4) and not order.triggered:
            if not (ltp >= book["stopPrice"] if buy else ltp <= book["stopPrice"]):
                return None
            order.triggered = True
            if book["type"] == 3:
                return ltp
        if book["type"] in (1, 4):
            limit = book["limitPrice"]
            return limit if (ltp <= limit if buy else ltp >= limit) else None
        return None

    def _orderbook(self, query: dict, **_: Any):
        order_id = query.get("id")
        tag = query.get("order_tag")
        rows = []
        with self._lock:
            for order in self._orders:
                if order.hidden_reads > 0:
                    order.hidden_reads -= 1
                    continue
                if order.book["status"] == 4:
                    if order.transit_reads > 0:
                        order.transit_reads -= 1
                    else:
                        self._execute(order)
                rows.append(copy.deepcopy(order.book))
        if order_id is not None:
            rows = [r for r in rows if r["id"] == order_id]
            if not rows:
                return 400, _error(-51, "Invalid order id")
        if tag is not None:
            wanted = {tag, f"1:{tag}"}
            rows = [r for r in rows if r["orderTag"] in wanted]
        return 200, {"s": "ok", "code": 200, "message": "", "orderBook": rows}

    def _tradebook(self, query: dict, **_: Any):
        """GET /tradebook: one row per fill; ``?order_tag=`` filters as the order book does."""
        tag = query.get("order_tag")
        with self._lock:
            rows = copy.deepcopy(self._trades)
        if tag is not None:
            rows = [r for r in rows if r["orderTag"] in {tag, f"1:{tag}"}]
        return 200, {"s": "ok", "code": 200, "message": "", "tradeBook": rows}

    def _find_order(self, order_id: Any) -> _Order | None:
        for order in self._orders:
            if order.book["id"] == order_id:
                return order
        return None

    def _named_order(self, body: Any) -> tuple[Any, tuple[int, dict] | None]:
        """The order a cancel or modify names by `id`, or the answer refusing it; the caller holds the lock."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return None, (400, _error(-50, "Please provide a valid order id"))
        order = self._find_order(body["id"])
        if order is None:
            return None, (400, _error(-51, "Invalid order id"))
        return order, None

    def _cancel_order(self, body: Any, **_: Any):
        """DELETE /orders/sync {"id"}: a working order (transit or pending) is cancelled."""
        with self._lock:
            order, refused = self._named_order(body)
            if refused is not None:
                return refused
            if order.book["status"] not in WORKING:
                return 400, _error(-52, NOT_MODIFIABLE)
            self._set_status(order, 1, "Cancelled by the user")
        return 200, {"s": "ok", "code": 1103, "message": "Successfully cancelled order", "id": body["id"]}

    def _modify_order(self, body: Any, **_: Any):
        """PATCH /orders/sync: new terms for a working order, or new TP/SL legs for a parent."""
        with self._lock:
            order, refused = self._named_order(body)
            if refused is not None:
                return refused
            book = order.book
            terms = any(k in body for k in ("limitPrice", "stopPrice", "qty")) or (
                "type" in body and body["type"] != book["type"]
            )
            legs = "stopLoss" in body or "takeProfit" in body
            if not terms and not legs:
                return 400, _error(-50, "Nothing to modify")
            if terms and book["status"] not in WORKING:
                return 400, _error(-52, NOT_MODIFIABLE)
            error = (self._check_terms(book, body) if terms else None) or (
                self._check_leg_change(order, body) if legs else None
            )
            if error is not None:
                return 400, _error(-50, error) if not error.startswith(NOT_MODIFIABLE) else _error(-52, error)
            if legs:  # first, so that terms which fill the order open the new legs
                self._apply_leg_change(order, body)
            if terms:
                self._apply_terms(order, body)
        return 200, {"s": "ok", "code": 1102, "message": "Successfully modified order", "id": body["id"]}

    def _check_terms(self, book: dict, body: dict) -> str | None:
        """Why new order terms are refused (the reference makes ``type`` mandatory), or None."""
        order_type = body.get("type")
        if order_type not in (1, 2, 3, 4) or isinstance(order_type, bool):
            return "Please provide a valid order type"
        info = self.symbol_info(book["symbol"])
        qty = body.get("qty", book["qty"])
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0 or (info and qty % info.lot):
            return "Please provide a valid order quantity"
        prices = {}
        for name in ("limitPrice", "stopPrice"):
            value = body.get(name, book[name])
            value = 0 if value is None else value
            if not _is_number(value) or value < 0 or not _is_tick_multiple(float(value)):
                return f"Please provide a valid {name}"
            prices[name] = float(value)
        if order_type in (1, 4) and prices["limitPrice"] <= 0:
            return "Please provide a valid limitPrice"
        if order_type in (3, 4) and prices["stopPrice"] <= 0:
            return "Please provide a valid stop price"
        return None

    def _apply_terms(self, order: _Order, body: dict) -> None:
        book = order.book
        book["type"] = body["type"]
        book["qty"] = book["remainingQuantity"] = body.get("qty", book["qty"])
        for name in ("limitPrice", "stopPrice"):
            book[name] = float(body.get(name, book[name]) or 0)
        order.triggered = False
        ltp = self.ltp(book["symbol"])
        if book["status"] == 6 and not book["offlineOrder"] and self._marketable(book, ltp):
            self._fill(order, ltp)

    def _check_leg_change(self, order: _Order, body: dict) -> str | None:
        """Why new TP/SL legs are refused, or None (``legType`` is read-only once legs exist)."""
        book = order.book
        if book["productType"] not in LEG_PRODUCTS or book.get("parentId"):
            return "stopLoss/takeProfit legs can be modified only on an INTRADAY or MARGIN parent order"
        leg_type = body.get("legType", book.get("legType", 1))
        if "legType" in body and "legType" in book and body["legType"] != book["legType"]:
            return "legType cannot be changed once legs exist"
        if leg_type not in (1, 2) or isinstance(leg_type, bool):
            return "Please provide a valid legType: 1 (points) or 2 (percent)"
        for name in ("stopLoss", "takeProfit"):
            value = body.get(name, 0)
            value = 0 if value is None else value
            if not _is_number(value) or value < 0:
                return f"Please provide a valid {name}"
            if leg_type == 1 and not _is_tick_multiple(float(value)):
                return f"{name[0].upper()}{name[1:]} not a multiple of tick size 0.0500"
        if book["status"] == 2:
            if any(o.book["status"] == 2 for o in self._orders if o.book.get("parentId") == book["id"]):
                return f"{NOT_MODIFIABLE}: a leg has already been executed"
        elif book["status"] not in WORKING:
            return NOT_MODIFIABLE
        return None

    def _apply_leg_change(self, order: _Order, body: dict) -> None:
        """Record new offsets on the parent; once it has traded, move, remove or add its legs."""
        book = order.book
        book["legType"] = body.get("legType", book.get("legType", 1))
        for name in ("stopLoss", "takeProfit"):
            if name in body:
                book[name] = float(body[name] or 0)
        if book["status"] == 2:
            self._reshape_legs(book, book["id"], book["tradedPrice"], book["qty"], body, book["legType"])
        if not book["stopLoss"] and not book["takeProfit"]:
            book.pop("legType")

    def _reshape_legs(self, template: dict, parent_id: str, reference: float, qty: int, changes: dict,
                      leg_type: int) -> None:
        """Move, remove (0/null) or add the stop/target legs of ``parent_id``; omitted ones stay."""
        entry_side = template["side"]
        existing = {o.leg: o for o in self._orders
                    if o.book.get("parentId") == parent_id and o.book["status"] in WORKING}
        for role, name in (("stop", "stopLoss"), ("target", "takeProfit")):
            if name not in changes:
                continue
            offset = float(changes[name] or 0)
            leg = existing.get(role)
            if not offset:
                if leg is not None:
                    self._set_status(leg, 1, "Cancelled: the leg was removed")
                continue
            terms = self._leg_terms(role, entry_side, reference, self._offset_points(leg_type, offset, reference))
            if leg is not None:
                leg.book.update(terms)
                continue
            self._add_leg(template, self._new_leg_id(parent_id, role), parent_id, role, qty, terms)

    def _new_leg_id(self, parent_id: str, role: str) -> str:
        """An order's leg is ``<parent>-BO-2`` (stop) / ``-BO-3`` (target), a re-added one the next
        free number of its kind; a position's leg gets a fresh order id (a position id is no order id)."""
        if any(parent_id == f"{k[0]}-{k[1]}" for k in self._positions):
            self._order_seq += 1
            return f"{datetime.now(IST):%y%m%d}{self._order_seq:08d}"
        taken = {o.book["id"] for o in self._orders}
        number = 2 if role == "stop" else 3
        while f"{parent_id}-BO-{number}" in taken and number < 99:
            number += 2
        return f"{parent_id}-BO-{number}"

    def _attach_position_legs(self, body: Any, **_: Any):
        """PATCH /positions (SDK attach_position_legs): TP/SL legs on an open INTRADAY/MARGIN
        position, as pending child rows whose ``parentId`` is the position id."""
        if not isinstance(body, dict) or not isinstance(body.get("positionId"), str):
            return 400, _error(-50, "Please provide a valid position id")
        with self._lock:
            key = next((k for k in self._positions if f"{k[0]}-{k[1]}" == body["positionId"]), None)
            if key is None:
                return 400, _error(-50, "Please provide a valid position id")
            pos = self._positions[key]
            net = pos["buyQty"] - pos["sellQty"]
            if not net:
                return 400, _error(-352, "No open position to attach legs to")
            if key[1] not in LEG_PRODUCTS:
                return 400, _error(-50, f"TP/SL legs are not allowed on a {key[1]} position")
            error = self._check_position_legs(body, key, abs(net))
            if error is not None:
                return 400, _error(-50, error)
            row = self._position_row(key, pos)
            template = self._counter_order_row(key, 1 if net > 0 else -1, abs(net))
            self._order_seq -= 1  # the template's id is never booked
            self._reshape_legs(template, body["positionId"], row["netAvg"], body.get("qty") or abs(net), body,
                               body.get("legType", 1))
        return 200, {"s": "ok", "code": 200, "message": "TP/SL legs attached to the position",
                     "id": body["positionId"]}

    def _check_position_legs(self, body: dict, key: tuple[str, str], open_qty: int) -> str | None:
        leg_type = body.get("legType", 1)
        if leg_type not in (1, 2) or isinstance(leg_type, bool):
            return "Please provide a valid legType: 1 (points) or 2 (percent)"
        info = self.symbol_info(key[0])
        qty = body.get("qty", open_qty)
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= open_qty or (info and qty % info.lot):
            return "Please provide a valid qty: at most the open quantity, in whole lots"
        for name in ("stopLoss", "takeProfit"):
            value = 0 if body.get(name) is None else body[name]
            if not _is_number(value) or value < 0:
                return f"Please provide a valid {name}"
            if leg_type == 1 and not _is_tick_multiple(float(value)):
                return f"{name[0].upper()}{name[1:]} not a multiple of tick size 0.0500"
        return None

    # ------------------------------------------------------------------ GTT
    def _check_gtt_legs(self, info: Any, legs: Any, oco: bool, ltp: float) -> str | None:
        """Why a GTT's orderInfo is refused, or None (OCO: leg 1 above the LTP, leg 2 below)."""
        if not isinstance(legs, dict) or not isinstance(legs.get("leg1"), dict):
            return "Please provide orderInfo.leg1"
        for name in ("leg1", "leg2") if oco else ("leg1",):
            leg = legs.get(name)
            if not isinstance(leg, dict):
                return f"Please provide orderInfo.{name}"
            for field_name in ("price", "triggerPrice"):
                value = leg.get(field_name)
                if not _is_number(value) or value <= 0 or not _is_tick_multiple(float(value)):
                    return f"Please provide a valid {name}.{field_name}"
            qty = leg.get("qty")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0 or qty % info.lot:
                return f"Please provide a valid {name}.qty in whole lots of {info.lot}"
        if oco and not legs["leg1"]["triggerPrice"] > ltp:
            return "For an OCO order the leg1 trigger price should be above the LTP"
        if oco and not legs["leg2"]["triggerPrice"] < ltp:
            return "For an OCO order the leg2 trigger price should be below the LTP"
        return None

    def _place_gtt(self, body: Any, **_: Any):
        """POST /gtt/orders/sync: a GTT single (leg1) or OCO (leg1 + leg2), CNC/MARGIN/MTF only."""
        if not isinstance(body, dict):
            return 400, _error(-50, "Invalid request body")
        info = self.symbol_info(body.get("symbol") if isinstance(body.get("symbol"), str) else "")
        if info is None or info.kind == "index":
            return 400, _error(-300, "Please provide a valid symbol")
        product = body.get("productType")
        if product not in GTT_PRODUCTS:
            return 400, _error(-50, f"Product type {product} is not allowed for GTT orders: use CNC, MARGIN or MTF")
        if info.kind != "equity" and product in ("CNC", "MTF"):
            return 400, _error(-50, f"Product type {product} is not allowed for derivatives")
        if body.get("side") not in (1, -1) or isinstance(body.get("side"), bool):
            return 400, _error(-50, "Please provide a valid order side of either buy or sell")
        tag = body.get("orderTag")
        if tag is not None and (not isinstance(tag, str) or not _ORDER_TAG_RE.match(tag)):
            return 400, _error(-50, "Invalid orderTag: 1-30 alphanumeric characters")
        legs = body.get("orderInfo")
        oco = isinstance(legs, dict) and "leg2" in legs
        ltp = self.ltp(body["symbol"])
        error = self._check_gtt_legs(info, legs, oco, ltp)
        if error is not None:
            return 400, _error(-50, error)
        with self._lock:
            self._order_seq += 1
            now = datetime.now(IST)
            gtt_id = f"{now:%y%m%d}{self._order_seq:08d}"
            row = self._gtt_row(gtt_id, body, info, now)
            self._gtts.append(_Gtt(row, f"1:GTT{tag}" if tag else "2:GTTUntagged", False))
            self._set_gtt_legs(self._gtts[-1], legs, ltp)
        return 200, {"code": 1101, "message": "Successfully placed order", "s": "ok", "id": gtt_id}

    def _gtt_row(self, gtt_id: str, body: dict, info: _SymbolInfo, now: datetime) -> dict:
        symbol = body["symbol"]
        return {
            "clientId": self.fy_id, "client_id": self.fy_id, "exchange": 10, "fy_token": self._fytoken(symbol, info),
            "id_fyers": str(uuid.uuid4()), "id": gtt_id, "instrument": info.instrument, "lot_size": info.lot,
            "multiplier": 1, "ord_status": 6, "precision": 2, "price_limit": 0.0, "price2_limit": 0.0,
            "price_trigger": 0.0, "price2_trigger": 0.0, "product_type": body["productType"], "qty": 0, "qty2": 0,
            "report_type": "PLACED", "segment": info.segment, "symbol": symbol, "symbol_desc": symbol,
            "symbol_exch": symbol.partition(":")[2], "tick_size": TICK, "tran_side": body["side"],
            "gtt_oco_ind": 1, "create_time": now.strftime("%d-%b-%Y %H:%M:%S"),
            "create_time_epoch": int(now.timestamp()), "oms_msg": "", "ltp_ch": 0.0, "ltp_chp": 0.0,
            "ltp": self.ltp(symbol),
        }

    @staticmethod
    def _set_gtt_legs(gtt: _Gtt, legs: dict, ltp: float) -> None:
        """Write the legs on the row; a single GTT triggers on the side of the LTP its trigger is."""
        row, leg1, leg2 = gtt.row, legs["leg1"], legs.get("leg2")
        row.update({"price_limit": float(leg1["price"]), "price_trigger": float(leg1["triggerPrice"]),
                    "qty": leg1["qty"], "gtt_oco_ind": 2 if leg2 else 1})
        if leg2:
            row.update({"price2_limit": float(leg2["price"]), "price2_trigger": float(leg2["triggerPrice"]),
                        "qty2": leg2["qty"]})
        gtt.leg1_up = True if leg2 else float(leg1["triggerPrice"]) >= ltp

    def _modify_gtt(self, body: Any, **_: Any):
        """PATCH /gtt/orders/sync {"id", "orderInfo"}: new legs for a pending GTT."""
        with self._lock:
            gtt, refused = self._pending_gtt(body)
            if refused is not None:
                return refused
            info = self.symbol_info(gtt.row["symbol"])
            ltp = self.ltp(gtt.row["symbol"])
            error = self._check_gtt_legs(info, body.get("orderInfo"), gtt.row["gtt_oco_ind"] == 2, ltp)
            if error is not None:
                return 400, _error(-50, error)
            self._set_gtt_legs(gtt, body["orderInfo"], ltp)
        return 200, {"code": 1102, "message": "Successfully modified order", "s": "ok", "id": body["id"]}

    def _pending_gtt(self, body: Any) -> tuple[Any, tuple[int, dict] | None]:
        """The pending GTT a modify or cancel names, or the answer refusing it; the caller holds the lock."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return None, (400, _error(-50, "Please provide a valid order id"))
        gtt = next((g for g in self._gtts if g.row["id"] == body["id"]), None)
        if gtt is None:
            return None, (400, _error(-51, "Invalid order id"))
        if gtt.row["ord_status"] != 6:
            return None, (400, _error(-52, NOT_MODIFIABLE))
        return gtt, None

    def _cancel_gtt(self, body: Any, **_: Any):
        """DELETE /gtt/orders/sync {"id"}: a pending GTT is cancelled."""
        with self._lock:
            gtt, refused = self._pending_gtt(body)
            if refused is not None:
                return refused
            gtt.row.update({"ord_status": 1, "report_type": "CANCELLED",
                            "oms_msg": "GTT/OCO order cancelled successfully."})
        return 200, {"code": 1103, "message": "Successfully cancelled order", "s": "ok", "id": body["id"]}

    def _gtt_orderbook(self, **_: Any):
        with self._lock:
            rows = [copy.deepcopy(g.row) for g in self._gtts]
        for row in rows:
            row["ltp"] = self.ltp(row["symbol"])
        return 200, {"s": "ok", "code": 200, "message": "", "orderBook": rows}

    def _trigger_gtt(self, gtt: _Gtt, ltp: float) -> None:
        """A crossed GTT leg places its limit order (the other OCO leg dies with the GTT)."""
        row = gtt.row
        up1 = ltp >= row["price_trigger"] if gtt.leg1_up else ltp <= row["price_trigger"]
        down2 = row["gtt_oco_ind"] == 2 and ltp <= row["price2_trigger"]
        if not up1 and not down2:
            return
        price, qty = (row["price_limit"], row["qty"]) if up1 else (row["price2_limit"], row["qty2"])
        row.update({"ord_status": 2, "report_type": "TRIGGERED", "oms_msg": "GTT order triggered"})
        body = {"symbol": row["symbol"], "qty": qty, "type": 1, "side": row["tran_side"],
                "productType": row["product_type"], "limitPrice": price}
        order, _rejection = self._new_order(body, self.symbol_info(row["symbol"]), qty, None)
        order.book["orderTag"] = gtt.tag
        if order.book["status"] == 4:
            self._execute(order)

    # ------------------------------------------------------------------ postbacks
    def _queue_postback(self, book: dict) -> None:
        """Queue the order's postback body for every registered URL (sent by the delivery thread)."""
        if not self.postback_urls:
            return
        body = {name: copy.deepcopy(book[name]) for name in POSTBACK_FIELDS if name in book}
        body["fytoken"] = book["fyToken"]  # the reference's table spells it so, its sample fyToken
        for url in list(self.postback_urls):
            self._postback_queue.put((url, body))

    @property
    def postbacks(self) -> list[dict]:
        """Every postback attempt: {"url", "body", "status" (None when it failed), "error",
        "attempt" (0: skipped, the URL being blacklisted), "forged"}, oldest first."""
        with self._lock:
            return copy.deepcopy(self._postback_log)

    def blacklisted(self, url: str) -> bool:
        """Whether ``url`` is blacklisted now (after a delivery failed every attempt)."""
        with self._lock:
            return self._blacklist.get(url, 0.0) > time.monotonic()

    def send_postback(self, url: str, body: Any) -> int | None:
        """POST ``body`` (a dict as JSON, str/bytes as they are) to ``url`` once, now, as a
        forged postback would arrive; returns the HTTP status (None: no answer). No retry, no
        blacklisting."""
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        status, error = self._post_once(url, data)
        with self._lock:
            self._postback_log.append({"url": url, "body": body, "status": status, "error": error,
                                       "attempt": 1, "forged": True})
        return status

    def drain_postbacks(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` s) until every queued postback is delivered or given up."""
        deadline = time.monotonic() + timeout
        while self._postback_queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _deliver_postbacks(self) -> None:
        """The delivery thread: one postback at a time, in order, never under the fake's lock."""
        while not self._postback_stop.is_set():
            try:
                url, body = self._postback_queue.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                self._deliver(url, body)
            finally:
                self._postback_queue.task_done()

    def _deliver(self, url: str, body: dict) -> None:
        data = json.dumps(body).encode()
        for attempt in range(1, POSTBACK_ATTEMPTS + 1):
            if self._postback_stop.is_set():
                return
            if self.blacklisted(url):
                with self._lock:
                    self._postback_log.append({"url": url, "body": body, "status": None, "error": "blacklisted",
                                               "attempt": 0, "forged": False})
                return
            status, error = self._post_once(url, data)
            with self._lock:
                self._postback_log.append({"url": url, "body": body, "status": status, "error": error,
                                           "attempt": attempt, "forged": False})
            if status == 200:
                return
            self._postback_stop.wait(self.postback_retry_pause)
        with self._lock:
            self._blacklist[url] = time.monotonic() + self.postback_blacklist_seconds

    @staticmethod
    def _post_once(url: str, data: bytes) -> tuple[int | None, str | None]:
        """One POST with a bounded timeout, no proxy: (status, None) or (None, error)."""
        parts = urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(parts.hostname or "", parts.port, timeout=POSTBACK_TIMEOUT)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            # The reference says "read the raw body": no JSON content type is promised, so none is sent.
            conn.request("POST", path, body=data, headers={"Content-Type": "text/plain; charset=utf-8"})
            response = conn.getresponse()
            response.read()
            return response.status, None
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()

    def _position_row(self, key: tuple[str, str], pos: dict) -> dict:
        symbol, product = key
        info = self.symbol_info(symbol)
        buy_qty, sell_qty = pos["buyQty"], pos["sellQty"]
        buy_avg = round(pos["buyVal"] / buy_qty, 2) if buy_qty else 0.0
        sell_avg = round(pos["sellVal"] / sell_qty, 2) if sell_qty else 0.0
        net = buy_qty - sell_qty
        net_avg = buy_avg if net > 0 else sell_avg if net < 0 else 0.0
        ltp = self.ltp(symbol)
        realized = round(min(buy_qty, sell_qty) * (sell_avg - buy_avg), 2) + 0.0  # no -0.0
        unrealized = round(net * (ltp - net_avg), 2) + 0.0 if net else 0.0
        return {
            "symbol": symbol,
            "id": f"{symbol}-{product}",
            "netQty": net,
            "qty": abs(net),
            "avgPrice": net_avg,
            "netAvg": net_avg,
            "side": 1 if net > 0 else -1 if net < 0 else 0,
            "productType": product,
            "realized_profit": realized,
            "unrealized_profit": unrealized,
            "pl": round(realized + unrealized, 2),
            "ltp": ltp,
            "buyQty": buy_qty,
            "buyAvg": buy_avg,
            "buyVal": round(pos["buyVal"], 2),
            "sellQty": sell_qty,
            "sellAvg": sell_avg,
            "sellVal": round(pos["sellVal"], 2),
            "slNo": 0,
            "fyToken": self._fytoken(symbol, info),
            "crossCurrency": "N",
            "rbiRefRate": 1.0,
            "qtyMulti_com": 1.0,
            "segment": info.segment if info else 11,
            "exchange": 10,
            "cfBuyQty": 0,
            "cfSellQty": 0,
            "dayBuyQty": buy_qty,
            "daySellQty": sell_qty,
        }

    # ------------------------------------------------------------------ funds and margin
    def _held_margin(self) -> float:
        """What the open short lots hold (the margin a new order's margin_new_order adds)."""
        held = 0.0
        for (symbol, _product), pos in self._positions.items():
            info = self.symbol_info(symbol)
            short = pos["sellQty"] - pos["buyQty"]
            if info is not None and info.lot and short > 0:
                held += short // info.lot * self.sell_margin_per_lot
        return held

    def _funds(self, **_: Any):
        """GET /funds: the reference's fund_limit rows; id 10 "Available Balance" is funds_available."""
        with self._lock:
            available, held = float(self.funds_available), self._held_margin()
        amounts = {1: available + held, 2: held, 3: available + held, 9: available + held, 10: available}
        rows = [{"id": number, "title": title, "equityAmount": amounts.get(number, 0.0), "commodityAmount": 0}
                for number, title in enumerate(FUND_TITLES, 1)]
        return 200, {"code": 200, "message": "", "s": "ok", "fund_limit": rows}

    def _check_margin_row(self, row: Any) -> dict | None:
        """The error answer for one multiorder-margin row, or None when it is valid (reference fields)."""
        if not isinstance(row, dict):
            return _error(-50, "Invalid request: each data row must be an object")
        missing = [name for name in ("symbol", "qty", "side", "type", "productType") if name not in row]
        if missing:
            return _error(-50, f"Please provide {', '.join(missing)}")
        info = self.symbol_info(row["symbol"] if isinstance(row["symbol"], str) else "")
        if info is None or info.kind == "index":
            return _error(-300, "Please provide a valid symbol")
        qty = row["qty"]
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0 or qty % info.lot:
            return _error(-50, f"Please provide a valid quantity: a multiple of lot size {info.lot}")
        if isinstance(row["side"], bool) or row["side"] not in (1, -1):
            return _error(-50, "Please provide a valid order side of either buy or sell")
        if isinstance(row["type"], bool) or row["type"] not in (1, 2, 3, 4):
            return _error(-50, "Please provide a valid order type")
        if row["productType"] not in PRODUCT_TYPES:
            return _error(-50, "Please provide a valid product type")
        for name in ("limitPrice", "stopLoss", "stopPrice", "takeProfit"):
            value = row.get(name, 0.0)
            if not _is_number(value) or value < 0:
                return _error(-50, f"Please provide a valid {name}")
        if row["type"] in (1, 4) and not row.get("limitPrice"):
            return _error(-50, "Please provide a valid limitPrice")
        if row["type"] in (3, 4) and not row.get("stopPrice"):
            return _error(-50, "Please provide a valid stop price")
        return None

    def _multiorder_margin(self, body: Any, **_: Any):
        """POST /multiorder/margin: what the orders need, in their sequence, and what the account has."""
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not rows:
            return 400, _error(-50, "Please provide data: a list of orders")
        for row in rows:
            error = self._check_margin_row(row)
            if error is not None:
                return 400, error
        total, bought = 0.0, {}  # (underlying, option type) -> lots bought earlier in the request
        with self._lock:
            for row in rows:
                info = self.symbol_info(row["symbol"])
                cover = (info.underlying, row["symbol"][-2:] if info.kind == "option" else "FUT")
                lots = row["qty"] // info.lot
                if row["side"] == 1:
                    price = row.get("limitPrice") if row["type"] in (1, 4) else self.ltp(row["symbol"])
                    total += float(price) * row["qty"]
                    bought[cover] = bought.get(cover, 0) + lots
                else:
                    hedged = min(lots, bought.get(cover, 0))
                    bought[cover] = bought.get(cover, 0) - hedged
                    total += hedged * self.hedged_sell_margin_per_lot + (lots - hedged) * self.sell_margin_per_lot
            available, held = float(self.funds_available), self._held_margin()
        margin = {"margin_avail": available, "margin_total": total, "margin_new_order": total + held}
        return 200, {"code": 200, "message": "", "data": margin, "s": "ok"}

    def _get_positions(self, **_: Any):
        with self._lock:
            rows = [self._position_row(k, v) for k, v in self._positions.items()]
        overall = {
            "count_total": len(rows),
            "count_open": sum(1 for r in rows if r["netQty"]),
            "pl_total": round(sum(r["pl"] for r in rows), 2),
            "pl_realized": round(sum(r["realized_profit"] for r in rows), 2),
            "pl_unrealized": round(sum(r["unrealized_profit"] for r in rows), 2),
        }
        return 200, {"s": "ok", "code": 200, "message": "", "netPositions": rows,
                     "overall": overall}

    def _exit_positions(self, body: Any, **_: Any):
        """DELETE /positions: close the positions named by ``id`` (one id or a list of
        "SYMBOL-PRODUCT" ids), or all with ``exit_all``, each with a counter order at market;
        ``pending_orders_cancel`` cancels their working orders (CO/BO legs) first."""
        if not isinstance(body, dict):
            return 400, _error(-50, "Invalid request body")
        ids = body.get("id")
        cancel = body.get("pending_orders_cancel") == 1
        with self._lock:
            if ids is None:
                if body.get("exit_all") != 1 and not cancel:
                    return 400, _error(-50, "Please provide a valid position id")
                keys = list(self._positions)
            else:
                wanted = [ids] if isinstance(ids, str) else ids
                if not isinstance(wanted, list) or not wanted or not all(
                        isinstance(i, str) for i in wanted):
                    return 400, _error(-50, "Please provide a valid position id")
                keys = [k for k in self._positions if f"{k[0]}-{k[1]}" in wanted]
            if cancel:
                for order in self._orders:
                    book = order.book
                    working = book["status"] in (4, 6)
                    if working and (ids is None or (book["symbol"], book["productType"]) in keys):
                        self._set_status(order, 1, "Cancelled before exiting the position")
            open_keys = [k for k in keys
                         if self._positions[k]["buyQty"] != self._positions[k]["sellQty"]]
            if not open_keys:
                return 400, _error(-352, "No open position to exit")
            unfilled = self._unfilled_exits > 0
            if unfilled:
                self._unfilled_exits -= 1
            for key in open_keys:
                pos = self._positions[key]
                net = pos["buyQty"] - pos["sellQty"]
                order = _Order(self._counter_order_row(key, -1 if net > 0 else 1, abs(net)))
                self._orders.append(order)
                if unfilled:
                    self._set_status(order, 6, "")  # at the exchange, not filled
                else:
                    self._execute(order)
        if unfilled:
            return 200, {"s": "ok", "code": 201,
                         "message": "Counter order placed but not filled; check the positions"}
        return 200, {"s": "ok", "code": 200, "message": "The position is closed."}

    def _counter_order_row(self, key: tuple[str, str], side: int, qty: int) -> dict:
        """The order-book row of the market order an exit-position call places (untagged)."""
        symbol, product = key
        info = self.symbol_info(symbol)
        now = datetime.now(IST)
        self._order_seq += 1
        order_id = f"{now:%y%m%d}{self._order_seq:08d}"
        return {
            "clientId": self.fy_id, "id": order_id, "id_fyers": str(uuid.uuid4()),
            "exchOrdId": "", "qty": qty, "remainingQuantity": qty, "filledQty": 0,
            "discloseQty": 0, "disclosedQty": 0, "limitPrice": 0.0, "stopPrice": 0.0,
            "tradedPrice": 0.0, "type": 2, "fyToken": self._fytoken(symbol, info),
            "exchange": 10, "segment": info.segment if info else 11, "symbol": symbol,
            "instrument": info.instrument if info else 14, "message": "",
            "offlineOrder": False, "orderDateTime": now.strftime("%d-%b-%Y %H:%M:%S"),
            "orderValidity": "DAY", "pan": "", "productType": product, "side": side,
            "status": 4, "source": "API", "ex_sym": info.underlying if info else "",
            "description": symbol, "ch": 0.0, "chp": 0.0, "lp": self.ltp(symbol),
            "slNo": len(self._orders) + 1, "dqQtyRem": 0, "orderNumStatus": f"{order_id}:4",
            "orderTag": "2:Untagged", "takeProfit": 0.0, "stopLoss": 0.0,
        }


# ---------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """Serve on the command line until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.fake_fyers",
        description="Fake Fyers API v3 server for local runs and benchmarks.",
    )
    parser.add_argument("--host", default=os.environ.get("FAKE_FYERS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_FYERS_PORT", "9000")))
    parser.add_argument("--latency", type=float,
                        default=float(os.environ.get("FAKE_FYERS_LATENCY", "0")),
                        help="seconds added to every request")
    parser.add_argument("--token", default=os.environ.get("FAKE_FYERS_TOKEN"),
                        help="an access token that is always valid (env FAKE_FYERS_TOKEN)")
    parser.add_argument("--app-id", default=os.environ.get("FAKE_FYERS_APP_ID", "TESTAPP-100"))
    parser.add_argument("--secret-id",
                        default=os.environ.get("FAKE_FYERS_SECRET_ID", "TESTSECRET"))
    parser.add_argument("--pin", default=os.environ.get("FAKE_FYERS_PIN", "1234"))
    parser.add_argument("--redirect-uri", default=os.environ.get("FAKE_FYERS_REDIRECT_URI"))
    parser.add_argument("--market-closed", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--strict-rate-limit", action="store_true",
                        help="refuse (429) past 10 requests in any sliding second or 200 in any minute")
    args = parser.parse_args(argv)

    fake = FakeFyers(app_id=args.app_id, secret_id=args.secret_id, pin=args.pin,
                     host=args.host, port=args.port, redirect_uri=args.redirect_uri,
                     fixed_token=args.token, latency=args.latency, verbose=args.verbose,
                     strict_rate_limit=args.strict_rate_limit)
    fake.market_open = not args.market_closed
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    token = args.token or fake.issue_token()
    print(f"api_base={fake.api_base}", flush=True)
    print(f"data_base={fake.data_base}", flush=True)
    print(f"app_id={fake.app_id}", flush=True)
    print(f"token={token}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
