"""Load a table into a clean panel: parsed times, numeric values, one row per (group, time), sorted,
missing timestamps handled by policy. Every problem names rows (file lines) or groups."""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from modelops.utf8 import first_undecodable

if TYPE_CHECKING:
    from modelops.step_kinds import TableFeatures

GROUP = "__group"          # one integer id per series
TIME = "__time"
SAMPLE = 8                 # rows or groups named in a message
LARGEST = float(np.finfo(np.float32).max)      # lags and windows are float32


class PanelError(ValueError):
    """Bad data, with rows or groups named; the step prints it and exits non-zero."""


@dataclass
class PanelSpec:
    time_column: str
    time_format: str | None
    range_separator: str | None
    frequency: str | None
    missing: str                     # error | fill | skip
    on_bad_rows: str                 # error | skip
    target: str
    features: list[str]
    groups: list[str]
    static: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, p: TableFeatures) -> "PanelSpec":
        time = p.data.time
        return cls(time.column, time.format, time.range_separator, time.frequency, time.missing, p.data.on_bad_rows,
                   p.target, [f for f in p.features if f != p.target], p.groups, p.static_features, p.known_features)

    @property
    def numeric(self) -> list[str]:
        return [self.target, *self.features, *[k for k in self.known if k not in self.features]]


def read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A CSV/TSV (every value as text, every row with the header's number of fields) or Parquet file;
    anything else — empty, not UTF-8, not Parquet, rows with missing or extra fields, absent columns — is a
    PanelError naming the file and the lines."""
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path, columns)
    return _columns(_read_csv(path, "\t" if path.suffix.lower() == ".tsv" else ","), columns, path)


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    """pyarrow's reader, because it reports rows whose field count differs from the header (pandas fills
    short rows and, when the first row is long, silently shifts it into an index)."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    with path.open("rb") as handle:
        first = handle.readline()
    try:
        header = next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")], delimiter=sep), None)
    except UnicodeDecodeError:
        raise PanelError(_not_utf8(path)) from None
    if not header:
        raise PanelError(f"{path}: the file is empty; expected a header line and rows")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise PanelError(f"{path}: column(s) {', '.join(f'`{n}`' for n in twice)} named twice in the header")
    wrong: list[tuple[int | None, int]] = []

    def invalid(row) -> str:
        wrong.append((row.number, row.actual_columns))
        return "skip"

    def read(threads: bool):
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=threads),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True, invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        table = read(threads=True)
        if wrong:  # line numbers are known only to a single-threaded read
            wrong.clear()
            read(threads=False)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            raise PanelError(_not_utf8(path)) from None
        raise PanelError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0][:160]})") from None
    if wrong:
        shown = ", ".join(f"{line} ({count} fields)" for line, count in wrong[:SAMPLE])
        more = f" and {len(wrong) - SAMPLE} more" if len(wrong) > SAMPLE else ""
        raise PanelError(
            f"{path}: line(s) {shown}{more} do not have the header's {len(header)} fields; a decimal "
            "comma or an unquoted separator inside a value? Quote such values, use `.` for decimals, "
            "and give every row each field (empty is fine)"
        )
    return table.to_pandas()


def _not_utf8(path: Path) -> str:
    line, byte = first_undecodable(path) or (0, 0)
    return f"{path}: not UTF-8 text (byte 0x{byte:02x} on line {line}); save it as UTF-8"


def _read_parquet(path: Path, columns: list[str] | None) -> pd.DataFrame:
    import pyarrow

    try:
        frame = pd.read_parquet(path)
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise PanelError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:160]})") from None
    return _columns(frame, columns, path)


def _columns(frame: pd.DataFrame, columns: list[str] | None, path: Path) -> pd.DataFrame:
    if columns is None:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PanelError(
            f"{path}: no column {', '.join(f'`{c}`' for c in missing)}; expected the columns "
            f"{', '.join(f'`{c}`' for c in columns)}"
        )
    return frame[columns]


REQUEST = "request"  # `source` of rows sent to the API: named `rows[i]`, and hints name no recipe key


def _lines(frame: pd.DataFrame, mask: pd.Series, source: str) -> str:
    rows = frame.index[mask.to_numpy()]
    more = f" and {len(rows) - SAMPLE} more" if len(rows) > SAMPLE else ""
    if source == REQUEST:
        return ", ".join(f"rows[{r}]" for r in rows[:SAMPLE]) + more
    shown = ", ".join(str(r + 2) for r in rows[:SAMPLE])  # +2: header line and 1-based lines
    return f"line(s) {shown}" + more


def parse_times(values: pd.Series, spec: PanelSpec) -> pd.Series:
    text = values.astype(str)
    if spec.range_separator:
        text = text.str.split(spec.range_separator, n=1, regex=False).str[0]
    return pd.to_datetime(text.str.strip(), format=spec.time_format, errors="coerce")


def load_panel(frame: pd.DataFrame, spec: PanelSpec, min_length: int, source: str) -> tuple[pd.DataFrame, dict]:
    """`frame` as read from `source`; returns the clean panel (groups, __group, __time, values) and the
    counts of what was dropped or filled (for the metrics and the report)."""
    report: dict = {"rows_read": len(frame), "errors": []}
    missing = [c for c in (*spec.groups, spec.time_column, *spec.static, *spec.numeric) if c not in frame.columns]
    if missing:
        raise PanelError(f"{source}: no column {', '.join(f'`{c}`' for c in dict.fromkeys(missing))}")
    frame = frame.reset_index(drop=True)
    times = parse_times(frame[spec.time_column], spec)
    if times.isna().any():
        _policy(
            times.isna(),
            spec,
            f"{source}: unparseable `{spec.time_column}` values (format "
            f"{spec.time_format!r}) at " + _lines(frame, times.isna(), source),
            report,
            "rows_bad_time",
        )
    values = {}
    bad = pd.Series(False, index=frame.index)
    for column in spec.numeric:
        raw = frame[column]
        number = pd.to_numeric(raw, errors="coerce")
        blank = raw.isna() | (raw.astype(str).str.strip() == "") if raw.dtype == object else raw.isna()
        not_numeric = number.isna() & ~blank
        if not_numeric.any():
            _policy(
                not_numeric,
                spec,
                f"{source}: column `{column}` has non-numeric values at " + _lines(frame, not_numeric, source),
                report,
                f"rows_non_numeric_{column}",
            )
        out_of_range = number.notna() & ~(number.abs() <= LARGEST)  # inf, -inf, 1e308
        if out_of_range.any():
            _policy(
                out_of_range,
                spec,
                f"{source}: column `{column}` has infinite or too large values (beyond "
                f"±{LARGEST:.1e}, the float32 range of the features) at " + _lines(frame, out_of_range, source),
                report,
                f"rows_out_of_range_{column}",
            )
        bad |= not_numeric | out_of_range
        values[column] = number.astype("float64").where(~out_of_range)

    keep = ~(times.isna() | bad) if spec.on_bad_rows == "skip" else pd.Series(True, index=frame.index)
    panel = pd.DataFrame(
        {
            **{g: frame[g].astype(str) for g in spec.groups},
            **{s: frame[s].astype(str) for s in spec.static if s not in spec.groups},
            TIME: times,
            **values,
        }
    )[keep.to_numpy()]
    panel = _dedupe(panel, frame, spec, source, report)
    errors = report.pop("errors")
    if errors:  # every kind of bad row at once, not one kind per run
        raise PanelError(
            "; ".join(errors)
            + ("; fix those rows" if source == REQUEST else "; fix them, or set `data.on_bad_rows: skip` to drop them")
        )
    if panel[spec.target].isna().all():
        raise PanelError(
            f"{source}: column `{spec.target}` (the target) has no values"
            + ("" if source == REQUEST else "; is it the right column?")
        )
    panel[GROUP] = panel.groupby(spec.groups, sort=True, observed=True).ngroup() if spec.groups else 0
    panel = panel.sort_values([GROUP, TIME], kind="stable").reset_index(drop=True)
    panel = _regular(panel, spec, source, report)
    panel = _drop_short(panel, spec, min_length, source, report)
    report["rows"], report["groups"] = len(panel), int(panel[GROUP].nunique())
    return panel, report


def _policy(mask: pd.Series, spec: PanelSpec, message: str, report: dict, counter: str) -> None:
    if not mask.any():
        return
    if spec.on_bad_rows == "error":
        report["errors"].append(message)
        return
    report[counter] = int(mask.sum())
    report.setdefault("samples", []).append(message)


def _dedupe(panel: pd.DataFrame, frame: pd.DataFrame, spec: PanelSpec, source: str, report: dict) -> pd.DataFrame:
    keys = [*spec.groups, TIME]
    if not panel.duplicated(keys).any():
        return panel
    involved = pd.Series(False, index=frame.index)
    involved[panel.index[panel.duplicated(keys, keep=False).to_numpy()]] = True
    dropped = panel.duplicated(keys, keep="last")
    if spec.on_bad_rows == "error":
        _policy(
            involved,
            spec,
            f"{source}: duplicate ({', '.join([*spec.groups, spec.time_column])}) rows at "
            + _lines(frame, involved, source),
            report,
            "rows_duplicate",
        )
        return panel
    report["rows_duplicate"] = int(dropped.sum())
    report.setdefault("samples", []).append(
        f"{source}: duplicates at {_lines(frame, involved, source)}; the last of each kept"
    )
    return panel[~dropped.to_numpy()]


def step_of(frequency: str) -> pd.DateOffset:
    """A frequency as a pandas offset: an alias (`h`, `D`, `W-SUN`, `MS`, `QE`, `B`, ...), or the Timedelta
    text that runs before calendar frequencies stored (`0 days 01:00:00`)."""
    from pandas.tseries.frequencies import to_offset

    try:
        return to_offset(frequency)
    except ValueError:
        try:
            return to_offset(pd.Timedelta(frequency))
        except ValueError:
            raise PanelError(f"`{frequency}` is not a pandas frequency (h, D, W-SUN, MS, ME, QS, YS, B, 15min, ...)"
                             ) from None


CALENDAR_SPACINGS = {   # a most common spacing of this many days, and the anchor every time sits on
    range(28, 32): (("MS", "is_month_start"), ("ME", "is_month_end")),
    range(89, 93): (("QS", "is_quarter_start"), ("QE", "is_quarter_end")),
    range(365, 367): (("YS", "is_year_start"), ("YE", "is_year_end")),
}


def frequency_of(panel: pd.DataFrame, given: str | None) -> pd.DateOffset:
    """The recipe's frequency, or the one the series follow: a calendar frequency (month, quarter or year
    starts or ends, business days) when every time sits on it, else the most common spacing within series."""
    if given:
        return step_of(given)
    steps = panel[TIME].diff()[panel[GROUP].diff() == 0]
    if steps.empty:
        raise PanelError("cannot infer the time spacing from series of one row; set `data.time.frequency`")
    common = steps.mode().iloc[0]
    times = panel[TIME]
    if common == pd.Timedelta(days=common.days) and (times == times.dt.normalize()).all():
        for days, anchors in CALENDAR_SPACINGS.items():
            if common.days in days:
                for alias, test in anchors:
                    if getattr(times.dt, test).all():
                        return step_of(alias)
        if common.days == 1 and (times.dt.dayofweek < 5).all() and (steps == pd.Timedelta(days=3)).any():
            return step_of("B")
        if common.days == 7 and times.dt.dayofweek.nunique() == 1:
            return step_of(f"W-{times.iloc[0].day_name()[:3].upper()}")
    from pandas.tseries.frequencies import to_offset

    return to_offset(common)


def advance(times: pd.Series, step: pd.DateOffset, count: int = 1) -> pd.Series:
    """Each time `count` steps later (calendar offsets move by calendar: a month after Jan 31 is Feb 28)."""
    if isinstance(step, pd.offsets.Tick):
        return times + count * pd.Timedelta(step)
    with warnings.catch_warnings():     # pandas applies non-fixed offsets element by element, and says so
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        return times + count * step


def _regular(panel: pd.DataFrame, spec: PanelSpec, source: str, report: dict) -> pd.DataFrame:
    freq = frequency_of(panel, spec.frequency)
    same = panel[GROUP].diff() == 0
    gaps = same & (panel[TIME] != advance(panel[TIME].shift(), freq))
    report["frequency"] = freq.freqstr
    if not gaps.any() or spec.missing == "skip":
        report["gaps"] = int(gaps.sum())
        return panel
    if spec.missing == "error":
        where = panel[gaps].head(SAMPLE)
        pairs = zip(where.index, where[TIME], strict=True)
        shown = "; ".join(f"{_group_name(panel, i, spec)} before {t}" for i, t in pairs)
        raise PanelError(
            f"{source}: {int(gaps.sum())} gap(s) in the {freq.freqstr} time grid: {shown}; "
            + (
                "send every time step"
                if source == REQUEST
                else "set `data.time.missing: fill` (with `frequency`) or `skip`"
            )
        )
    # fill: the full grid of every series, from its first to its last time
    bounds = panel.groupby(GROUP)[TIME].agg(["min", "max"])
    if isinstance(freq, pd.offsets.Tick):   # fixed spacing: vectorised (repeat each series' start, add offsets)
        counts = ((bounds["max"] - bounds["min"]) // pd.Timedelta(freq) + 1).astype(int)
        groups = np.repeat(bounds.index.to_numpy(), counts.to_numpy())
        offsets = np.arange(len(groups)) - np.repeat(np.cumsum(counts.to_numpy()) - counts.to_numpy(),
                                                     counts.to_numpy())
        times = np.repeat(bounds["min"].to_numpy(), counts.to_numpy()) + offsets * pd.Timedelta(freq)
    else:                                   # calendar spacing (months, business days, ...): a range per series
        ranges = [pd.date_range(low, high, freq=freq) for low, high in zip(bounds["min"], bounds["max"], strict=True)]
        groups = np.repeat(bounds.index.to_numpy(), [len(r) for r in ranges])
        times = np.concatenate([r.to_numpy() for r in ranges])
    grid = pd.DataFrame({GROUP: groups, TIME: times})
    filled = grid.merge(panel, on=[GROUP, TIME], how="left")
    report["rows_filled"] = int(len(filled) - len(panel))
    labels = [*spec.groups, *[s for s in spec.static if s not in spec.groups], *spec.numeric]
    filled[labels] = filled.groupby(GROUP)[labels].ffill()
    return filled


def series_names(frame: pd.DataFrame, groups: list[str]) -> dict[int, str]:
    """Each series' name — its group values joined by `/`, or "the series" — by series number, in one pass."""
    first = frame.groupby(GROUP, sort=False).head(1)
    return {row[GROUP]: "/".join(str(row[g]) for g in groups) or "the series"
            for row in first[[GROUP, *groups]].to_dict("records")}


def _group_name(panel: pd.DataFrame, row: int, spec: PanelSpec) -> str:
    return "/".join(str(panel.at[row, g]) for g in spec.groups) or "the series"


def _drop_short(panel: pd.DataFrame, spec: PanelSpec, min_length: int, source: str, report: dict) -> pd.DataFrame:
    sizes = panel.groupby(GROUP)[TIME].transform("size")
    short = sizes < min_length
    if not short.any():
        return panel
    names = panel[short].drop_duplicates(GROUP)
    listed = ", ".join(_group_name(panel, i, spec) for i in names.index[:SAMPLE])
    message = f"{source}: {len(names)} series shorter than {min_length} rows (history + horizon + 1): {listed}"
    if spec.on_bad_rows == "error":
        raise PanelError(message + "; set `data.on_bad_rows: skip` to leave them out")
    report["groups_too_short"] = len(names)
    report.setdefault("samples", []).append(message)
    kept = panel[~short].copy()
    kept[GROUP] = kept.groupby(GROUP).ngroup()
    return kept.reset_index(drop=True)
