"""One owner per data dir.

Several processes writing one Chroma directory corrupt it, and a process that
has the collection open does not see vectors another adds (../shared/PITFALLS.md
§3). So every process that opens the store takes an exclusive ``flock`` on
``DATA_DIR/medcite.lock``; a second process is refused with a message naming the
owner (and its URL when it is a server, so the user can go through it).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from ingest.errors import StoreLockedError

_held: dict[str, tuple[int, int]] = {}  # resolved data dir -> (fd, refcount) within this process
_guard = threading.Lock()


class DataDirLock:
    """An exclusive, process-wide lock on a data dir (re-entrant within one process)."""

    def __init__(self, data_dir: Path, owner: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.owner = owner or {}
        self._acquired = False

    @property
    def path(self) -> Path:
        return self.data_dir / "medcite.lock"

    def acquire(self) -> DataDirLock:
        key = str(self.data_dir)
        with _guard:
            if key in _held:
                fd, count = _held[key]
                _held[key] = (fd, count + 1)
                self._acquired = True
                return self
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = _read_owner(fd)
                os.close(fd)
                raise StoreLockedError(_locked_message(self.data_dir, info)) from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), **self.owner}).encode())
            _held[key] = (fd, 1)
            self._acquired = True
            return self

    def release(self) -> None:
        if not self._acquired:
            return
        key = str(self.data_dir)
        with _guard:
            fd, count = _held[key]
            if count > 1:
                _held[key] = (fd, count - 1)
            else:
                del _held[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        self._acquired = False

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_owner(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        owner: dict[str, Any] = json.loads(os.read(fd, 4096).decode() or "{}")
        return owner
    except (OSError, ValueError):
        return {}


def _locked_message(data_dir: Path, info: dict[str, Any]) -> str:
    who = f"`medcite {info.get('command', '?')}` (pid {info.get('pid', '?')})"
    hint = "wait for it to finish, stop it, or use another --data-dir"
    if info.get("url"):
        hint = f"use its HTTP API at {info['url']}, stop it, or use another --data-dir"
    return f"data dir {data_dir} is in use by {who}; {hint}"
