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

_MEMORY_FILE_SYSTEMS = ("tmpfs", "ramfs")
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


class LocalStateStore(StateStore):
    """JSON files under a directory; one lock file serialises writers of every process."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / ".lock"
        self._thread_lock = threading.Lock()
        # fsync makes a write survive a power cut; in memory (tmpfs, Cloud Run's local disk)
        # nothing survives one anyway, and fsync is pure cost on the order's path.
        self.fsyncs = memory_file_system(self.root) is None

    def get(self, key: str) -> Versioned | None:
        """The document at `key`, or None."""
        return self._read(key)

    def _read(self, key: str) -> Versioned | None:
        # Writers read through here, not `get`: a compare-and-swap is one store operation.
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
            current = self._read(key)
            if current is None or current.generation != generation:
                return None
            return self._write(key, data, generation + 1)

    def delete(self, key: str, generation: int | None = None) -> bool:
        """Remove, at `generation` when given."""
        with self._locked():
            current = self._read(key)
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
                if self.fsyncs:
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


def memory_file_system(path: Path, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The type of the memory file system (tmpfs, ramfs) holding `path`, or None (on disk, or unknown)."""
    target = os.path.realpath(path)
    best, fstype = "", None
    try:
        with open(mountinfo, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None  # not Linux: keep fsync
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        # Field 5 is the mount point (octal escapes such as \040 for a space); the type follows "-".
        mount = fields[4].encode().decode("unicode_escape")
        within = target == mount or target.startswith(mount.rstrip("/") + "/")
        if within and len(mount) >= len(best):  # the last of equal mounts is the one on top
            best, fstype = mount, fields[fields.index("-") + 1]
    return fstype if fstype in _MEMORY_FILE_SYSTEMS else None


def _unlink_quietly(path: str) -> None:
    """Remove a leftover temporary file, ignoring a missing one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
