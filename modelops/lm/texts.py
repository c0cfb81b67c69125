"""Plain text out of any language-model data file, for training a tokenizer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def texts(path: Path) -> Iterator[str]:
    """Lines of .txt/.md files (a folder: all of them), or every string inside JSON / JSON-lines rows."""
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".md", ".jsonl", ".json"))
        if path.is_dir()
        else [path]
    )
    for file in files:
        with file.open(encoding="utf-8") as handle:
            if file.suffix == ".jsonl":
                for line in handle:
                    if line.strip():
                        yield from _strings(json.loads(line))
            elif file.suffix == ".json":
                yield from _strings(json.load(handle))
            else:
                yield from (line.strip() for line in handle if line.strip())
