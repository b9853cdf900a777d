"""The Dockerfile's CMD, read from the file: `make serve` and the CMD tests run exactly it."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from typing import Iterator

DOCKERFILE = pathlib.Path(__file__).resolve().parent.parent / "Dockerfile"
ROOT = DOCKERFILE.parent
REQUIREMENTS = ROOT / "requirements.txt"


def final_cmd() -> list[str]:
    """The exec-form CMD of the Dockerfile's last stage (the production image)."""
    cmd = None
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            cmd = None  # a new stage: only the last stage's CMD counts
        elif line.startswith("CMD "):
            cmd = json.loads(line[len("CMD ") :])
    if cmd is None:
        raise ValueError("the Dockerfile's last stage has no CMD")
    return cmd


def shell_command() -> str:
    """The command the CMD's `sh -c` runs."""
    cmd = final_cmd()
    if cmd[:2] != ["sh", "-c"]:
        raise ValueError(f"expected CMD [\"sh\", \"-c\", ...], got {cmd}")
    return cmd[2]


def _python_312() -> str:
    """The image's Python (3.12) when this machine has one that runs, else this one."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates += [shutil.which("python3.12")] if shutil.which("python3.12") else []
    for candidate in candidates:
        check = subprocess.run([candidate, "--version"], capture_output=True, timeout=30)
        if check.returncode == 0:
            return candidate
    return sys.executable


def image_venv() -> pathlib.Path:
    """A virtualenv with requirements.txt only (as in the image), cached by its hash under .cache/."""
    python = _python_312()
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + python.encode()).hexdigest()[:12]
    venv = ROOT / ".cache" / f"image-venv-{digest}"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [
                str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:",
                "-r", str(REQUIREMENTS),
            ],
            check=True,
            timeout=600,
        )
        (venv / ".complete").touch()
    return venv


def server_env(bin_dir: pathlib.Path, port: int, home: pathlib.Path) -> dict[str, str]:
    """The environment the CMD runs in here: that Python on PATH, the port, state and HOME under `home`."""
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PORT": str(port),
        "STATE_DIR": str(home / "state"),
        "NO_GCE_CHECK": "true",
        "HOME": str(home),
    }


@contextlib.contextmanager
def serving(
    venv: pathlib.Path, home: pathlib.Path, port: int, cmd: list[str] | None = None
) -> Iterator[subprocess.Popen]:
    """The CMD (or `cmd`) running in `venv` on `port` until /health answers; killed on the way out.

    Its output goes to `home`/server.log (a pipe nobody reads would fill and stop the server).
    """
    import requests  # the test venv's; `make serve` runs this module without it

    env = server_env(venv / "bin", port, home)
    log = home / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            cmd or final_cmd(), cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"the CMD exited at start:\n{log.read_text()}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening, or the worker still booting
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the CMD did not serve /health within 30 s:\n{log.read_text()}")
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


if __name__ == "__main__":
    print(shell_command())
