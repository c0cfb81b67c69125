"""Finished outputs checked against what was recorded when their step ran: stat stamps (size and mtime of
every file) make the everyday check cheap; content is re-hashed only where a stamp moved, or everywhere
when a complete check is asked for (`modelops verify`, `apply --verify`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelops.hashing import hash_path


def stamps(path: Path) -> dict[str, list[int]]:
    """Size and mtime (ns) of the file, or of every file in the folder by relative name."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    found = {}
    for file in files:
        info = file.stat()
        found["" if file == path else file.relative_to(path).as_posix()] = [info.st_size, info.st_mtime_ns]
    return found


def record_outputs(out: Path, names: list[str]) -> tuple[dict[str, str], dict[str, dict[str, list[int]]]]:
    """Hashes and stamps of a step's outputs, for its state entry."""
    return {name: hash_path(out / name) for name in names}, {name: stamps(out / name) for name in names}


def changed_outputs(entry: dict[str, Any], out: Path, complete: bool = False) -> list[Path]:
    """The recorded outputs that are gone or whose content differs from the recorded hash."""
    moved = []
    for name, digest in entry["outputs"].items():
        path = out / name
        if not path.exists():
            moved.append(path)
            continue
        if not complete and stamps(path) == entry.get("stamps", {}).get(name):
            continue
        if hash_path(path, trust_cache=not complete) != digest:
            moved.append(path)
    return moved
