"""Forecast error metrics. MAPE skips zero targets (and says how many); SMAPE is in percent, 0..200."""

from __future__ import annotations

import numpy as np

LOWER_IS_BETTER = {"mae": True, "rmse": True, "mse": True, "r2": False, "mape": True, "smape": True}


def score(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    actual, predicted = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
    error = predicted - actual
    mse = float(np.mean(error ** 2))
    spread = float(np.sum((actual - actual.mean()) ** 2))
    nonzero = actual != 0
    denominator = np.abs(actual) + np.abs(predicted)
    both = denominator > 0
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(mse)),
        "mse": mse,
        "r2": 1.0 - float(np.sum(error ** 2)) / spread if spread > 0 else float("nan"),
        "mape": float(np.mean(np.abs(error[nonzero] / actual[nonzero])) * 100) if nonzero.any() else float("nan"),
        "smape": float(np.mean(2 * np.abs(error[both]) / denominator[both]) * 100) if both.any() else 0.0,
        "mape_zero_targets_skipped": int((~nonzero).sum()),
        "n": int(len(actual)),
    }
