"""The sections of docs/benchmarks.md for issue 16: strict-limit bursts, GCS round trips, our overhead."""

from __future__ import annotations

from collections import Counter

from bench.pacing import BROKER_LATENCY, StrictBurst
from bench.services import GTHREAD_32, GUNICORN_ASGI
from bench.storage import BASELINE_COMMIT, STORAGE_LATENCY

OURS_P50_MS = 2.0
STRICT_HEADER = (
    "| pacer | alerts | 429s | max requests in any 1 s at the fake (whole run) | placed within the alert | answers "
    "| slowest answer s | Nth order reaches Fyers | placed once | duplicated | missing |"
)
GCS_HEADER = (
    "| code | answer p50 ms | answer p99 ms | round trips before the order, median (min–max) "
    "| before the answer | in all | answers |"
)


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _by_size(results, key: str) -> dict[int, StrictBurst]:
    return {run.size: run for run in (results.strict or {}).get(key, [])}


def _nth(run: StrictBurst) -> str:
    at = run.nth_order_s(run.size)
    return f"{at:.2f} s" if at is not None else f"never ({len(run.order_arrivals_s)} of {run.size} reached Fyers)"


def summary(results) -> str:
    """Issue 16's targets, read on the shipped server."""
    if not results.strict or not results.gcs:
        return ""
    new = _by_size(results, GUNICORN_ASGI.key)
    old = _by_size(results, "baseline-pacer")
    rows = []
    for size, run in sorted(new.items()):
        base = old.get(size)
        was = f" (previous pacer: {base.rate_limited})" if base else ""
        rows.append((f"(e) {size}-burst, 429s from the strict fake", "0", f"{run.rate_limited}{was}",
                     run.rate_limited == 0))
        rows.append((f"(e) {size}-burst, placed once after settling", f"all {size}",
                     f"{run.placed_once}/{size}" + (f" (previous pacer: {base.placed_once}/{size})" if base else ""),
                     run.placed_once == size and run.duplicated == 0))
    if 20 in new:
        run, base = new[20], old.get(20)
        rows.append(("(e) 20-burst, placed within the alert", "all 20",
                     f"{run.placed_in_alert}/20" + (f" (previous pacer: {base.placed_in_alert}/20)" if base else ""),
                     run.placed_in_alert == 20))
    current, before = results.gcs[0], results.gcs[-1]
    worst = max(current.before_order)
    rows.append(("(f) GCS round trips before the order", "≤ 1 (the claim)",
                 f"{worst} at most, {_median(current.before_order)} median (before: {max(before.before_order)}, "
                 f"{_median(before.before_order)})", worst <= 1))
    mem = results.overhead_memory.get(GUNICORN_ASGI.key)
    if mem:
        before_ok = results.overhead_before and set(results.overhead_before.statuses) == {"placed"}
        was = f" (before issue 16: {results.overhead_before.own_p50:.2f} ms)" if before_ok else ""
        rows.append(("(a) ours per alert, state in memory, p50", f"≤ {OURS_P50_MS:g} ms", f"{mem.own_p50:.2f} ms{was}",
                     mem.own_p50 <= OURS_P50_MS))
    table = "\n".join(f"| {name} | {target} | {value} | {_mark(ok)} |" for name, target, value, ok in rows)
    return f"""## Summary: issue 16 (pacing under a strict limit, storage on the critical path)

On {GUNICORN_ASGI.label}, the shipped server (the storage scenario on {GTHREAD_32.label},
which the baseline commit can run); each baseline measured in this run.

| measure | target | measured | |
|---|---|---|---|
{table}
"""


def _median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0


def sections(results) -> list[str]:
    return [part for part in (_strict(results), _storage(results), _profile(results)) if part]


def _strict(results) -> str:
    if not results.strict:
        return ""
    rows = []
    for key, runs in results.strict.items():
        for run in runs:
            answers = ", ".join(f"{n} {name}" for name, n in run.statuses.most_common())
            rows.append(
                f"| {run.server.label} | {run.size} | {run.rate_limited} | {run.max_in_any_second} "
                f"| {run.placed_in_alert}/{run.size} | {answers} | {run.slowest_s:.2f} "
                f"| {_nth(run)} | {run.placed_once}/{run.size} | {run.duplicated} | {run.missing} |"
            )
    return f"""## (e) Bursts of 20 and 40 alerts against a strict 10/s Fyers, {BROKER_LATENCY * 1000:.0f} ms latency

The fake Fyers in strict mode (`FakeFyers(latency={BROKER_LATENCY}, strict_rate_limit=True)`, the
same as `python -m tests.fakes.fake_fyers --latency {BROKER_LATENCY} --strict-rate-limit`) answers
429 to any request past 10 in any sliding second (and 200 in any sliding minute), counting
refused requests too: the strictest reading of Fyers's limits. For each pacer and burst size:
a fresh fake and a fresh service process ({GUNICORN_ASGI.label}, default `FYERS_RATE_*` and
`ALERT_DEADLINE_SECONDS`), logged in, one warm-up alert, 1.2 s of quiet, then the burst (a
barrier releases one thread per alert, one connection each, distinct keys and contracts: NIFTY
weekly from 25500 up, CE/PE). After the answers the bench waits until no request has reached
the fake for 3 s, calls `POST /reconcile`, waits again, and reads the fake's order book:
"placed once" counts alert contracts with exactly one order, "duplicated" the extra orders,
"missing" the alerts with none. "Nth order" is the seconds from the burst's release to the
arrival at the fake of the last (20th or 40th) accepted order (the fake's arrival log).
The baseline runs the same app with the previous pacer (`bench/baseline_pacer.py`, a copy of
`app/adapters/pacer.py` at {BASELINE_COMMIT}: it books a group of sends for one instant, no
spacing, no margin), plugged in by `bench/baseline_app.py`.

{STRICT_HEADER}
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


def _storage(results) -> str:
    if not results.gcs:
        return ""
    rows = []
    for run in results.gcs:
        rows.append(
            f"| {run.label} | {run.p50:.0f} | {run.p99:.0f} | {_spread(run.before_order)} "
            f"| {_spread(run.before_answer)} "
            f"| {_spread(run.in_all)} | {', '.join(f'{n} {s}' for s, n in run.statuses.items())} |"
        )
    traces = "\n".join(f"- {run.label}: {' → '.join(run.trace)}" for run in results.gcs)
    n = len(results.gcs[0].answer_ms)
    return f"""## (f) Alerts with state in GCS, {STORAGE_LATENCY * 1000:.0f} ms per storage request

`GCS_BUCKET_NAME` set, the real `google-cloud-storage` client, fake-gcs-server (in-memory
backend, `tests/fakes/gcs.py`) behind `bench/latency_proxy.py`: an HTTP proxy on 127.0.0.1
that waits {STORAGE_LATENCY * 1000:.0f} ms before forwarding each request (`STORAGE_EMULATOR_HOST`
points at the proxy) and logs when each arrives and which object it names. Fake Fyers at zero
latency. The current code and the code of {BASELINE_COMMIT} (before issue 16, exported with `git
archive` and run with that `PYTHONPATH`) run at once, each on its own bucket, {GTHREAD_32.label},
and take turns of 5 sequential alerts; {n} alerts each after 3 warm-up alerts. Round trips are
the proxy's requests for that bucket between the alert's sending and: the arrival of its order
at the fake ("before the order"), its answer, and 0.3 s after the answer ("in all").

{GCS_HEADER}
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

The first measured alert's storage requests, in order ("| order": the order reaches Fyers):

{traces}
"""


def _spread(values: list[int]) -> str:
    return f"{_median(values)} ({min(values)}–{max(values)})" if values else "–"


def _profile(results) -> str:
    profile = results.profile
    if not profile:
        return ""
    pieces = profile["pieces_ms"]
    whole = pieces.get("the whole request (Flask, from the WSGI call)") or 0
    rows = [
        f"| {label.strip()}{' (within the Fyers calls)' if label.startswith('  ') else ''} "
        f"| {'–' if ms is None else f'{ms:.2f}'} | {'–' if ms is None or not whole else f'{ms / whole:.0%}'} |"
        for label, ms in pieces.items()
    ]
    a = results.overhead_memory.get(GUNICORN_ASGI.key)
    before = results.overhead_before
    compare = ""
    if a and before:
        compare = (f"\nOn {GUNICORN_ASGI.label} with state in memory (from (a)): ours p50 {a.own_p50:.2f} ms, p99 "
                   f"{a.own_p99:.2f} ms; the code of {BASELINE_COMMIT}, in the same turns: ours p50 "
                   f"{before.own_p50:.2f} ms, p99 {before.own_p99:.2f} ms (answers: "
                   f"{', '.join(f'{n} {s}' for s, n in Counter(before.statuses).most_common())}).\n")
    return f"""## Where our time per alert goes (state in memory, zero broker latency)
{compare}
`python -m bench.profile_alert {profile['alerts']}` in a fresh process with the service's environment
(state on `/dev/shm`, pacer limits lifted, the zero-latency fake): {profile['alerts']} alerts through
Flask's test client under `cProfile` (no server, no client socket), after 30 warm-up alerts;
cumulative milliseconds per alert in each piece. The profiler inflates Python-heavy code, so
read the shares; p50 per alert under the profiler: {profile['p50_ms_profiled']:.2f} ms. Pieces
nest (the Fyers calls are inside the alert service, which is inside the request); "–": the
function does not exist in this version or was not called.

| piece | ms per alert (profiled) | share of the request |
|---|---|---|
{chr(10).join(rows)}
"""
