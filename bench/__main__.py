"""`python -m bench` (`make bench`): every benchmark in one run; writes docs/benchmarks.md.

    NO_GCE_CHECK=true .venv/bin/python -m bench [--quick] [--out docs/benchmarks.md]

(a) overhead per alert, (b) a burst of 20 alerts, for each server candidate and the two
baselines; (c) start-up and memory with a ~100k-row symbol master; (d) contract resolution;
(e) bursts of 20 and 40 against a strict 10/s fake, new pacer vs the previous one; (f) alerts
with state in GCS behind 40 ms per storage request, current code vs BASELINE_COMMIT.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from app.domain.contracts import IST
from bench import pacing, profile_alert, report, scenarios, storage
from bench.fake import TimedFake
from bench.make_master import write_master
from bench.services import ALL, CANDIDATES, GTHREAD, GTHREAD_32, ROOT

BEFORE = f"before-{storage.BASELINE_COMMIT}-memory"  # also in idempotency keys: letters, digits, "-"
COMMANDS = {
    "bench": "NO_GCE_CHECK=true .venv/bin/python -m bench",
    "master": "python -m bench.make_master NSE_FO.csv --rows 100000",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run of the bench itself")
    args = parser.parse_args(argv)
    sizes = (
        dict(alerts=60, warmup=10, repeats=1, starts=1, gcs=6)
        if args.quick
        else dict(alerts=300, warmup=30, repeats=3, starts=3, gcs=30)
    )

    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()[0]
    clock = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="fyers-bench-"))
    # State on a memory file system too, as on Cloud Run (whose disk is memory), where there is one.
    memory = Path(tempfile.mkdtemp(prefix="fyers-bench-", dir="/dev/shm")) if Path("/dev/shm").is_dir() else None
    instant = TimedFake(latency=0.0).start()
    slow = TimedFake(latency=0.15).start()
    try:
        master = workdir / "NSE_FO.csv"
        rows = write_master(master, datetime.now(IST).date())
        _say(f"master: {rows} rows")

        resolution = scenarios.resolution(master, datetime.now(timezone.utc))
        _say(f"(d) {resolution.index_us:.2f} µs per lookup, linear scan {resolution.scan_us:.0f} µs")

        cases = [scenarios.Case(server.key, server, workdir) for server in ALL]
        if memory:
            cases += [scenarios.Case(f"{server.key}@memory", server, memory) for server in ALL]
            # The code before issue 16 on the shipped server, state in memory: the overhead's baseline.
            before = storage.export_baseline(workdir)
            cases.append(scenarios.Case(BEFORE, GTHREAD_32, memory, (("PYTHONPATH", str(before)),)))
        measured = scenarios.overhead(cases, instant, workdir, alerts=sizes["alerts"], warmup=sizes["warmup"])
        overhead = {server.key: measured[server.key] for server in ALL}
        overhead_memory = {server.key: measured[f"{server.key}@memory"] for server in ALL if memory}
        for case in cases:
            result = measured[case.name]
            _say(f"(a) {case.name}: p50 {result.p50:.2f} ms, p99 {result.p99:.2f} ms")
        breakdown = scenarios.breakdown(instant, workdir, memory)
        profiled = profile_alert.run(instant, memory or workdir, alerts=sizes["alerts"])
        _say(f"(a) profile: {profiled['pieces_ms']}")

        strict = pacing.strict_bursts(workdir)
        for key, runs in strict.items():
            for run in runs:
                _say(f"(e) {key} {run.size}: 429s {run.rate_limited}, placed {run.placed_in_alert}, "
                     f"slowest {run.slowest_s:.2f} s, nth {run.nth_order_s(run.size)}, once {run.placed_once}")
        gcs = storage.gcs_alerts(instant, workdir, alerts=sizes["gcs"])
        for run in gcs:
            _say(f"(f) {run.label}: p50 {run.p50:.0f} ms, p99 {run.p99:.0f} ms, before order {run.before_order}")

        bursts = {}
        for server in ALL:
            result = bursts[server.key] = scenarios.bursts(server, slow, workdir, repeats=sizes["repeats"])
            _say(f"(b) {server.label}: wall {result.wall_median:.2f} s, "
                 f"slowest {max(r.slowest_s for r in result.runs):.2f} s, "
                 f"calls {[r.calls for r in result.runs]}, placed {[r.placed for r in result.runs]}")

        state = scenarios.login_once(instant, workdir)
        startup = []
        for server in CANDIDATES:
            result = scenarios.startup(server, instant, workdir, state, str(master), runs=sizes["starts"])
            startup.append(result)
            _say(f"(c) {server.label}: ready {max(result.ready_s):.2f} s, peak {result.total_after:.0f} MB")
        reference = scenarios.startup(GTHREAD, instant, workdir, state, "synthetic", runs=sizes["starts"],
                                      label=f"{GTHREAD.label}, synthetic master, for comparison")
        startup.append(reference)
        flask_import = scenarios.python_start("import flask", runs=sizes["starts"])

        results = report.Results(
            started=started,
            elapsed_s=time.monotonic() - clock,
            master_rows=rows,
            overhead=overhead,
            overhead_memory=overhead_memory,
            overhead_before=measured.get(BEFORE),
            profile=profiled,
            strict=strict,
            gcs=gcs,
            breakdown=breakdown,
            bursts=bursts,
            startup=startup,
            flask_import_s=flask_import,
            resolution=resolution,
            quick=args.quick,
            load=(load_before, os.getloadavg()[0]),
        )
        report.write(args.out, results, COMMANDS)
    finally:
        instant.stop()
        slow.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if memory:
            shutil.rmtree(memory, ignore_errors=True)
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
