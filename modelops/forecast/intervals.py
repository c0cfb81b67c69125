"""Prediction intervals by split conformal prediction on the time-ordered validation folds (as mlforecast,
skforecast and Darts offer them): for each step ahead, the absolute errors of the out-of-sample forecasts
give the half-width that covers the requested share of them; a forecast ± that width is the interval. The
coverage is measured honestly: each fold's errors are covered by a width calibrated on the other folds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from modelops.forecast.fit import FitResult


def half_width(errors: np.ndarray, level: int) -> float:
    """The conformal quantile: the ceil((n + 1) · level / 100)-th smallest absolute error (the largest when
    that rank passes n: too few validation rows for the level)."""
    ordered = np.sort(np.abs(errors))
    rank = min(math.ceil((len(ordered) + 1) * level / 100), len(ordered))
    return float(ordered[rank - 1])


def conformal(frame: pd.DataFrame, result: FitResult, levels: list[int]) -> tuple[dict, dict]:
    """({level: {step ahead: half-width}}, {level: coverage on the folds}) from the validation forecasts."""
    widths: dict[str, dict[str, float]] = {}
    coverage: dict[str, float] = {}
    for level in levels:
        widths[str(level)], hits, total = {}, 0, 0
        for h, evaluation in result.evaluations.items():
            errors = frame[f"__y_h{h}"].to_numpy()[evaluation.rows] - evaluation.predictions
            widths[str(level)][str(h)] = half_width(errors, level)
            bounds = np.cumsum([0, *evaluation.fold_rows])
            folds = [errors[bounds[i]:bounds[i + 1]] for i in range(len(evaluation.fold_rows))]
            for i, fold in enumerate(folds):
                others = np.concatenate([f for j, f in enumerate(folds) if j != i]) if len(folds) > 1 else fold
                hits += int((np.abs(fold) <= half_width(others, level)).sum())
                total += len(fold)
        coverage[str(level)] = hits / total if total else float("nan")
    return widths, coverage
