"""How many LightGBM fits a forecasting search makes: one function for the planner's estimate (which must not
import LightGBM or pandas) and the fit step's progress."""

from __future__ import annotations

from modelops.forecast.transform_names import STEPWISE


def fit_count(transforms: list[str], strategies: list[str], combinations: int, horizon: int, folds: int,
              chosen: tuple[str, str]) -> int:
    """Fits when `chosen` (strategy, transform) wins: each (strategy, transform) pair is probed on every fold
    when there is more than one — a direct model at the nearest and farthest step ahead (at every step for
    `changes`, whose forecasts sum them), the recursive model once — then the chosen strategy evaluates every
    parameter combination (the probed one is reused) and refits."""

    def probed(strategy: str, transform: str) -> int:
        if strategy == "recursive":
            return 1
        return horizon if transform == STEPWISE else len({1, horizon})

    pairs = [(strategy, transform) for strategy in strategies for transform in transforms]
    probing = sum(probed(*pair) for pair in pairs) if len(pairs) > 1 else 0
    models = horizon if chosen[0] == "direct" else 1
    search = combinations * models - (probed(*chosen) if probing else 0)
    return (probing + search) * folds + models
