"""Target transforms, applied per forecast origin with what is known at that origin (no look-ahead), and
inverted on prediction. Trees cannot extrapolate levels: across series of different scales, or with
trends, predicting a change or a standardised value is what lets them beat a naive forecast.

- none: y
- difference: y(t+h) - y(t); target-level columns become their difference from y(t)
- changes: the series differenced once, as mlforecast's `Differences([1])`: every target lag becomes its
  one-step change y(t-k+1) - y(t-k), so a seasonal pattern in the changes (half-hourly demand, a monthly
  panel's momentum) is one column a tree can split on, not a difference of two (the largest lag's change
  reads one value beyond it, missing where the series has none); the model of step h predicts the change
  into its step, y(t+h) - y(t+h-1), and the forecast is y(t) plus the running sum of the steps' changes
  (`STEPWISE`: a direct forecast of step h reads the models of steps 1..h)
- standard: (y(t+h) - mean) / std, with the series' expanding mean and std up to t
- log: log1p(y), for non-negative targets"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, MEAN, STD, FeatureSpec, horizon_matrix
from modelops.forecast.transform_names import ON_CHANGES, STEPWISE, TRANSFORMS


def candidates(frame: pd.DataFrame) -> list[str]:
    """Transforms worth trying on this data (log needs a non-negative target)."""
    return [t for t in TRANSFORMS if t != "log" or bool((frame[LAST] >= 0).all())]


def frame_columns(spec: FeatureSpec) -> list[str]:
    """The feature frame's bookkeeping columns the transforms read beside the model inputs."""
    return [LAST, MEAN, STD, *map(spec.before_column, spec.befores)]


def _scale(frame: pd.DataFrame) -> pd.Series:
    std = frame[STD]
    return std.where(std > 1e-9, 1.0).fillna(1.0)


def _changes(matrix: pd.DataFrame, frame: pd.DataFrame, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Each target lag as the change into it: lag k minus lag k+1, or minus the value before it."""
    lag = {k: f"{spec.target}_lag{k}" for k in spec.lags}
    before = {k: frame[spec.before_column(k)].to_numpy() for k in spec.befores}
    return {lag[k]: matrix[lag[k]].to_numpy() - (matrix[lag[k + 1]].to_numpy() if k + 1 in lag else before[k])
            for k in spec.lags}


def transform_inputs(matrix: pd.DataFrame, frame: pd.DataFrame, spec: FeatureSpec, kind: str) -> pd.DataFrame:
    levels = [c for c in spec.target_level_columns() if c in matrix]
    spreads = [c for c in spec.target_spread_columns() if c in matrix]
    if kind in ON_CHANGES:
        changes = _changes(matrix, frame, spec) if kind == "changes" else {}
        matrix[levels] = matrix[levels].sub(frame[LAST].to_numpy(), axis=0)
        for column, values in changes.items():
            matrix[column] = values
    elif kind == "standard":
        scale = _scale(frame).to_numpy()
        matrix[levels] = matrix[levels].sub(frame[MEAN].to_numpy(), axis=0).div(scale, axis=0)
        matrix[spreads] = matrix[spreads].div(scale, axis=0)
    elif kind == "log":
        matrix[levels] = np.log1p(matrix[levels].clip(lower=0))
    return matrix


def transform_target(frame: pd.DataFrame, kind: str, h: int) -> pd.Series:
    """The model's target for step h from the frame's `__y_h{h}` (and, for `changes`, the step before it)."""
    y = frame[f"__y_h{h}"]
    if kind == STEPWISE and h > 1:
        return y - frame[f"__y_h{h - 1}"]
    if kind in ON_CHANGES:
        return y - frame[LAST]
    if kind == "standard":
        return (y - frame[MEAN]) / _scale(frame)
    if kind == "log":
        return np.log1p(y.clip(lower=0))
    return y


def target_columns(kind: str, h: int) -> list[str]:
    """The frame's target columns that step h's model target reads."""
    return [f"__y_h{h - 1}", f"__y_h{h}"] if kind == STEPWISE and h > 1 else [f"__y_h{h}"]


def invert(prediction: np.ndarray, frame: pd.DataFrame, kind: str) -> np.ndarray:
    """One step's answers on the target's scale (for `changes`, of the first step, or of a running sum)."""
    if kind in ON_CHANGES:
        return prediction + frame[LAST].to_numpy()
    if kind == "standard":
        return prediction * _scale(frame).to_numpy() + frame[MEAN].to_numpy()
    if kind == "log":
        return np.expm1(prediction)
    return prediction


def invert_steps(answers: dict[int, np.ndarray], frame: pd.DataFrame, kind: str) -> dict[int, np.ndarray]:
    """Direct models' answers for steps 1..H on the target's scale: `changes` adds up the steps' changes."""
    if kind == STEPWISE:
        answers = dict(zip(sorted(answers), np.cumsum([answers[h] for h in sorted(answers)], axis=0), strict=True))
    return {h: np.asarray(invert(answer, frame, kind), dtype="float64") for h, answer in answers.items()}


def predict_steps(boosters: dict[int, Any], frame: pd.DataFrame, spec: FeatureSpec, kind: str,
                  ) -> dict[int, np.ndarray]:
    """The direct models' forecasts of every step ahead from the frame's rows as origins."""
    answers = {h: booster.predict(transform_inputs(horizon_matrix(frame, spec, h), frame, spec, kind))
               for h, booster in boosters.items()}
    return invert_steps(answers, frame, kind)


def predict(booster: Any, matrix: pd.DataFrame, frame: pd.DataFrame, spec: FeatureSpec, kind: str,
            iterations: int | None = None) -> np.ndarray:
    """A next-step model's forecasts on the target's own scale: inputs transformed as in training, the answer
    inverted."""
    answer = booster.predict(transform_inputs(matrix, frame, spec, kind), num_iteration=iterations)
    return np.asarray(invert(answer, frame, kind), dtype="float64")
