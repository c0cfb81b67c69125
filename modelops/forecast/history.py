"""How much of a series the features need: one function for the planner (which checks a recipe against its
data without importing pandas) and for the features step and the predictor, so that a recipe that passes
`plan` does not fail on the same data when it runs."""

from __future__ import annotations

from typing import Any


def history(lags: list[int], lag_transforms: list[dict[str, Any]]) -> int:
    """Observations a series needs at its origin for every feature to be defined: the largest lag, or a
    rolling window ending `lag` steps back."""
    spans = [max(lags)] + [t.get("lag", 1) - 1 + (t.get("window") or 1) for t in lag_transforms]
    return max(spans)


def required_length(lags: list[int], lag_transforms: list[dict[str, Any]], horizon: int) -> int:
    """Rows a series needs to give one training example: its history, the origin, and a target `horizon`
    steps on."""
    return history(lags, lag_transforms) + horizon + 1

