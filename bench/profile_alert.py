"""Where one alert's time goes: cProfile over alerts sent through Flask's test client, in a fresh process.

    python -m bench.profile_alert ALERTS   (environment: a service's, as bench/services.py builds it)

Prints one JSON object: milliseconds per alert (under the profiler, which inflates Python-heavy
parts; read the shares, not the absolutes) spent in each piece of PIECES, cumulative. A piece
whose function no longer exists reads null. Run by `python -m bench` with state in memory
and the zero-latency fake, as in (a).
"""

from __future__ import annotations

import cProfile
import http.client
import json
import pstats
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

# (label, file suffix, function name): cumulative time of every match, summed.
PIECES = (
    ("the whole request (Flask, from the WSGI call)", "flask/app.py", "wsgi_app"),
    ("alert service (AlertService.execute)", "app/services/alerts.py", "execute"),
    ("Fyers calls: SDK + requests + the fake's answer", "app/adapters/fyers_sdk.py", "call"),
    ("  waiting on the socket (the fake and loopback)", "~", "<method 'recv_into' of '_socket.socket' objects>"),
    ("  requests reading proxy settings from the environment", "requests/utils.py", "get_environ_proxies"),
    ("  the pacer", "app/adapters/pacer.py", "acquire"),
    ("state store writes (local files)", "app/adapters/local_state.py", "_write"),
    ("state store reads (local files)", "app/adapters/local_state.py", "get"),
    ("journal record", "app/services/journal.py", "record"),
    ("controls (order counts, kill switch)", "app/services/controls.py", "count_orders"),
    ("logging (records emitted)", "logging/__init__.py", "handle"),
    ("request hooks before the view (log context, request id)", "app/web/request_context.py", "open_context"),
    ("request hooks after the view (request id, held notifications)", "app/web/request_context.py",
     "echo_request_id"),
    ("answer to JSON (jsonify)", "flask/json/__init__.py", "jsonify"),
)


def run(fake, state_parent: Path, alerts: int = 200) -> dict:
    """This module in a fresh process with a service's environment (state under `state_parent`); its JSON."""
    from bench.services import UNPACED, new_state_dir, service_env

    env = service_env(fake, new_state_dir(state_parent, "profile"), **UNPACED)
    done = subprocess.run([sys.executable, "-m", "bench.profile_alert", str(alerts)], env=env, cwd=state_parent,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"bench.profile_alert failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    alerts = int(argv[0]) if argv else 200
    from app import create_app
    from bench.scenarios import alert, percentile
    from bench.services import ADMIN

    client = create_app().test_client()
    _login(client, ADMIN)

    def send(key: str):
        return client.post("/webhook", data=json.dumps(alert(key)), headers={"Content-Type": "text/plain"})

    for i in range(30):
        send(f"p-warm-{i}")
    profile = cProfile.Profile()
    times, statuses = [], {}
    for i in range(alerts):
        started = time.perf_counter()
        profile.enable()
        answer = send(f"p-{i}")
        profile.disable()
        times.append((time.perf_counter() - started) * 1000)
        status = (answer.get_json() or {}).get("status", str(answer.status_code))
        statuses[status] = statuses.get(status, 0) + 1
    stats = pstats.Stats(profile).stats
    pieces = {}
    for label, suffix, name in PIECES:
        found = [row[3] for (file, _, function), row in stats.items() if file.endswith(suffix) and function == name]
        pieces[label] = sum(found) * 1000 / alerts if found else None
    print(json.dumps({"alerts": alerts, "p50_ms_profiled": percentile(times, 50), "statuses": statuses,
                      "pieces_ms": pieces}))
    return 0


def _login(client, admin: str) -> None:
    """/auth-url -> its login link (the test client keeps the cookie) -> the fake's 302 -> /auth/callback."""
    link = urllib.parse.urlsplit(
        client.get("/auth-url", headers={"Authorization": f"Bearer {admin}"}).get_json()["login_url"])
    login_url = urllib.parse.urlsplit(client.get(f"{link.path}?{link.query}").headers["Location"])
    fake = http.client.HTTPConnection(login_url.hostname, login_url.port, timeout=10)
    fake.request("GET", f"{login_url.path}?{login_url.query}")
    response = fake.getresponse()
    response.read()
    query = urllib.parse.urlsplit(response.getheader("Location")).query
    fake.close()
    if client.get(f"/auth/callback?{query}").status_code != 200:
        raise RuntimeError("login through the fake failed")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
