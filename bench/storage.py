"""(f) Alerts with state in GCS (the real client, fake-gcs-server) behind 40 ms per storage request.

The current code and the code of BASELINE_COMMIT (the storage path before issue 16, exported
with `git archive` into the run's folder) run side by side, each on its own bucket of one
fake-gcs-server, both behind one LatencyProxy, against the zero-latency fake Fyers, taking
turns of alerts. The proxy's log, filtered by bucket, counts each alert's storage round trips:
before the order reaches Fyers, before the answer, and in all (a pause after each answer lets
any late write show).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.fake import TimedFake
from bench.latency_proxy import LatencyProxy
from bench.scenarios import AnswerTimes, alert
from bench.services import GTHREAD_32, ROOT, Client, ServiceProcess, new_state_dir, service_env

BASELINE_COMMIT = "437fbbb"  # issue 15: the storage path issue 16 replaces
STORAGE_LATENCY = 0.04
AFTER_ANSWER = 0.3  # seconds after an answer in which a late write still counts to its alert


@dataclass
class StorageRun(AnswerTimes):
    """One code version's alerts: answer times and storage round trips per alert."""

    label: str
    answer_ms: list[float] = field(default_factory=list)
    before_order: list[int] = field(default_factory=list)
    before_answer: list[int] = field(default_factory=list)
    in_all: list[int] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    trace: list[str] = field(default_factory=list)  # the first measured alert's requests, in order; "|" = order sent



def export_baseline(workdir: Path, commit: str = BASELINE_COMMIT) -> Path:
    """The app of `commit` as files (read-only git: no index or work tree is touched)."""
    target = workdir / f"src-{commit}"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "app"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def gcs_alerts(fake: TimedFake, workdir: Path, alerts: int = 30, warmup: int = 3, turn: int = 5) -> list[StorageRun]:
    """`alerts` sequential alerts per version (after `warmup`), in turns; current first, baseline second."""
    from tests.fakes.gcs import FakeGcs

    baseline_src = export_baseline(workdir)
    versions = [("current code", {}), (f"baseline: {BASELINE_COMMIT} (before issue 16)",
                                       {"PYTHONPATH": str(baseline_src)})]
    with ExitStack() as stack:
        gcs = FakeGcs().start()
        stack.callback(gcs.stop)
        proxy = stack.enter_context(LatencyProxy(gcs.url, delay=STORAGE_LATENCY))
        runs, services, buckets = [], [], []
        for i, (label, extra) in enumerate(versions):
            bucket = f"bench-{i}-{uuid.uuid4().hex[:8]}"
            gcs.create_bucket(bucket)
            env = service_env(fake, new_state_dir(workdir, f"f-{i}"), GCS_BUCKET_NAME=bucket,
                              STORAGE_EMULATOR_HOST=proxy.url, **extra)
            service = stack.enter_context(ServiceProcess(GTHREAD_32, env, workdir))
            service.wait_for("/health")
            service.login()
            for n in range(warmup):
                Client(service.port, keep_alive=False).post_alert(alert(f"f-warm-{i}-{n}"))
            runs.append(StorageRun(label))
            services.append(service)
            buckets.append(bucket)
        for first in range(0, alerts, turn):
            for run, service, bucket in zip(runs, services, buckets):
                for n in range(first, min(first + turn, alerts)):
                    _one(run, service, bucket, fake, proxy, f"f-{bucket}-{n}")
    return runs


def _one(run: StorageRun, service: ServiceProcess, bucket: str, fake: TimedFake, proxy: LatencyProxy,
         key: str) -> None:
    client = Client(service.port, keep_alive=False)
    client.connect()
    mark = fake.mark()
    sent = time.time()
    answer = client.post_alert(alert(key))
    done = time.time()
    time.sleep(AFTER_ANSWER)
    orders = [c.at for c in fake.calls_since(mark) if c.path == "orders/sync"]
    ordered = min(orders) if orders else done
    run.answer_ms.append(answer.seconds * 1000)
    run.before_order.append(proxy.requests_between(sent, ordered, bucket))
    if not run.trace:
        run.trace = [seen.kind() for seen in proxy.between(sent, ordered, bucket)] + ["| order"] + [
            seen.kind() for seen in proxy.between(ordered, time.time(), bucket)]
    run.before_answer.append(proxy.requests_between(sent, done, bucket))
    run.in_all.append(proxy.requests_between(sent, time.time(), bucket))
    status = answer.body.get("status", str(answer.status))
    run.statuses[status] = run.statuses.get(status, 0) + 1
