"""Expanding-window cross-validation by time over the whole panel.

Every series shares one time axis. For fold j, validation origins are a window of `window` time steps;
training rows are those whose target (origin + h steps) falls strictly before the validation origins, less
`gap` steps. So every fold validates on a period after its training period, for all groups at once
(unlike a row-order split of a table sorted by group, which trains on one series' future)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelops.forecast.frame import TIME, advance


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
    window = window or horizon
    last = frame[TIME].max() - step * horizon
    result = []
    for j in range(folds):
        end = last - step * ((folds - 1 - j) * window)
        result.append(Fold(end - step * (window - 1), end))
    return result
