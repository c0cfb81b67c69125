"""Task kinds carry their facts in one place (modelops/task_kinds.py): the recipe schema, the CLI and the
planner agree with it, and a kind it does not know is an error wherever it is asked for."""

from __future__ import annotations

import json
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

    with pytest.raises(ValueError, match="unknown task kind `orpo`"):
        task_kind("orpo")
    with pytest.raises(ValueError, match="no trainer arguments for task kind `orpo`"):
        trainer_arguments("orpo", {"task": _TASK, "setup": _SETUP, "seed": 1}, Path("x"), False, False)


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


REWARD = """version: 1
name: scorer
data:
  train: {path: pref.jsonl, format: preference}
model:
  base: Qwen/Qwen2.5-0.5B-Instruct
task:
  kind: reward
hardware: cpu
"""
GRPO = """version: 1
name: policy
data:
  train: {path: prompts.jsonl, format: prompts}
model:
  base: Qwen/Qwen2.5-0.5B-Instruct
task:
  kind: grpo
  rewards:
    - {type: model, from: reward.yaml}
    - {type: match, column: answer, extract: 'Answer:\\s*(\\S+)'}
    - {type: function, function: my_rewards:brevity}
  generation: {per_prompt: 4, max_tokens: 64}
  batch_size: 8
hardware: cpu
"""


def _grpo_workspace(workspace, grpo: str = GRPO, reward: str = REWARD):
    from conftest import write

    (workspace / "prompts.jsonl").write_text(json.dumps({"prompt": "1+1?", "answer": "2"}) + "\n")
    (workspace / "my_rewards.py").write_text("def brevity(prompts, completions, **_):\n    return [0.0]\n")
    write(workspace, "reward.yaml", reward)
    return write(workspace, "grpo.yaml", grpo)


def test_a_reward_model_trains_a_scorer_and_is_evaluated_on_held_out_pairs(workspace):
    from conftest import write

    from modelops.plan.planner import plan_recipe

    steps = plan_recipe(write(workspace, "reward.yaml", REWARD)).recipes[-1].steps
    assert [s.kind for s in steps] == ["lm_data", "model_fetch", "train_reward", "reward_evaluate"]
    assert steps[2].outputs[0] == "model" and steps[3].outputs == ["metrics.json"]   # full training: no merge


def test_grpo_scores_with_the_reward_model_of_another_recipe_and_flags_its_code(workspace):
    from modelops.plan.planner import plan_recipe

    plan = plan_recipe(_grpo_workspace(workspace))
    assert [r.name for r in plan.recipes] == ["scorer", "policy"]                 # the reward recipe first
    train = next(s for s in plan.recipes[-1].steps if s.kind == "train_grpo")
    inputs = {i.name: i for i in train.inputs}
    assert inputs["reward-model-0"].step == "scorer/train" and inputs["reward-model-0"].output == "model"
    assert inputs["reward-module-my_rewards"].path.endswith("my_rewards.py")     # an edit retrains
    assert next(s for s in plan.recipes[-1].steps if s.kind == "lm_data").params["columns"] == ["answer"]
    [code] = [w for w in plan.warnings if "code that will run" in w.message]
    assert code.key == "task.rewards[2].function" and code.line == 12


@pytest.mark.parametrize("edit, key, message", [
    (("extract: 'Answer:\\s*(\\S+)'", "extract: 'Answer:(['"), "task.rewards[1].extract", "not a valid pattern"),
    (("batch_size: 8", "batch_size: 6"), "task.batch_size", "not whole groups of 4"),
    (("max_tokens: 64", "max_tokens: 4096"), "task.generation.max_tokens", "leave no room for the prompt"),
    (("from: reward.yaml", "from: other.yaml"), "task.rewards[0].from", "is a sft task, not a reward model"),
])
def test_grpo_mistakes_are_positioned_plan_errors(workspace, edit, key, message):
    from conftest import SFT, write

    from modelops.plan.planner import plan_recipe
    from modelops.problems import RecipeError

    write(workspace, "other.yaml", SFT.replace("name: demo", "name: other"))
    with pytest.raises(RecipeError) as caught:
        plan_recipe(_grpo_workspace(workspace, GRPO.replace(*edit)))
    [problem] = [p for p in caught.value.problems if p.severity == "error"]
    assert problem.key == key and message in problem.message


def test_a_reward_model_is_neither_a_base_nor_an_ollama_model(workspace):
    from conftest import SFT, write

    from modelops.plan.planner import plan_recipe
    from modelops.problems import RecipeError

    write(workspace, "reward.yaml", REWARD)
    based = SFT.replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: {from: reward.yaml}")
    with pytest.raises(RecipeError, match="it produces no language model"):
        plan_recipe(write(workspace, "sft.yaml", based))
    served = REWARD + "deploy: {target: ollama}\n"
    with pytest.raises(RecipeError, match="llama.cpp and Ollama cannot serve it"):
        plan_recipe(write(workspace, "served.yaml", served))


def test_grpo_counts_its_reward_model_in_the_memory_estimate(workspace):
    from modelops.plan.planner import plan_recipe

    with_scorer = plan_recipe(_grpo_workspace(workspace)).recipes[-1].training["memory_gib"]["weights"]
    alone = GRPO.replace("    - {type: model, from: reward.yaml}\n", "")
    without = plan_recipe(_grpo_workspace(workspace, alone)).recipes[-1].training["memory_gib"]["weights"]
    reward_model = plan_recipe(workspace / "reward.yaml").recipes[-1].model["params"]
    assert with_scorer - without == pytest.approx(reward_model * 4 / 2**30, abs=0.01)   # fp32 on CPU
