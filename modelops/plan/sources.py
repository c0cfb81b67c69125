"""Where data and models come from: local paths, hub ids, URLs, ModelScope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".txt", ".md", ".tsv", ".gz")
MODELSCOPE = "modelscope://"


@dataclass(frozen=True)
class Location:
    kind: str            # local | hub | url | modelscope
    raw: str
    path: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.kind == "local"


def _looks_local(raw: str) -> bool:
    return raw.startswith(("/", "./", "../", "~")) or raw.lower().endswith(_DATA_SUFFIXES)


def _exists(path: Path) -> bool:
    """Whether the path exists; one that cannot even be looked at (permission denied) counts as local too."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def locate(raw: str, root: Path) -> Location:
    """Classify a recipe path: an existing or path-like local file, else a hub id or URL."""
    if raw.startswith(("http://", "https://")):
        return Location("url", raw)
    if raw.startswith(MODELSCOPE):
        return Location("modelscope", raw, None)
    path = (
        (root / Path(raw).expanduser()).resolve()
        if not Path(raw).expanduser().is_absolute()
        else Path(raw).expanduser()
    )
    if _exists(path) or _looks_local(raw) or not _HUB_ID.match(raw):
        return Location("local", raw, path)
    return Location("hub", raw)


def relative(path: Path) -> str:
    """A path relative to the working directory when below it, for stable plans."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


SAMPLE_BYTES = 1 << 20


def count_rows(path: Path) -> int | None:
    """Lines of a local text, JSONL or CSV file (a CSV's header not counted), without reading big files
    whole: past 1 MiB, the file's size over the mean line length of its first MiB. None when unknown."""
    if path.suffix.lower() not in (".jsonl", ".txt", ".csv", ".tsv", ".md") or not path.is_file():
        return None
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    lines = sum(1 for line in sample.splitlines() if line.strip())
    if size > len(sample) and lines:
        lines = round(size / (len(sample) / lines))
    return max(0, lines - (1 if path.suffix.lower() in (".csv", ".tsv") else 0))
