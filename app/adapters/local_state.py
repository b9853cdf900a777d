"""State in local files: atomic writes, and create-only / compare-and-swap safe across processes."""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from app.ports import StateStore, Versioned

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


class LocalStateStore(StateStore):
    """JSON files under a directory; one lock file serialises writers of every process."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / ".lock"
        self._thread_lock = threading.Lock()

    def get(self, key: str) -> Versioned | None:
        """The document at `key`, or None."""
        try:
            with open(self._path(key), "rb") as f:
                stored = json.load(f)
        except FileNotFoundError:
            return None
        return Versioned(stored["data"], stored["generation"])

    def create(self, key: str, data: dict[str, Any]) -> int | None:
        """Write only if absent."""
        with self._locked():
            if self._path(key).exists():
                return None
            return self._write(key, data, 1)

    def replace(self, key: str, data: dict[str, Any], generation: int) -> int | None:
        """Write only if the stored generation is still `generation`."""
        with self._locked():
            current = self.get(key)
            if current is None or current.generation != generation:
                return None
            return self._write(key, data, generation + 1)

    def delete(self, key: str, generation: int | None = None) -> bool:
        """Remove, at `generation` when given."""
        with self._locked():
            current = self.get(key)
            if current is None or (generation is not None and current.generation != generation):
                return False
            self._path(key).unlink()
            return True

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""
        base = self.root / prefix if prefix else self.root
        folder = base if base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        keys = []
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def _path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"unsafe state key {key!r}")
        return self.root / key

    def _write(self, key: str, data: dict[str, Any], generation: int) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file and rename it: readers see the old or the new, never half.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"generation": generation, "data": data}, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return generation

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # The thread lock orders this process's threads; flock orders the processes
        # (several gunicorn workers may share one STATE_DIR).
        with self._thread_lock, open(self._lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _unlink_quietly(path: str) -> None:
    """Remove a leftover temporary file, ignoring a missing one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
