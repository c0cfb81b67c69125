"""The runners' parameter readers accept what the planner writes, checked at plan time for every checked-in
recipe and every task kind: a key the planner renamed or a runner misspelt fails here, not hours into a
run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RECIPES


def _steps(kind: str):
    from modelops.plan.planner import plan_recipe

    return [step for path in RECIPES for step in plan_recipe(path).steps if step.kind == kind]


@pytest.mark.parametrize("cuda", [False, True])
def test_training_steps_turn_into_trl_arguments(cuda):
    from modelops.plan.launch import trainer_arguments
    from modelops.step_kinds import STEP_KINDS

    steps = [step for kind in STEP_KINDS if kind.startswith("train_") for step in _steps(kind)]
    assert {step.kind for step in steps} == {kind for kind in STEP_KINDS if kind.startswith("train_")}
    for step in steps:
        kind = step.kind.removeprefix("train_")
        arguments = trainer_arguments(kind, step.params, Path("out"), True, cuda)
        assert arguments["learning_rate"] == step.params["task"]["learning_rate"]
        assert arguments["per_device_train_batch_size"] == step.params["setup"]["per_device_batch"]
        if not cuda:   # TRL's own config takes them (a key it has no field for is a TypeError)
            import trl

            from modelops.task_kinds import task_kind

            config = getattr(trl, task_kind(kind).config)(**arguments)
            assert config.learning_rate == arguments["learning_rate"]


def test_forecasting_steps_parse_their_parameters():
    from modelops.forecast.features import FeatureSpec
    from modelops.forecast.fit import FitConfig
    from modelops.forecast.frame import PanelSpec

    [features] = _steps("table_features")
    [fit] = _steps("lightgbm_fit")
    assert PanelSpec.from_params(features.params).target == FeatureSpec.from_params(features.params).target
    assert FitConfig.from_params(fit.params).folds == fit.params["validation"]["folds"]
