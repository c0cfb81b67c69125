"""Task kinds carry their facts in one place (modelops/task_kinds.py): the recipe schema, the CLI and the
planner agree with it, and a kind it does not know is an error wherever it is asked for."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from modelops.task_kinds import TASK_KINDS, task_kind


def test_the_recipe_schema_and_init_offer_exactly_the_known_kinds():
    from modelops.cli import StarterKind
    from modelops.recipe.tasks import Task

    union = typing.get_args(typing.get_args(Task)[0])
    schema_kinds = {typing.get_args(cls.model_fields["kind"].annotation)[0] for cls in union}
    assert schema_kinds == set(TASK_KINDS) == {kind.value for kind in StarterKind}


@pytest.mark.parametrize("name", sorted(TASK_KINDS))
def test_every_kind_has_what_the_planner_and_runners_read(name):
    kind = task_kind(name)
    assert kind.formats and kind.title and kind.starter_data
    if kind.trains_language_model:
        import importlib.util

        from modelops.plan.launch import KIND_ARGUMENTS

        assert kind.starter_base and kind.learning_rate(True) > 0 and kind.learning_rate(False) > 0
        assert name in KIND_ARGUMENTS and kind.config
        assert importlib.util.find_spec(f"modelops.steps.train_{name}") is not None


def test_an_unknown_kind_is_an_error_not_a_fallback():
    from modelops.plan.launch import trainer_arguments

    with pytest.raises(ValueError, match="unknown task kind `grpo`"):
        task_kind("grpo")
    with pytest.raises(ValueError, match="no trainer arguments for task kind `grpo`"):
        trainer_arguments("grpo", {"task": _TASK, "setup": _SETUP, "seed": 1}, Path("x"), False, False)


_TASK = {"learning_rate": 1e-4, "scheduler": "cosine", "warmup_ratio": 0, "weight_decay": 0, "epochs": 1,
         "max_steps": None, "save": {"every_steps": None, "every_minutes": 10, "keep": 3}, "max_length": 64,
         "eval": {"every_steps": None, "early_stopping_patience": None}, "liger_kernels": False}
_SETUP = {"per_device_batch": 1, "gradient_accumulation": 1, "precision": "fp32", "gradient_checkpointing": False,
          "distributed": "single"}
