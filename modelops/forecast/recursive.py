"""The recursive strategy: one model of the next step, iterated. Its forecast of t+1 becomes the latest
observation of origin t+1, the target's lags and rolling windows move on by one, and the same model is asked
again, H times. Calendar and known-in-advance columns are taken at each step's target time, as the direct
models take them. Expanding statistics (the `standard` transform's mean and spread, `expanding_mean`) stay at
the origin's values: one more point moves them by about 1/n. Lags of other columns cannot move on without
their future values, so a recipe lagging them forecasts directly (`RegressionTask.others_lagged`)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, ROW, FeatureSpec, horizon_matrix, positions
from modelops.forecast.frame import GROUP
from modelops.forecast.transforms import predict


def _key(groups: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """One sortable number per (series, position): rows sorted by series, then time, have ascending keys."""
    return groups.astype("int64") * (1 << 32) + positions.astype("int64")


def _history(keys: np.ndarray, sources: list[tuple[int, np.ndarray]], groups: np.ndarray, positions: np.ndarray,
             depth: int) -> np.ndarray:
    """[len(positions), depth]: column j holds the value j positions before each asked-for one in its series.
    `keys` are the known rows' (ascending) and `sources` what each holds: (k - 1, values) says a row at
    position p holds the value of position p - k + 1 — its own (0, the target) or a lag's. The first source
    with a row there wins; NaN where none has one (before the series starts)."""
    out = np.full((len(positions), depth), np.nan)
    last = len(keys) - 1
    for j in range(depth):
        wanted = positions - j
        missing = np.flatnonzero(wanted >= 0)
        for offset, values in sources:
            probe = _key(groups[missing], wanted[missing] + offset)
            at = np.searchsorted(keys, probe).clip(max=last)
            found = keys[at] == probe
            out[missing[found], j] = values[at[found]]
            missing = missing[~found]
            if not len(missing):
                break
    return out


def frame_history(frame: pd.DataFrame, spec: FeatureSpec, rows: np.ndarray) -> np.ndarray:
    """The last `spec.depth` target values of the given feature rows, newest first, from what the frame holds:
    each row's own target, its lags and the values before them, placed by position in the series — so values
    before the frame starts, or of rows it left out, are still found in later rows' lags."""
    groups, positions = frame[GROUP].to_numpy(), frame[ROW].to_numpy(dtype="int64")
    sources = [(0, frame[LAST].to_numpy(dtype="float64"))]
    sources += [(k - 1, frame[f"{spec.target}_lag{k}"].to_numpy(dtype="float64")) for k in spec.lags if k > 1]
    sources += [(k, frame[spec.before_column(k)].to_numpy(dtype="float64")) for k in spec.befores]
    return _history(_key(groups, positions), sources, groups[rows], positions[rows], spec.depth)


def origin_history(panel: pd.DataFrame, origins: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The origins' last `spec.depth` target values, newest first, read from the panel they were built from."""
    known = positions(panel).to_numpy(dtype="int64")
    return _history(_key(panel[GROUP].to_numpy(), known), [(0, panel[spec.target].to_numpy(dtype="float64"))],
                    origins[GROUP].to_numpy(), origins[ROW].to_numpy(dtype="int64"), spec.depth)


def _target_columns(recent: np.ndarray, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """The target's lag and rolling-window columns of origins whose latest values are `recent`."""
    columns = {f"{spec.target}_lag{k}": recent[:, k - 1] for k in spec.lags}
    for t in spec.lag_transforms:
        if spec.target not in (t.get("features") or [spec.target]) or t["type"] == "expanding_mean":
            continue
        start = t.get("lag", 1) - 1
        window = recent[:, start:start + t["window"]]
        complete = ~np.isnan(window).any(axis=1)                     # as the features: only a full window counts
        if t["type"] == "rolling_std":
            value = np.std(window, axis=1, ddof=1) if t["window"] > 1 else np.full(len(window), np.nan)
        else:
            value = window.mean(axis=1)
        columns[spec.transform_column(t, spec.target)] = np.where(complete, value, np.nan)
    return columns


def forecast(origins: pd.DataFrame, history: np.ndarray, spec: FeatureSpec, booster: lgb.Booster, transform: str,
             iterations: int | None = None) -> dict[int, np.ndarray]:
    """{step ahead: forecasts} of every origin row, 1..horizon, from the next-step model."""
    recent, rows, out = history.copy(), origins, {}
    for h in range(1, spec.horizon + 1):
        matrix = horizon_matrix(rows, spec, h)              # calendar and known columns at t+h, the target time
        for name, values in _target_columns(recent, spec).items():
            matrix[name] = values.astype("float32")
        if h > 1:                                             # the latest value: the forecast of t+h-1
            rows = rows.assign(**{LAST: recent[:, 0]}, **{spec.before_column(k): recent[:, k] for k in spec.befores})
        out[h] = predict(booster, matrix, rows, spec, transform, iterations)
        recent = np.column_stack([out[h], recent[:, :-1]])
    return out
