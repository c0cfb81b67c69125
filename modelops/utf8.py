"""Where a file stops being UTF-8, so that data errors name the line (tables, text corpora)."""

from __future__ import annotations

from pathlib import Path


def first_undecodable(path: Path) -> tuple[int, int] | None:
    """(line, byte) of the first byte that is not UTF-8, or None when the whole file is."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, line[exc.start]
    return None

