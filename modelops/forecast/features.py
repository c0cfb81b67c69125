"""Features of a clean panel, vectorised over all series at once (group-wise shifts and cumulative sums,
never a Python loop per series).

Each row is a forecast origin t (its latest observation). `x_lag{k}` is the value at t-k+1 (lag1 is the
latest), `__y_h{h}` the target h steps later, `__known_{c}_h{h}` a known-in-advance column at t+h.
Columns that start with `__` are bookkeeping, not model inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelops.forecast.frame import GROUP, TIME, advance, step_of
from modelops.forecast.history import history

if TYPE_CHECKING:
    from modelops.step_kinds import TableFeatures

LAST, MEAN, STD = "__last", "__mean", "__std"        # target at t, its expanding mean and std up to t
ROW = "__row"                                         # the row's position in its series (0: the series' first)
CALENDAR = {"hour": lambda t: t.dt.hour, "dayofweek": lambda t: t.dt.dayofweek, "day": lambda t: t.dt.day,
            "month": lambda t: t.dt.month, "dayofyear": lambda t: t.dt.dayofyear,
            "weekofyear": lambda t: t.dt.isocalendar().week.astype("int32")}


@dataclass
class FeatureSpec:
    target: str
    features: list[str]                       # besides the target
    groups: list[str]
    lags: list[int]
    horizon: int
    lag_transforms: list[dict[str, Any]] = field(default_factory=list)
    calendar: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    season: int | None = None
    frequency: str = ""                       # a pandas frequency (`h`, `MS`, `W-SUN`), found when the panel is read
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_params(cls, p: TableFeatures) -> "FeatureSpec":
        return cls(p.target, [f for f in p.features if f != p.target], p.groups, p.lags, p.horizon,
                   [t.model_dump() for t in p.lag_transforms], p.calendar, p.static_features, p.known_features,
                   p.season)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def history(self) -> int:
        """Observations a series needs at its origin for every feature to be defined."""
        return history(self.lags, self.lag_transforms)

    @property
    def befores(self) -> list[int]:
        """Target lags whose next one is not declared: `changes` makes every lag its one-step change,
        y(t-k+1) - y(t-k), so the frame also keeps the value just before them (`before_column`)."""
        return [k for k in self.lags if k + 1 not in self.lags]

    def before_column(self, k: int) -> str:
        return f"__{self.target}_before{k}"

    @property
    def depth(self) -> int:
        """Target values a recursion carries: the history and the value before the largest lag. A series
        with only its history still forecasts; the largest lag's change is then missing, as at its start."""
        return max(self.history, max(self.lags) + 1)

    def lag_columns(self, name: str) -> list[str]:
        return [f"{name}_lag{k}" for k in self.lags]

    def transform_column(self, t: dict[str, Any], name: str) -> str:
        window = f"{t['window']}" if t.get("window") else ""
        return f"{name}_{t['type']}{window}_lag{t.get('lag', 1)}"

    def target_level_columns(self) -> list[str]:
        """Columns on the target's scale, which a target transform rescales along with the target."""
        return self.lag_columns(self.target) + [self.transform_column(t, self.target) for t in self.lag_transforms
                                                if self.target in (t.get("features") or [self.target])
                                                and t["type"] != "rolling_std"]

    def target_spread_columns(self) -> list[str]:
        return [self.transform_column(t, self.target) for t in self.lag_transforms
                if self.target in (t.get("features") or [self.target]) and t["type"] == "rolling_std"]

    def model_columns(self) -> list[str]:
        """Model inputs shared by every horizon (calendar and known columns are added per horizon)."""
        columns = [c for name in [self.target, *self.features] for c in self.lag_columns(name)]
        columns += [
            self.transform_column(t, name) for t in self.lag_transforms for name in t.get("features") or [self.target]
        ]
        return columns + self.static

    def horizon_columns(self) -> list[str]:
        return [*self.calendar, *self.known]


def _shift(panel: pd.DataFrame, columns: list[str], periods: int) -> pd.DataFrame:
    return panel.groupby(GROUP, sort=False)[columns].shift(periods)


def _window_sum(values: pd.Series, groups: pd.Series, window: int | None) -> tuple[pd.Series, pd.Series]:
    """Sum and count of the last `window` values in each series (all of them when `window` is None)."""
    present = values.notna().astype("float64")
    total = values.fillna(0.0).groupby(groups, sort=False).cumsum()
    count = present.groupby(groups, sort=False).cumsum()
    if window is None:
        return total, count
    before = pd.DataFrame({"t": total, "c": count}).groupby(groups, sort=False).shift(window).fillna(0.0)
    return total - before["t"], count - before["c"]


def _lag_transform(panel: pd.DataFrame, name: str, t: dict[str, Any]) -> pd.Series:
    values = _shift(panel, [name], t.get("lag", 1) - 1)[name]
    groups = panel[GROUP]
    window = t.get("window") if t["type"] != "expanding_mean" else None
    total, count = _window_sum(values, groups, window)
    mean = total / count.where(count > 0)
    if t["type"] != "rolling_std":
        return mean.where(count >= (window or 1))
    squares, _ = _window_sum(values * values, groups, window)
    variance = (squares - count * mean * mean) / (count - 1).where(count > 1)
    return np.sqrt(variance.clip(lower=0)).where(count >= window)


def positions(panel: pd.DataFrame) -> pd.Series:
    """Each row's position in its series (`ROW`): 0 for the series' first row."""
    return panel.groupby(GROUP, sort=False).cumcount()


def build_features(panel: pd.DataFrame, spec: FeatureSpec, with_targets: bool = True) -> pd.DataFrame:
    """The feature frame of a clean panel sorted by (__group, __time)."""
    out: dict[str, Any] = {GROUP: panel[GROUP], TIME: panel[TIME], ROW: positions(panel).astype("int32")}
    for g in spec.groups:
        out[g] = panel[g]
    names = [spec.target, *spec.features]
    for k in spec.lags:
        shifted = _shift(panel, names, k - 1)
        for name in names:
            out[f"{name}_lag{k}"] = shifted[name].astype("float32")
    for k in spec.befores:
        out[spec.before_column(k)] = _shift(panel, [spec.target], k)[spec.target].astype("float32")
    for t in spec.lag_transforms:
        for name in t.get("features") or [spec.target]:
            out[spec.transform_column(t, name)] = _lag_transform(panel, name, t).astype("float32")
    for s in spec.static:
        out[s] = pd.Categorical(panel[s].astype(str), categories=spec.categories.get(s))
    y = panel[spec.target]
    total, count = _window_sum(y, panel[GROUP], None)
    squares, _ = _window_sum(y * y, panel[GROUP], None)
    mean = total / count.where(count > 0)
    out[LAST], out[MEAN] = y, mean
    out[STD] = np.sqrt(((squares - count * mean * mean) / (count - 1).where(count > 1)).clip(lower=0))
    for h in range(1, spec.horizon + 1):
        if with_targets:
            out[f"__y_h{h}"] = _shift(panel, [spec.target], -h)[spec.target]
            if spec.season:
                back = spec.season * -(-h // spec.season) - h
                out[f"__seasonal_h{h}"] = _shift(panel, [spec.target], back)[spec.target]
        if spec.known:
            future = _shift(panel, spec.known, -h)
            for name in spec.known:
                out[f"__known_{name}_h{h}"] = future[name].astype("float32")
    frame = pd.DataFrame(out)
    return frame[frame[f"{spec.target}_lag{max(spec.lags)}"].notna()].reset_index(drop=True)


def check_frame(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    """A feature frame made by an older modelops lacks bookkeeping columns that fits and forecasts read."""
    missing = [c for c in [ROW, *map(spec.before_column, spec.befores)] if c not in frame]
    if missing:
        raise ValueError(f"features.parquet has no {', '.join(missing)} (made by an older modelops); rebuild it: "
                         "`modelops apply RECIPE --force features`")


def horizon_matrix(frame: pd.DataFrame, spec: FeatureSpec, h: int) -> pd.DataFrame:
    """Model inputs for step h ahead: the shared columns plus calendar and known values at the target time."""
    matrix = frame[spec.model_columns()].copy()
    target_time = advance(frame[TIME], step_of(spec.frequency), h)
    for name in spec.calendar:
        matrix[name] = CALENDAR[name](target_time).astype("int16")
    for name in spec.known:
        matrix[name] = frame[f"__known_{name}_h{h}"]
    return matrix
