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
        arguments = trainer_arguments(kind, step.typed_params(), Path("out"), True, cuda)
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
    features_params = features.typed_params()
    assert PanelSpec.from_params(features_params).target == FeatureSpec.from_params(features_params).target
    assert FitConfig.from_params(fit.typed_params()).folds == fit.params["validation"]["folds"]


def _every_planned_step(folder: Path | None = None):
    """The steps of every checked-in recipe and example, and of an unmerged adapter shipped as a GGUF adapter."""
    from conftest import ROOT, SFT, write

    from modelops.plan.planner import plan_recipe

    paths = RECIPES + sorted((ROOT / "examples").glob("*/*.yaml"))
    if folder is not None:
        (folder / "sft.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}, '
                                          '{"role": "assistant", "content": "hello"}]}\n')
        paths.append(write(folder, "adapter.yaml", SFT + "deploy: {target: llama-cpp, merge: false}\n"))
    return [step for path in paths for step in plan_recipe(path).steps]


def test_every_planned_step_is_exactly_its_kinds_typed_parameters(tmp_path):
    """What the planner writes parses into the class the runner reads, and says nothing more or less."""
    from modelops.step_kinds import STEP_KINDS

    steps = _every_planned_step(tmp_path)
    assert {step.kind for step in steps} == set(STEP_KINDS)           # the checked-in recipes use every kind
    for step in steps:
        assert step.typed_params().dump() == step.params, step.id


@pytest.mark.parametrize("kind, edit", [
    ("train_sft", lambda p: p["task"]["eval"].update(every_step=5)),  # a misspelt key
    ("train_sft", lambda p: p["setup"].pop("per_device_batch")),       # a missing one
    ("train_dpo", lambda p: p["task"].update(kind="sft")),             # another kind's task
    ("lightgbm_fit", lambda p: p.update(threads="many")),              # a wrong type
])
def test_a_wrong_key_or_value_fails_when_the_runner_parses_it(kind, edit):
    import copy

    from pydantic import ValidationError

    step = copy.deepcopy(next(s for s in _every_planned_step() if s.kind == kind))
    edit(step.params)
    with pytest.raises(ValidationError):
        step.typed_params()
