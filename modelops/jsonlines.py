"""JSON Lines as the format says: records split on `\\n` only (a raw U+2028 or U+0085 inside a string is
valid JSON, and `str.splitlines` would cut the record there), each line decoded as UTF-8 on its own so that
a bad byte is reported with its line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


class BadLine(ValueError):
    """A line that is not UTF-8 or not JSON; the message says which."""


def records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, record or BadLine) for every non-blank line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, BadLine(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
                continue
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, BadLine(f"invalid JSON ({exc.msg})")


def load(path: Path) -> list[Any]:
    """Every record of a file that modelops wrote itself; a bad line raises BadLine naming it."""
    rows = []
    for number, record in records(path):
        if isinstance(record, BadLine):
            raise BadLine(f"{path}:{number}: {record}")
        rows.append(record)
    return rows
