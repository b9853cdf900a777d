"""(e) Bursts of 20 and 40 alerts against a fake Fyers that enforces 10 requests in any sliding second.

Each (pacer, size) pair gets a fresh strict fake (150 ms per request) and a fresh service
process, so no burst inherits another's window. After the answers, the bench waits for the
fake to go quiet (orders answered 202 pending may still be on their way), asks the service to
settle its pending orders (POST /reconcile), and reads the fake's order book: every alert's
contract must be there exactly once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.fake import TimedFake
from bench.scenarios import alert
from bench.services import ADMIN, GUNICORN_ASGI, Client, Server, ServiceProcess, _gunicorn, new_state_dir, service_env

BROKER_LATENCY = 0.15
SIZES = (20, 40)
BASELINE_PACER = Server("baseline-pacer", "baseline: previous pacer (booking, no margin), gunicorn asgi + a2wsgi",
                        _gunicorn("asgi", "bench.baseline_app:create_asgi_app()"), baseline=True)
QUIET_SECONDS = 3.0  # no new call at the fake for this long: whatever was pending has been sent
SETTLE_LIMIT = 30.0


@dataclass
class StrictBurst:
    """One burst of `size` simultaneous alerts on a fresh service and strict fake."""

    server: Server
    size: int
    statuses: Counter  # the service's answers, by body status ("placed", "pending", ...)
    http: Counter  # ... by HTTP status
    slowest_s: float
    rate_limited: int  # 429s the fake sent during the burst and its settling
    max_in_any_second: int  # the fake's own figure, over the whole run of this fake
    max_in_any_minute: int
    order_arrivals_s: list[float]  # accepted orders/sync calls, seconds after the burst was released
    per_contract: dict[str, int]  # orders in the fake's book per alert contract, after settling
    reconcile_status: int

    @property
    def placed_in_alert(self) -> int:
        return self.statuses.get("placed", 0)

    @property
    def placed_once(self) -> int:
        return sum(1 for count in self.per_contract.values() if count == 1)

    @property
    def duplicated(self) -> int:
        return sum(count - 1 for count in self.per_contract.values() if count > 1)

    @property
    def missing(self) -> int:
        return sum(1 for count in self.per_contract.values() if count == 0)

    def nth_order_s(self, n: int) -> float | None:
        """Seconds from the burst's release to the n-th order accepted at Fyers (None: fewer)."""
        return self.order_arrivals_s[n - 1] if len(self.order_arrivals_s) >= n else None


def strict_bursts(workdir: Path, sizes: tuple[int, ...] = SIZES) -> dict[str, list[StrictBurst]]:
    """Every size against the candidate (the shipped server) and the previous pacer."""
    results: dict[str, list[StrictBurst]] = {}
    for server in (GUNICORN_ASGI, BASELINE_PACER):
        results[server.key] = [strict_burst(server, workdir, size) for size in sizes]
    return results


def strict_burst(server: Server, workdir: Path, size: int) -> StrictBurst:
    fake = TimedFake(latency=BROKER_LATENCY, strict_rate_limit=True).start()
    try:
        env = service_env(fake, new_state_dir(workdir, f"e-{server.key}-{size}"))
        with ServiceProcess(server, env, workdir) as service:
            service.wait_for("/health")
            service.login()
            Client(service.port, keep_alive=False).post_alert(alert(f"warm-{server.key}", strike=27000))
            time.sleep(1.2)  # an empty sliding second at the fake, as between two bar closes
            mark, books_before = fake.mark(), len(fake.orders)
            limited_before = fake.rate_limited
            released, answers, seconds = _fire(service.port, size, f"e-{server.key}-{size}")
            _wait_quiet(fake)
            status, _, _ = Client(service.port, keep_alive=False).request(
                "POST", "/reconcile", headers={"Authorization": f"Bearer {ADMIN}"})
            _wait_quiet(fake)
        calls = fake.calls_since(mark)
        book = fake.orders[books_before:]
        booked = Counter(order["symbol"] for order in book)
        symbols = sorted({order["symbol"] for order in book} | set(_symbols(answers)))
        return StrictBurst(
            server=server,
            size=size,
            statuses=Counter(a.body.get("status", str(a.status)) if not isinstance(a, Exception) else "no answer"
                             for a in answers),
            http=Counter(a.status if not isinstance(a, Exception) else 0 for a in answers),
            slowest_s=max(seconds),
            rate_limited=fake.rate_limited - limited_before,
            max_in_any_second=fake.max_in_any_second(),
            max_in_any_minute=fake.max_in_any_minute(),
            order_arrivals_s=sorted(c.at - released for c in calls if c.path == "orders/sync" and c.status == 200),
            per_contract=_per_contract(booked, symbols, size),
            reconcile_status=status,
        )
    finally:
        fake.stop()


def _per_contract(booked: Counter, symbols: list[str], size: int) -> dict[str, int]:
    """Orders per alert contract; contracts with no order (no symbol known) count as 0 each."""
    counts = {symbol: booked.get(symbol, 0) for symbol in symbols}
    for i in range(size - len(counts)):
        counts[f"(unplaced {i + 1})"] = 0
    return counts


def _symbols(answers: list) -> list[str]:
    """The Fyers symbols the answers name, where they name one."""
    found = []
    for answer in answers:
        body = getattr(answer, "body", None) or {}
        symbol = body.get("symbol") or (body.get("order") or {}).get("symbol")
        if isinstance(symbol, str):
            found.append(symbol)
    return found


def _fire(port: int, size: int, prefix: str) -> tuple[float, list, list[float]]:
    """`size` alerts released at once (distinct keys and contracts); (release time.time(), answers, seconds)."""
    contracts = [(25500 + 50 * (i // 2), "CE" if i % 2 == 0 else "PE") for i in range(size)]
    clients = [Client(port, keep_alive=False) for _ in range(size)]
    for client in clients:
        client.connect()
    barrier = threading.Barrier(size + 1)
    answers: list = [None] * size
    seconds = [0.0] * size

    def send(i: int) -> None:
        strike, option_type = contracts[i]
        barrier.wait(timeout=30)
        started = time.perf_counter()
        try:
            answers[i] = clients[i].post_alert(alert(f"{prefix}-{i}", strike, option_type))
        except (OSError, json.JSONDecodeError) as error:
            answers[i] = error
        seconds[i] = time.perf_counter() - started

    threads = [threading.Thread(target=send, args=(i,)) for i in range(size)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    released = time.time()
    for thread in threads:
        thread.join(timeout=60)
    return released, answers, seconds


def _wait_quiet(fake: TimedFake) -> None:
    """Until no request has reached the fake for QUIET_SECONDS (at most SETTLE_LIMIT)."""
    stop_at = time.monotonic() + SETTLE_LIMIT
    seen, since = len(fake.calls), time.monotonic()
    while time.monotonic() < stop_at:
        time.sleep(0.2)
        now = len(fake.calls)
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_SECONDS:
            return
