"""One apply per run directory. The lock is the kernel's (`flock` on `apply.lock`), so a dead owner — even
one killed with -9 — holds nothing and there is no stale lock to take over by hand or by race; the file
only tells others who holds it (pid and host). After taking the lock, the holder checks that the path
still names the file it locked (another holder may have removed it on release) and tries again if not."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

LOCK_FILE = "apply.lock"


class LockedError(RuntimeError):
    pass


class RunLock:
    """Exclusive lock on a run directory for the time of a `with` block."""

    def __init__(self, workdir: Path):
        self.path = workdir / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                owner = self._owner()
                raise LockedError(f"{self.path.parent} is being applied by pid {owner.get('pid', '?')} on "
                                  f"{owner.get('host', '?')} (lock {self.path}); wait for it to finish") from None
            if self._still_named(fd):
                break
            os.close(fd)                      # the previous holder removed the file we opened: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        self.fd = fd
        return self

    def _still_named(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _owner(self) -> dict:
        try:
            owner = json.loads(self.path.read_text())
            return owner if isinstance(owner, dict) else {}
        except (OSError, ValueError):
            return {}

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)   # while still locked: a waiter then re-checks the name
            os.close(self.fd)
            self.fd = None
