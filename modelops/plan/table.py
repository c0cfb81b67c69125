"""Cheap facts about table data for plan-time checks: the header, and how many time points there are."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SCAN_LIMIT_BYTES = 64 * 1024 * 1024   # count time points only in files up to this size


@dataclass(frozen=True)
class TableFacts:
    columns: list[str]
    time_points: int | None     # distinct values of the time column, when counted: all of them, or `enough`


def table_facts(path: Path, time_column: str | None, range_separator: str | None, enough: int) -> TableFacts:
    """Read the header, and the time column of files that are not huge until it has shown `enough` distinct
    times (what the plan's length checks need: a panel shows them in its first series, so a large file costs
    no more than a small one); raises ValueError."""
    if path.suffix.lower() == ".parquet":
        return _parquet_facts(path, time_column, range_separator, enough)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if not header:
                raise ValueError(f"{path.name} is empty")
            header = [h.strip() for h in header]
            if time_column not in header or path.stat().st_size > SCAN_LIMIT_BYTES:
                return TableFacts(header, None)
            index = header.index(time_column)
            times: set[str] = set()
            for row in reader:
                if len(row) > index:
                    times.add(_time_key(row[index], range_separator))
                    if len(times) >= enough:
                        break
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text") from None
    return TableFacts(header, len(times))


def _time_key(value: str, range_separator: str | None) -> str:
    return value.split(range_separator, 1)[0].strip() if range_separator else value.strip()


def _parquet_facts(path: Path, time_column: str | None, range_separator: str | None, enough: int) -> TableFacts:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError("reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ValueError(f"cannot read {path.name} as Parquet: {exc}") from None
    columns = list(schema.names)
    if time_column not in columns or path.stat().st_size > SCAN_LIMIT_BYTES:
        return TableFacts(columns, None)
    values = pq.read_table(path, columns=[time_column]).column(0).to_pylist()
    return TableFacts(columns, min(len({_time_key(str(v), range_separator) for v in values}), enough))
