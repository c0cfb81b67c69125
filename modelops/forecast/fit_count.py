"""How many LightGBM fits a forecasting search makes: one function for the planner's estimate (which must not
import LightGBM or pandas) and the fit step's progress."""

from __future__ import annotations


def fit_count(transforms: int, strategies: list[str], combinations: int, horizon: int, folds: int, chosen: str) -> int:
    """Fits when `chosen` wins: each (strategy, transform) pair is probed on every fold when there is more than
    one — a direct model at the nearest and farthest step ahead, the recursive model once — then the chosen
    strategy evaluates every parameter combination (the probed one is reused) and refits."""
    units = {"direct": len({1, horizon}), "recursive": 1}
    probing = sum(units[s] for s in strategies) * transforms if transforms * len(strategies) > 1 else 0
    models = horizon if chosen == "direct" else 1
    search = combinations * models - (units[chosen] if probing else 0)
    return (probing + search) * folds + models
