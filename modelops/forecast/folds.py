"""Expanding-window cross-validation by time over the whole panel.

Every series shares one time axis. For fold j, validation origins are a window of `window` time steps;
training rows are those whose target (origin + h steps) falls strictly before the validation origins, less
`gap` steps. So every fold validates on a period after its training period, for all groups at once
(unlike a row-order split of a table sorted by group, which trains on one series' future)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelops.forecast.frame import TIME


@dataclass(frozen=True)
class Fold:
    first_origin: pd.Timestamp       # validation origins are in [first_origin, last_origin]
    last_origin: pd.Timestamp

    def masks(self, frame: pd.DataFrame, h: int, step: pd.Timedelta, gap: int) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, validation rows) for horizon h."""
        times = frame[TIME]
        train = (times + (h + gap) * step < self.first_origin).to_numpy()
        valid = ((times >= self.first_origin) & (times <= self.last_origin)).to_numpy()
        return train, valid


def make_folds(frame: pd.DataFrame, horizon: int, folds: int, window: int | None, step: pd.Timedelta) -> list[Fold]:
    """Folds ending where the last origin with a full horizon of targets is, oldest first."""
    window = window or horizon
    last = frame[TIME].max() - horizon * step
    result = []
    for j in range(folds):
        end = last - (folds - 1 - j) * window * step
        result.append(Fold(end - (window - 1) * step, end))
    return result
