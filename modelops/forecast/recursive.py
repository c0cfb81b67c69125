"""The recursive strategy: one model of the next step, iterated. Its forecast of t+1 becomes the latest
observation of origin t+1, the target's lags and rolling windows move on by one, and the same model is asked
again, H times. Calendar and known-in-advance columns are taken at each step's target time, as the direct
models take them. Expanding statistics (the `standard` transform's mean and spread, `expanding_mean`) stay at
the origin's values: one more point moves them by about 1/n. Lags of other columns cannot move on without
their future values, so a recipe lagging them forecasts directly (`history.lagged_others`)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, ROW, FeatureSpec, horizon_matrix
from modelops.forecast.frame import GROUP
from modelops.forecast.transforms import invert, transform_inputs


def _back(groups: np.ndarray, positions: np.ndarray, values: np.ndarray, at_groups: np.ndarray,
          at_positions: np.ndarray, depth: int) -> np.ndarray:
    """[len(at_positions), depth]: column j holds the value j positions before each asked-for one in its series,
    from the known (series, position, value) triples (NaN where none is known)."""
    codes, _ = pd.factorize(np.concatenate([groups, at_groups]))
    known, asked = codes[: len(groups)], codes[len(groups):]
    size = np.zeros(codes.max() + 1 if len(codes) else 0, dtype="int64")
    np.maximum.at(size, codes, np.concatenate([positions, at_positions]).astype("int64") + 1)
    start = np.cumsum(size) - size
    dense = np.full(int(size.sum()), np.nan)
    present = ~np.isnan(values)
    dense[start[known[present]] + positions[present]] = values[present]
    out = np.full((len(at_positions), depth), np.nan)
    for j in range(depth):
        back = at_positions - j
        inside = back >= 0
        out[inside, j] = dense[start[asked[inside]] + back[inside]]
    return out


def frame_history(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Each feature row's last `spec.history` target values, newest first, from every value the frame holds
    (each row's own and its lags, placed by their position in the series: rows before the frame starts, or
    left out of it, are still in later rows' lags)."""
    if ROW not in frame:
        raise ValueError("features.parquet has no series positions (made by an older modelops); rebuild it: "
                         "`modelops apply RECIPE --force features`")
    rows, groups = frame[ROW].to_numpy(dtype="int64"), frame[GROUP].to_numpy()
    parts = [(rows, frame[LAST].to_numpy(dtype="float64"))]
    parts += [(rows - k + 1, frame[f"{spec.target}_lag{k}"].to_numpy(dtype="float64")) for k in spec.lags]
    inside = [positions >= 0 for positions, _ in parts]
    return _back(np.concatenate([groups[keep] for keep in inside]),
                 np.concatenate([positions[keep] for (positions, _), keep in zip(parts, inside, strict=True)]),
                 np.concatenate([values[keep] for (_, values), keep in zip(parts, inside, strict=True)]),
                 groups, rows, spec.history)


def origin_history(panel: pd.DataFrame, origins: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The origins' last `spec.history` target values, newest first, read from the panel they were built from."""
    positions = panel.groupby(GROUP, sort=False).cumcount().to_numpy(dtype="int64")
    return _back(panel[GROUP].to_numpy(), positions, panel[spec.target].to_numpy(dtype="float64"),
                 origins[GROUP].to_numpy(), origins[ROW].to_numpy(dtype="int64"), spec.history)


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
        if h > 1:
            rows = rows.assign(**{LAST: recent[:, 0]})        # the latest value: the forecast of t+h-1
        predicted = booster.predict(transform_inputs(matrix, rows, spec, transform), num_iteration=iterations)
        out[h] = np.asarray(invert(predicted, rows, transform), dtype="float64")
        recent = np.column_stack([out[h], recent[:, :-1]])
    return out
