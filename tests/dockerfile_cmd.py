"""The Dockerfile's CMD, read from the file: `make serve` and the CMD test run exactly it."""

from __future__ import annotations

import json
import pathlib

DOCKERFILE = pathlib.Path(__file__).resolve().parent.parent / "Dockerfile"


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


if __name__ == "__main__":
    print(shell_command())
