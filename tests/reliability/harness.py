"""Shared pieces of the reliability suite: scale, alerts, timed sends, results and the report.

`SOAK=1` selects the full run (`make soak`); without it a small CI subset runs on every
`make test`. A full run records each scenario's figures under `tests/reliability/.results/`
and rewrites `docs/reliability.md` from them after every scenario, so the report always holds
the latest figure of every scenario (each table carries its own date and command).

    .venv/bin/python -m tests.reliability.harness     # rewrite docs/reliability.md from the results
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import random
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "tests" / "reliability" / ".results"
REPORT = ROOT / "docs" / "reliability.md"

SOAK = os.environ.get("SOAK") == "1"
ANSWER_LIMIT = 3.0  # seconds: TradingView gives up after 3

# Index options the synthetic master lists (underlying, expiry selector, lot, spot, step).
_LISTINGS = (
    ("NIFTY", "WEEKLY", 65, 26000, 50),
    ("BANKNIFTY", "MONTHLY", 30, 59000, 100),
    ("FINNIFTY", "MONTHLY", 60, 27500, 50),
    ("MIDCPNIFTY", "MONTHLY", 120, 13500, 25),
)
_STRIKES_EACH_SIDE = 40


# RELIABILITY_SEED when set; else fixed in CI (repeatable) and fresh for every soak run.
RUN_SEED = os.environ.get("RELIABILITY_SEED") or (str(int(time.time())) if SOAK else "20261118")


def seed_for(name: str) -> int:
    """The seed of one scenario of this run."""
    return zlib.crc32(f"{RUN_SEED}:{name}".encode())


def contract_pool(rng: random.Random) -> list[dict[str, Any]]:
    """Every distinct (contract, side) the synthetic master offers, shuffled.

    Within one scenario every alert gets its own, so an order at the broker belongs to exactly
    one alert even when it carries no tag (CO/BO): contract and side identify it.
    """
    pool = []
    for underlying, expiry, lot, spot, step in _LISTINGS:
        for offset in range(-_STRIKES_EACH_SIDE, _STRIKES_EACH_SIDE + 1):
            for option_type in ("CE", "PE"):
                for action in ("BUY", "SELL"):
                    pool.append(
                        {
                            "symbol": underlying,
                            "strikeprice": spot + offset * step,
                            "optionType": option_type,
                            "expiry": expiry,
                            "action": action,
                            "qty": lot,
                        }
                    )
    rng.shuffle(pool)
    return pool


@dataclass
class Sent:
    """One request and what came of it."""

    kind: str  # first, resend (after a 5xx/409/no answer), extra (random resend), twin (concurrent)
    status: int | None  # None: no answer (connection error, timeout)
    body: dict[str, Any]
    started: float  # monotonic
    elapsed: float  # seconds
    error: str | None = None


def timed(call: Callable[[], tuple], kind: str) -> Sent:
    """Run one send, timing it by the wall clock.

    `call` returns (status, body), or (status, body, answered_at) when the answer was out before
    the call returned (the bridge may go on sending an order that waited for a rate-limit slot).
    """
    started = time.monotonic()
    try:
        status, body, *answered_at = call()
        error = None
    except Exception as exc:  # noqa: BLE001 - no answer at all is an outcome here
        status, body, error, answered_at = None, {}, f"{type(exc).__name__}: {exc}", []
    return Sent(kind, status, body, started, (answered_at or [time.monotonic()])[0] - started, error)


@dataclass
class ScenarioResult:
    """The figures of one scenario, as the report shows them."""

    suite: str  # "fault matrix" or "crash recovery"
    scenario: str
    title: str
    position: int = 0  # where the report lists it within its suite
    alerts: int = 0
    keyless: int = 0
    requests: int = 0
    resends: int = 0
    resends_after_503: int = 0
    placed_after_503: int = 0
    faults_injected: int = 0
    orders_at_broker: int = 0
    duplicates: int = 0
    lost: int = 0
    server_errors: int = 0
    slowest_answer: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    seed: str = ""
    command: str = ""
    problems: list[str] = field(default_factory=list)
    recorded_at: str = ""
    machine: str = ""
    soak: bool = SOAK

    def summary(self) -> str:
        head = (
            f"{self.suite} / {self.scenario}: {self.alerts} alerts, {self.resends} resends, "
            f"{self.faults_injected} faults, {self.orders_at_broker} orders, "
            f"{self.duplicates} duplicates, {self.lost} lost, {self.server_errors} server errors, "
            f"slowest {self.slowest_answer:.2f} s, outcomes {self.outcomes}, extra {self.extra}, "
            f"seed {self.seed}, {self.seconds:.1f} s"
        )
        shown = self.problems[:25]
        more = f"\n  ... {len(self.problems) - len(shown)} more" if len(self.problems) > len(shown) else ""
        return head + "".join(f"\n  - {p}" for p in shown) + more


def machine() -> str:
    cpus = os.cpu_count() or 0
    return (
        f"{platform.node() or 'unknown host'}, {platform.system()} {platform.release()}, "
        f"{cpus} CPUs, Python {platform.python_version()}"
    )


def record(result: ScenarioResult) -> None:
    """Keep the result (a soak run only) and rewrite the report; CI runs leave no trace."""
    result.recorded_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result.machine = machine()
    print(result.summary())
    if not SOAK:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = f"{result.suite.replace(' ', '-')}--{result.scenario}.json"
    with _report_lock:
        (RESULTS_DIR / name).write_text(json.dumps(asdict(result), indent=1))
        write_report()


_report_lock = threading.Lock()

_SUITES = (
    (
        "fault matrix",
        "Fault matrix (in process)",
        "Each scenario sends distinct alerts (distinct idempotency keys and contracts, some "
        "without a key, some with the key in the `Idempotency-Key` header) from 8 threads through "
        "the Flask app, with 0-3 random resends each, concurrent twins, and a TradingView-style "
        "resend after every 5xx or 409. Faults are queued on the fake Fyers before a random share "
        "of the sends. After the burst: `fake_fyers.settle()`, `POST /reconcile`, the clock moves "
        "11 minutes, `POST /reconcile` again. An alert counts as lost when it has no journal "
        "record, no definite final status (placed 200, rejected 422, pending settled to placed or "
        "not_placed, or 503 login_required while the token was expired), or a status that the "
        "broker's book contradicts. A duplicate is any order at the broker beyond one per alert.",
    ),
    (
        "crash recovery",
        "Crash recovery (real processes, SIGKILL)",
        "`python main.py` with `BROKER=fyers` against the fake Fyers, local state in one "
        "`STATE_DIR`, `CLAIM_LEASE_SECONDS=3.5`. Each run sends one alert, SIGKILLs the service at "
        "the kill point (the window widened with latency or hangs on `quotes` / `orders/sync`, and "
        "a random delay before the kill), starts a new process on the same state directory and "
        "resends the alert until it is answered (409 while the dead claim's lease lasts, then the "
        "takeover asks the order book). The new process is the victim of the next run.",
    ),
)

_COLUMNS = (
    ("alerts", "alerts"),
    ("resends", "resends"),
    ("faults injected", "faults_injected"),
    ("orders at the broker", "orders_at_broker"),
    ("duplicates", "duplicates"),
    ("lost alerts", "lost"),
    ("server errors (500)", "server_errors"),
    ("slowest answer", "slowest_answer"),
)


_PREFIXES = ("fault-matrix--", "crash-recovery--")
HOSTILE_RESULTS = RESULTS_DIR / "hostile.json"  # written by test_hostile_input.py


def load_results() -> list[dict[str, Any]]:
    """This suite's scenario results (the hostile-input tests keep their own file)."""
    if not RESULTS_DIR.is_dir():
        return []
    return [
        json.loads(p.read_text())
        for p in sorted(RESULTS_DIR.glob("*.json"))
        if p.name.startswith(_PREFIXES)
    ]


def _hostile_section() -> list[str]:
    """A summary of tests/reliability/.results/hostile.json, when a soak run wrote it."""
    try:
        hostile = json.loads(HOSTILE_RESULTS.read_text())
        recorded = datetime.fromtimestamp(HOSTILE_RESULTS.stat().st_mtime, timezone.utc)
    except (OSError, ValueError):
        return []
    if not hostile.get("soak"):
        return []
    by_test = hostile.get("by_test") or {}
    violations = 0
    for test in by_test.values():
        for found in (test.get("violations") or {}).values():
            violations += found.get("count", 1) if isinstance(found, dict) else 1
    return [
        "## Hostile input (tests/reliability/test_hostile_input.py, test_openapi_fuzz.py, test_operator_surface.py)",
        "",
        "Summarised from `tests/reliability/.results/hostile.json`, which those tests write under "
        "`SOAK=1`; their own assertions say what each input must get.",
        "",
        "| hostile inputs to /webhook | requests in all | orders placed "
        "| server errors (5xx) | non-JSON answers | violations |",
        "|---|---|---|---|---|---|",
        f"| {hostile.get('inputs', '?')} | {hostile.get('requests', '?')} | {hostile.get('orders', '?')} "
        f"| {hostile.get('server_errors', '?')} | {hostile.get('non_json_answers', '?')} | {violations} |",
        "",
        f"- tests: {len(by_test)}; recorded {recorded:%Y-%m-%d %H:%M UTC}",
        "- reproduce: `SOAK=1 .venv/bin/python -m pytest tests/reliability/test_hostile_input.py "
        "tests/reliability/test_openapi_fuzz.py tests/reliability/test_operator_surface.py -q`",
        "",
    ]


def write_report(results: list[dict[str, Any]] | None = None) -> str:
    """docs/reliability.md from the recorded results."""
    results = load_results() if results is None else results
    lines = [
        "# Reliability: fault matrix and crash recovery",
        "",
        "Generated by `tests/reliability` when `SOAK=1` (`make soak`, i.e. "
        "`SOAK=1 .venv/bin/python -m pytest tests/reliability -q`); do not edit by hand. "
        "`make test` runs a small subset of the same scenarios without writing this file. "
        "Regenerate the page from the stored figures with "
        "`.venv/bin/python -m tests.reliability.harness`.",
        "",
    ]
    if results:
        total_alerts = sum(r["alerts"] for r in results)
        crash_runs = sum(r["alerts"] for r in results if r["suite"] == "crash recovery")
        lines += [
            "| total | alerts under faults | crash runs | duplicates | lost alerts | server errors | slowest answer |",
            "|---|---|---|---|---|---|---|",
            f"| all scenarios | {total_alerts} | {crash_runs} | {sum(r['duplicates'] for r in results)} "
            f"| {sum(r['lost'] for r in results)} | {sum(r['server_errors'] for r in results)} "
            f"| {max(r['slowest_answer'] for r in results):.2f} s |",
            "",
            f"Machine: {results[-1]['machine']}. Last recorded: "
            f"{max(r['recorded_at'] for r in results)}.",
            "",
        ]
    for suite, heading, text in _SUITES:
        mine = sorted(
            (r for r in results if r["suite"] == suite), key=lambda r: (r.get("position", 0), r["scenario"])
        )
        if not mine:
            continue
        lines += [f"## {heading}", "", text, ""]
        for r in mine:
            lines += [f"### {r['scenario']}: {r['title']}", ""]
            lines.append("| " + " | ".join(label for label, _ in _COLUMNS) + " |")
            lines.append("|" + "---|" * len(_COLUMNS))
            cells = []
            for _, key in _COLUMNS:
                value = r[key]
                cells.append(f"{value:.2f} s" if key == "slowest_answer" else str(value))
            lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
            lines.append(f"- outcomes: {outcomes or 'none'}")
            if r["suite"] == "fault matrix":
                lines.append(
                    f"- requests: {r['requests']}; alerts without a key: {r['keyless']}; "
                    f"resends after a 503: {r['resends_after_503']} "
                    f"({r['placed_after_503']} alerts placed by a resend after a 503)"
                )
            for key, value in r["extra"].items():
                lines.append(f"- {key}: {value}")
            lines.append(f"- duration: {r['seconds']:.0f} s; recorded {r['recorded_at']} on {r['machine']}")
            lines.append(f"- reproduce: `{r['command']}`")
            if r["problems"]:
                lines.append(f"- problems ({len(r['problems'])}):")
                lines += [f"  - {p}" for p in r["problems"][:20]]
            lines.append("")
    lines += _hostile_section()
    text = "\n".join(lines).rstrip() + "\n"
    REPORT.write_text(text)
    return text


def reproduce_command(test_file: str, selector: str, seed: str) -> str:
    return (
        f"SOAK=1 RELIABILITY_SEED={seed} .venv/bin/python -m pytest "
        f"tests/reliability/{test_file} -q -k '{selector}'"
    )


if __name__ == "__main__":
    print(write_report(), end="")
