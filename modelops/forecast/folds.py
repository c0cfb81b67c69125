"""Expanding-window cross-validation by time over the whole panel.

Every series shares one time axis. For fold j, validation origins are a window of `window` time steps
(by default wide enough for about MIN_VALIDATION_ROWS rows across the series: a horizon's worth of one
series is a handful of rows, too few to stop boosting or choose a transform on);
training rows are those whose target (origin + h steps) falls strictly before the validation origins, less
`gap` steps. So every fold validates on a period after its training period, for all groups at once
(unlike a row-order split of a table sorted by group, which trains on one series' future)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelops.forecast.frame import GROUP, TIME, advance

MIN_VALIDATION_ROWS = 200


@dataclass(frozen=True)
class Fold:
    first_origin: pd.Timestamp       # validation origins are in [first_origin, last_origin]
    last_origin: pd.Timestamp

    def masks(self, frame: pd.DataFrame, h: int, step: pd.DateOffset, gap: int) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, validation rows) for horizon h."""
        times = frame[TIME]
        train = (advance(times, step, h + gap) < self.first_origin).to_numpy()
        valid = ((times >= self.first_origin) & (times <= self.last_origin)).to_numpy()
        return train, valid


def make_folds(frame: pd.DataFrame, horizon: int, folds: int, window: int | None, step: pd.DateOffset) -> list[Fold]:
    """Folds ending where the last origin with a full horizon of targets is, oldest first."""
    window = window or default_window(frame, horizon, folds)
    last = frame[TIME].max() - step * horizon
    result = []
    for j in range(folds):
        end = last - step * ((folds - 1 - j) * window)
        result.append(Fold(end - step * (window - 1), end))
    return result


def default_window(frame: pd.DataFrame, horizon: int, folds: int) -> int:
    """Origins per validation window when the recipe gives none: at least the horizon, widened towards
    MIN_VALIDATION_ROWS rows across the series, but the folds together never take more than half the time
    axis (the first fold must still train on most of the history)."""
    wanted = math.ceil(MIN_VALIDATION_ROWS / max(frame[GROUP].nunique(), 1))
    return max(horizon, min(wanted, frame[TIME].nunique() // (2 * (folds + 1))))
