"""`modelops gc`: step folders that no run's state references any more (earlier fingerprints of a step:
GGUFs, merged models and checkpoints pile up), listed with their sizes, and removed when asked. A run
directory being applied is left alone (its lock is held, so it is taken for the time of the removal)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelops.apply.lock import LockedError, RunLock
from modelops.apply.state import STATE_FILE, RunState

STEP_FOLDER = re.compile(r".+-[0-9a-f]{12}$")      # `<step>-<fingerprint[:12]>`, as the planner names them


@dataclass(frozen=True)
class Unreferenced:
    path: Path
    bytes: int


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def unreferenced(workdir: Path) -> list[Unreferenced]:
    state = RunState.load(workdir)
    kept = {Path(entry["directory"]).name for entry in state.steps.values()}
    kept |= {Path(failure["log"]).parent.name for failure in state.failures.values()}
    return [Unreferenced(folder, _size(folder)) for folder in sorted(workdir.iterdir())
            if folder.is_dir() and STEP_FOLDER.match(folder.name) and folder.name not in kept]


def collect(root: Path, remove: bool) -> tuple[list[Unreferenced], list[str]]:
    """(what is or was unreferenced, run directories skipped and why)."""
    found, skipped = [], []
    for workdir in sorted(p.parent for p in root.glob(f"*/{STATE_FILE}")):
        try:
            with RunLock(workdir):
                items = unreferenced(workdir)
                if remove:
                    for item in items:
                        shutil.rmtree(item.path)
        except LockedError as exc:
            skipped.append(str(exc))
            continue
        found += items
    return found, skipped
