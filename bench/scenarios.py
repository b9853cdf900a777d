"""The four measurements: (a) overhead per alert, (b) a burst of 20, (c) start-up, (d) resolution.

Each function starts what it measures, measures, stops it, and returns plain figures; the
report turns them into tables. Nothing here asserts a target: results are compared with
baselines measured in the same run.
"""

from __future__ import annotations

import http.client
import random
import statistics
import subprocess
import sys
import threading
import time
import timeit
from bisect import bisect_left, bisect_right
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from bench.fake import TimedFake, over_limit, peak_in_window
from bench.services import (
    GTHREAD,
    SECRET,
    UNPACED,
    Client,
    Server,
    ServiceProcess,
    new_state_dir,
    service_env,
)

NIFTY_LOT = 65
FYERS_PER_SECOND = 10  # Fyers's limit; the service's pacer keeps to it at send time


def alert(key: str, strike: int = 26000, option_type: str = "CE") -> dict:
    """One NIFTY weekly market order; SL/TP from the service's percentages."""
    return {
        "token": SECRET, "symbol": "NIFTY", "strikeprice": strike, "optionType": option_type,
        "expiry": "WEEKLY", "action": "BUY", "qty": NIFTY_LOT, "productType": "INTRADAY",
        "idempotency_key": key,
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# ---------------------------------------------------------------------------------------- (a)


class AnswerTimes:
    """p50 and p99 of a run's `answer_ms`."""

    answer_ms: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.answer_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.answer_ms, 99)


@dataclass
class Overhead(AnswerTimes):
    """(a): sequential alerts at zero broker latency."""

    server: Server
    answer_ms: list[float]  # our answer time, client side
    fake_ms: list[float]  # time the fake spent answering that alert's broker calls
    broker_calls: int
    statuses: Counter
    keep_alive: list[int]  # statuses of GET /health x4 on one keep-alive connection
    keep_alive_error: str | None  # the server's last logged error line when one of them failed

    @property
    def fake_p50(self) -> float:
        return percentile(self.fake_ms, 50)

    @property
    def own_p50(self) -> float:
        """Answer time minus the fake's own time, per alert, median."""
        return percentile([a - f for a, f in zip(self.answer_ms, self.fake_ms)], 50)

    @property
    def own_p99(self) -> float:
        return percentile([a - f for a, f in zip(self.answer_ms, self.fake_ms)], 99)


@dataclass(frozen=True)
class Case:
    """One (a) configuration: a server, and where its STATE_DIR lives."""

    name: str
    server: Server
    state_parent: Path
    env: tuple[tuple[str, str], ...] = ()  # extra environment (e.g. PYTHONPATH of an older version)


def overhead(cases: list[Case], fake: TimedFake, workdir: Path, alerts: int = 300,
             warmup: int = 30, turn: int = 10) -> dict[str, Overhead]:
    """Sequential alerts, distinct keys, one new connection each (as TradingView sends them:
    alerts come seconds apart, longer than a server keeps an idle connection open).

    Every case runs at once, idle but for the alert it is answering, and the cases take turns
    of `turn` alerts (after one unmeasured alert that brings the process back into the CPU's
    caches): whatever else the machine does during the run weighs on all of them alike, so
    their ratios hold even when the absolute figures move.
    """
    with ExitStack() as stack:
        services = {}
        for case in cases:
            env = service_env(fake, new_state_dir(case.state_parent, f"a-{case.server.key}"), **UNPACED,
                              **dict(case.env))
            services[case.name] = stack.enter_context(ServiceProcess(case.server, env, workdir))
        for name, service in services.items():
            service.wait_for("/health")
            service.login()
            client = Client(service.port, keep_alive=False)
            for i in range(warmup):
                client.post_alert(alert(f"warm-{name}-{i}"))
        clients = {name: Client(service.port, keep_alive=False) for name, service in services.items()}
        windows: dict[str, list[tuple[float, float]]] = {name: [] for name in services}
        answers: dict[str, list] = {name: [] for name in services}
        for first in range(0, alerts, turn):
            for name, client in clients.items():
                client.post_alert(alert(f"turn-{name}-{first}"))
                for i in range(first, min(first + turn, alerts)):
                    client.connect()  # the handshake is not the service's time
                    started = time.perf_counter()
                    answers[name].append(client.post_alert(alert(f"a-{name}-{i}")))
                    windows[name].append((started, time.perf_counter()))
        keep_alive = {name: _keep_alive_statuses(service.port) for name, service in services.items()}
        errors = {
            name: _last_error(service.output()) if any(status != 200 for status in keep_alive[name]) else None
            for name, service in services.items()
        }
    time.sleep(0.05)  # the fake records a request just after answering it
    timings = fake.timings()
    results = {}
    for case in cases:
        spent = _fake_share(timings, windows[case.name])
        results[case.name] = Overhead(
            case.server,
            [answer.seconds * 1000 for answer in answers[case.name]],
            [ms for ms, _ in spent],
            sum(count for _, count in spent),
            Counter(answer.body.get("status", str(answer.status)) for answer in answers[case.name]),
            keep_alive[case.name],
            errors[case.name],
        )
    return results


def _last_error(log: str) -> str | None:
    """The last exception line of a server log ("SomeError: message")."""
    errors = [line.strip() for line in log.splitlines() if line[:1].isalpha() and "Error: " in line]
    return errors[-1] if errors else None


def _keep_alive_statuses(port: int, requests: int = 4) -> list[int]:
    """Statuses of a few requests on one keep-alive connection (0: no answer)."""
    client = Client(port, keep_alive=True)
    statuses = []
    for _ in range(requests):
        try:
            statuses.append(client.request("GET", "/health")[0])
        except OSError:  # http.client's errors on a dropped connection are OSErrors or HTTPException
            statuses.append(0)
        except http.client.HTTPException:
            statuses.append(0)
    client.close()
    return statuses


def _fake_share(timings: list[tuple[float, float]], windows: list[tuple[float, float]]) -> list[tuple[float, int]]:
    """(ms the fake spent, requests) for the requests that arrived inside each alert's window.

    The alerts of all cases are sequential, so a request inside a window is that alert's.
    """
    timings = sorted(timings)
    arrivals = [arrived for arrived, _ in timings]
    shares = []
    for start, end in windows:
        first, last = bisect_left(arrivals, start), bisect_right(arrivals, end)
        shares.append((sum(seconds for _, seconds in timings[first:last]) * 1000, last - first))
    return shares


@dataclass
class Breakdown:
    """Where (a)'s time goes: the cost of the pieces an alert is made of, measured alone."""

    state_write_ms: float  # one LocalStateStore write (atomic rename + fsync), p50
    state_write_p99_ms: float
    memory_write_ms: float | None  # the same on a memory file system (/dev/shm), p50
    broker_round_trip_ms: float  # one HTTP request to the zero-latency fake with requests, p50
    fake_ms: float  # the fake's own share of that round trip, p50


def breakdown(fake: TimedFake, workdir: Path, memory: Path | None, samples: int = 300) -> Breakdown:
    """Each piece in this process, on the same disk and loopback as the services."""
    import requests

    writes = _state_writes(workdir, samples)
    in_memory = _state_writes(memory, samples) if memory else None

    session = requests.Session()  # what the SDK's session is: requests, keep-alive, trust_env
    url = f"{fake.data_base}/quotes"
    headers = {"Authorization": f"{fake.app_id}:{fake.issue_token()}"}
    trips = []
    mark = len(fake.timings())
    for _ in range(samples):
        started = time.perf_counter()
        session.get(url, params={"symbols": "NSE:NIFTY26NOV26000CE"}, headers=headers, timeout=5)
        trips.append(time.perf_counter() - started)
    session.close()
    time.sleep(0.05)
    own = [seconds for _, seconds in fake.timings()[mark:]]
    return Breakdown(
        percentile(writes, 50) * 1000,
        percentile(writes, 99) * 1000,
        percentile(in_memory, 50) * 1000 if in_memory else None,
        percentile(trips, 50) * 1000,
        percentile(own, 50) * 1000,
    )


def _state_writes(parent: Path, samples: int) -> list[float]:
    """Seconds per LocalStateStore.create of a journal-sized record."""
    from app.adapters.local_state import LocalStateStore

    store = LocalStateStore(new_state_dir(parent, "breakdown"))
    writes = []
    for i in range(samples):
        started = time.perf_counter()
        store.create(f"journal/bench/{i}", {"recorded_at": "2026-01-01T09:15:00+05:30", "entry": "x" * 600})
        writes.append(time.perf_counter() - started)
    return writes


# ---------------------------------------------------------------------------------------- (b)


@dataclass
class Burst:
    """One burst of simultaneous alerts."""

    wall_s: float  # first request sent to last answer read
    slowest_s: float  # the longest single answer
    broker_calls: Counter  # by path, as the fake received them
    fake_429: int  # 429 answers from the fake
    peak_per_second: int  # most calls arriving at the fake within any 1 s
    over_per_second: int  # calls a strict sliding 10-per-second limiter would have refused
    statuses: Counter  # the service's answers, by body status

    @property
    def placed(self) -> int:
        return self.statuses.get("placed", 0)

    @property
    def calls(self) -> int:
        return sum(self.broker_calls.values())


@dataclass
class Bursts:
    """(b): the same burst, repeated on one service process."""

    server: Server
    runs: list[Burst] = field(default_factory=list)

    @property
    def wall_median(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)


def bursts(server: Server, fake: TimedFake, workdir: Path, size: int = 20, repeats: int = 3) -> Bursts:
    """`repeats` bursts of `size` simultaneous alerts, distinct keys and contracts, default pacer."""
    env = service_env(fake, new_state_dir(workdir, f"b-{server.key}"))
    result = Bursts(server)
    with ServiceProcess(server, env, workdir) as service:
        service.wait_for("/health")
        service.login()
        # One alert first: a long-running service has its Fyers client and connections warm.
        Client(service.port, keep_alive=False).post_alert(alert(f"warm-{server.key}", strike=27000))
        for repeat in range(repeats):
            time.sleep(1.1)  # an empty one-second window in the pacer, as between two bar closes
            result.runs.append(_burst(service.port, fake, size, f"b-{server.key}-{repeat}"))
    return result


def _burst(port: int, fake: TimedFake, size: int, prefix: str) -> Burst:
    # Distinct contracts: NIFTY weekly 25500..25950, calls and puts.
    contracts = [(25500 + 50 * (i // 2), "CE" if i % 2 == 0 else "PE") for i in range(size)]
    clients = [Client(port, keep_alive=False) for _ in range(size)]
    for client in clients:
        client.connect()
    barrier = threading.Barrier(size)
    sent = [0.0] * size
    done = [0.0] * size
    answers: list = [None] * size

    def send(i: int) -> None:
        strike, option_type = contracts[i]
        barrier.wait(timeout=30)
        sent[i] = time.perf_counter()
        try:
            answers[i] = clients[i].post_alert(alert(f"{prefix}-{i}", strike, option_type))
        except OSError as error:
            answers[i] = error
        done[i] = time.perf_counter()

    mark = fake.mark()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    time.sleep(0.05)  # the fake records a call after answering it
    calls = fake.calls_since(mark)
    statuses = Counter(
        answer.body.get("status", str(answer.status)) if not isinstance(answer, OSError) else "no answer"
        for answer in answers
    )
    return Burst(
        wall_s=max(done) - min(sent),
        slowest_s=max(d - s for s, d in zip(sent, done)),
        broker_calls=Counter(call.path for call in calls),
        fake_429=sum(1 for call in calls if call.status == 429),
        peak_per_second=peak_in_window(calls, 1.0),
        over_per_second=over_limit(calls, FYERS_PER_SECOND, 1.0),
        statuses=statuses,
    )


# ---------------------------------------------------------------------------------------- (c)


@dataclass
class Startup:
    """(c): spawn to the first /readyz 200 with the large master, and peak memory."""

    label: str
    ready_s: list[float]
    peak_mb_ready: dict[str, float]  # process role -> VmHWM after ready
    peak_mb_after: dict[str, float]  # ... and after some alerts
    after_statuses: Counter  # the answers to those alerts

    @property
    def total_after(self) -> float:
        return sum(self.peak_mb_after.values())


def login_once(fake: TimedFake, workdir: Path) -> Path:
    """A state directory holding a valid Fyers session, as a restarted instance finds it."""
    state = new_state_dir(workdir, "c-session")
    with ServiceProcess(GTHREAD, service_env(fake, state), workdir) as service:
        service.wait_for("/health")
        service.login()
    return state


def startup(server: Server, fake: TimedFake, workdir: Path, state: Path, master: str,
            runs: int = 3, alerts: int = 50, label: str | None = None) -> Startup:
    """Start `runs` times on a logged-in state directory; time spawn -> /readyz 200."""
    ready, peak_ready, peak_after, statuses = [], {}, {}, Counter()
    for run in range(runs):
        env = service_env(fake, state, master=master, **UNPACED)
        with ServiceProcess(server, env, workdir) as service:
            ready.append(service.wait_for("/readyz", interval=0.005))
            if run == runs - 1:  # memory of the last start: ready, then after some alerts
                peak_ready = _roles(service)
                client = Client(service.port, keep_alive=False)
                for i in range(alerts):
                    answer = client.post_alert(alert(f"c-{server.key}-{time.time_ns()}-{i}"))
                    statuses[answer.body.get("status", str(answer.status))] += 1
                peak_after = _roles(service)
    return Startup(label or server.label, ready, peak_ready, peak_after, statuses)


def _roles(service: ServiceProcess) -> dict[str, float]:
    """VmHWM by role: the server process and (gunicorn) its worker."""
    peaks = service.peak_rss_mb()
    root = service.process.pid
    named = {"server" if pid == root else f"worker {pid}": mb for pid, mb in peaks.items()}
    if len(named) == 2:  # gunicorn: say which is which
        named = {"master" if name == "server" else "worker": mb for name, mb in named.items()}
    return named


def python_start(code: str, runs: int = 3) -> list[float]:
    """Seconds for `python -c code` to start and exit (a reference for start-up figures)."""
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.monotonic() - started)
    return times


# ---------------------------------------------------------------------------------------- (d)


@dataclass
class Resolution:
    """(d): contract resolution against the large master, in this process."""

    contracts: int
    load_s: float  # read, parse and index the file
    index_us: float  # µs per lookup, the master's index
    index_lookups: int
    scan_us: float  # µs per lookup, a linear scan over the contracts
    scan_lookups: int


def resolution(master_path: Path, now: datetime, lookups: int = 20_000, scan_lookups: int = 200) -> Resolution:
    from app.adapters.symbol_master import load_symbol_master
    from app.domain.contracts import IST

    started = time.perf_counter()
    master = load_symbol_master(str(master_path), today=now.astimezone(IST).date())
    load_s = time.perf_counter() - started

    # Every listed contract, through the public API (the baseline scans this list).
    contracts = []
    for underlying in sorted(master.underlyings):
        for expiry in master.expiries(underlying, now):
            for option_type in ("CE", "PE"):
                for strike in master.strikes(underlying, expiry, option_type):
                    contracts.append(master.resolve(underlying, expiry, strike, option_type, now))

    # Alerts as they come: half name an expiry date, half a selector (WEEKLY, MONTHLY, ...);
    # the strike is a fresh Decimal, as the alert parser makes one per alert.
    from app.domain.contracts import EXPIRY_SELECTORS

    rng = random.Random(7)
    queries = []
    while len(queries) < lookups:
        contract = rng.choice(contracts)
        expiry = contract.expiry if rng.random() < 0.5 else rng.choice(EXPIRY_SELECTORS)
        query = (contract.underlying, expiry, Decimal(str(contract.strike)), contract.option_type)
        try:
            master.resolve(*query, now)
        except Exception:  # e.g. NEXT_MONTHLY on a strike only the nearest month lists
            continue
        queries.append((*query, contract))

    resolve = master.resolve
    batch = [query[:4] for query in queries]

    def by_index() -> None:
        for underlying, selector, strike, option_type in batch:
            resolve(underlying, selector, strike, option_type, now)

    index_us = min(timeit.repeat(by_index, number=1, repeat=5)) / len(batch) * 1e6

    scan_batch = [(c.underlying, c.expiry, c.strike, c.option_type) for *_, c in queries[:scan_lookups]]

    def by_scan() -> None:
        for underlying, expiry, strike, option_type in scan_batch:
            next(c for c in contracts if c.underlying == underlying and c.expiry == expiry
                 and c.strike == strike and c.option_type == option_type)

    scan_us = min(timeit.repeat(by_scan, number=1, repeat=3)) / len(scan_batch) * 1e6
    return Resolution(len(master), load_s, index_us, len(batch), scan_us, len(scan_batch))
