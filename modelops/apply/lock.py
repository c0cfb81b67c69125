"""One apply per run directory: a lock file holding the owner's pid and host."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

LOCK_FILE = "apply.lock"


class LockedError(RuntimeError):
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Exclusive lock on a run directory; a stale lock (dead owner on this host) is taken over."""

    def __init__(self, workdir: Path):
        self.path = workdir / LOCK_FILE

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner and (owner.get("host") != me["host"] or _alive(int(owner.get("pid", 0)))):
                    raise LockedError(f"{self.path.parent} is being applied by pid {owner.get('pid')} on "
                                      f"{owner.get('host')} (lock {self.path}); wait for it, or delete the lock "
                                      "if that process is gone") from None
                self.path.unlink(missing_ok=True)   # its owner is gone
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            return self

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
