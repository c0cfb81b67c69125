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


@pytest.mark.parametrize("name, path, fmt", [("pretrain", "corpus.txt", "text"), ("sft", "sft.jsonl", "messages"),
                                             ("dpo", "pref.jsonl", "preference"), ("kto", "fb.jsonl", "unpaired")])
def test_each_language_model_kind_expands_into_its_training_pipeline(workspace, name, path, fmt):
    import json

    from conftest import SFT, write

    from modelops.plan.planner import plan_recipe

    (workspace / "fb.jsonl").write_text(json.dumps({"prompt": "q", "completion": "a", "label": True}) + "\n")
    text = SFT.replace("path: sft.jsonl, format: messages", f"path: {path}, format: {fmt}")
    plan = plan_recipe(write(workspace, "r.yaml", text.replace("kind: sft", f"kind: {name}")))
    steps = plan.recipes[-1].steps
    assert [s.kind for s in steps][:4] == ["lm_data", "model_fetch", f"train_{name}", "lm_evaluate"]
    assert steps[2].command[:2] == ["accelerate", "launch"] and steps[2].title.startswith(task_kind(name).title)
    assert steps[2].params["task"]["learning_rate"] == task_kind(name).learning_rate(
        steps[2].params["task"]["adapter"]["type"] == "none")
