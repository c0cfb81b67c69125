"""Every launch the planner can choose is one the libraries accept: for each hardware profile, strategy and
node count, the rendered accelerate config loads through accelerate's own loader, and TRL's config objects
are constructed from the trainer arguments (constructing them validates them) — without launching."""

from __future__ import annotations

import itertools
import textwrap

import yaml
from conftest import ROOT, write

from modelops.catalog import hardware_catalog
from modelops.plan.launch import trainer_arguments
from modelops.plan.planner import plan_recipe
from modelops.problems import RecipeError

GPUS = [name for name, info in hardware_catalog().items() if not name.startswith("_") and info["cuda"]]
STRATEGIES = ["single", "ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"]


def _recipe(gpu: str, strategy: str, nodes: int, kind: str) -> str:
    gpus = 1 if strategy == "single" else 2
    data = "{path: sft.jsonl, format: messages}" if kind == "sft" else "{path: pref.jsonl, format: preference}"
    return textwrap.dedent(f"""
        version: 1
        name: launch-{gpu}-{strategy}-{nodes}-{kind}
        data:
          train: {data}
        model:
          base: Qwen/Qwen2.5-0.5B-Instruct
        task:
          kind: {kind}
          adapter: {{type: none}}
          batch_size: 16
          gradient_checkpointing: true
          distributed: {strategy}
        hardware: {{gpu: {gpu}, gpus: {gpus}, nodes: {nodes}, main_process_ip: 10.0.0.1}}
    """).lstrip()


def _plans(folder):
    for gpu, strategy, nodes, kind in itertools.product(GPUS, STRATEGIES, (1, 2), ("sft", "dpo")):
        if strategy == "single" and nodes > 1:
            continue
        path = write(folder, f"{gpu}-{strategy}-{nodes}-{kind}.yaml", _recipe(gpu, strategy, nodes, kind))
        try:
            yield kind, plan_recipe(path)
        except RecipeError:
            continue                      # a setup the planner refuses (does not fit, no bf16, ...) is never launched


def test_every_rendered_launch_is_accepted_by_accelerate_and_trl(workspace, monkeypatch):
    import transformers.training_args as training_args
    from accelerate.commands.config.config_args import load_config_from_file
    from trl import DPOConfig, SFTConfig

    monkeypatch.setattr(training_args, "is_torch_bf16_gpu_available", lambda *a, **k: True, raising=False)
    seen = set()
    for kind, plan in _plans(workspace):
        [train] = [s for s in plan.steps if s.kind.startswith("train_")]
        folder = workspace / train.short_id
        folder.mkdir(exist_ok=True)
        for name, text in train.files.items():
            (folder / name).write_text(text)
        config = load_config_from_file(str(folder / "accelerate.yaml"))
        rendered = yaml.safe_load(train.files["accelerate.yaml"])
        setup = train.params["setup"]
        arguments = trainer_arguments(kind, train.typed_params(), folder, has_validation=True, cuda=True)
        (DPOConfig if kind == "dpo" else SFTConfig)(**{**arguments, "bf16": False, "fp16": False, "use_cpu": True})
        if config.distributed_type == "FSDP":
            fsdp = rendered["fsdp_config"]
            # transformers' Trainer refuses FSDP activation checkpointing together with gradient_checkpointing
            assert not (fsdp["fsdp_activation_checkpointing"] and arguments["activation_checkpointing"]), train.id
            assert fsdp["fsdp_activation_checkpointing"] == setup["gradient_checkpointing"]
        else:
            assert arguments["activation_checkpointing"] == setup["gradient_checkpointing"]
        if config.distributed_type == "DEEPSPEED":
            assert (folder / "deepspeed.json").is_file()
            assert config.deepspeed_config["deepspeed_config_file"].endswith("deepspeed.json")
        assert config.num_machines == plan.recipes[-1].hardware["nodes"]
        seen.add((config.distributed_type, config.num_machines))
    assert {("NO", 1), ("MULTI_GPU", 2), ("FSDP", 2), ("DEEPSPEED", 2)} <= seen, seen


def test_the_shipped_multi_node_example_plans_a_launch_transformers_accepts():
    plan = plan_recipe(ROOT / "examples" / "scale" / "sft-2-nodes.yaml")
    [train] = [s for s in plan.steps if s.kind.startswith("train_")]
    rendered = yaml.safe_load(train.files["accelerate.yaml"])
    arguments = trainer_arguments("sft", train.typed_params(), ROOT, True, True)
    if rendered["distributed_type"] == "FSDP":
        assert not (rendered["fsdp_config"]["fsdp_activation_checkpointing"] and arguments["activation_checkpointing"])
    assert rendered["num_machines"] == 2 and len(train.node_commands) == 2
