"""How a training step is launched, all from the planner's training setup in one place: the rendered
accelerate (and DeepSpeed) configs, the commands, and the arguments of TRL's trainer config. They must agree:
with FSDP, activation checkpointing is FSDP's (transformers' Trainer refuses it twice); checkpoints are
sharded for a quick resume, the final model is saved whole (see `lm/train.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from modelops.plan.hardware import ResolvedHardware
from modelops.plan.training import TrainingSetup
from modelops.recipe.tasks import TrainingTask
from modelops.step_kinds import Train
from modelops.task_kinds import task_kind
from modelops.templates import render

_DISTRIBUTED_TYPE = {"single": "NO", "ddp": "MULTI_GPU", "fsdp": "FSDP",
                     "deepspeed_zero2": "DEEPSPEED", "deepspeed_zero3": "DEEPSPEED"}
MAIN_IP_PLACEHOLDER = "MAIN_NODE_IP"


def launch_files(step_id: str, directory: str, setup: TrainingSetup, hw: ResolvedHardware) -> dict[str, str]:
    """Config files the launch needs, by name inside the step directory.

    On CPU, several processes use accelerate's MULTI_GPU type with `use_cpu`: that starts
    gloo workers, whereas MULTI_CPU expects an MPI launcher."""
    zero_stage = {"deepspeed_zero2": 2, "deepspeed_zero3": 3}.get(setup.distributed, 0)
    files = {}
    if zero_stage:
        files["deepspeed.json"] = render(
            "deepspeed/zero.json.j2", zero_stage=zero_stage, precision=setup.precision,
            gradient_accumulation=setup.gradient_accumulation, per_device_batch=setup.per_device_batch)
    files["accelerate.yaml"] = render(
        "accelerate/config.yaml.j2", step_id=step_id, distributed_type=_DISTRIBUTED_TYPE[setup.distributed],
        mixed_precision="no" if setup.precision == "fp32" else setup.precision,
        num_machines=hw.nodes, num_processes=setup.devices, use_cpu=not hw.cuda,
        main_process_ip=hw.main_process_ip or MAIN_IP_PLACEHOLDER, main_process_port=hw.main_process_port,
        fsdp_activation_checkpointing=setup.gradient_checkpointing, zero_stage=zero_stage,
        deepspeed_config_file=f"{directory}/deepspeed.json")
    return files


def launch_commands(directory: str, module: str, hw: ResolvedHardware) -> tuple[list[str], list[list[str]]]:
    """The command (node 0) and, for multi-node runs, the command for every node."""
    base = ["accelerate", "launch", "--config_file", f"{directory}/accelerate.yaml"]
    tail = ["-m", module, f"{directory}/step.json"]
    if hw.nodes == 1:
        return base + tail, []
    nodes = [base + ["--machine_rank", str(rank)] + tail for rank in range(hw.nodes)]
    return nodes[0], nodes


def trainer_arguments(kind: str, p: Train, out: Path, has_validation: bool, cuda: bool) -> dict[str, Any]:
    """Keyword arguments of the task kind's TRL config (`SFTConfig`, `DPOConfig`, …) for a training step's params."""
    if kind not in KIND_ARGUMENTS:
        raise ValueError(f"no trainer arguments for task kind `{kind}`")
    task, setup = p.task, p.setup
    arguments: dict[str, Any] = dict(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=setup.per_device_batch,
        per_device_eval_batch_size=setup.per_device_batch,
        gradient_accumulation_steps=setup.gradient_accumulation,
        learning_rate=task.learning_rate,
        lr_scheduler_type=task.scheduler,
        warmup_steps=task.warmup_ratio,
        weight_decay=task.weight_decay,
        num_train_epochs=task.epochs,
        max_steps=task.max_steps or -1,
        bf16=setup.precision == "bf16",
        fp16=setup.precision == "fp16",
        use_cpu=not cuda,
        activation_checkpointing=setup.gradient_checkpointing and setup.distributed != "fsdp",
        save_strategy="steps" if task.save.every_steps else "no",
        save_steps=task.save.every_steps,
        save_total_limit=task.save.keep,  # save.every_minutes: lm/train.py's timed saves
        logging_steps=1,
        report_to="none",
        seed=p.seed,
        data_seed=p.seed,
        max_length=task.max_length,
        eval_strategy=("steps" if task.eval.every_steps else "epoch") if has_validation else "no",
        eval_steps=task.eval.every_steps,
        disable_tqdm=True,
        use_liger_kernel=task.liger_kernels,
    )
    if task.eval.early_stopping_patience and has_validation:
        every = task.eval.every_steps or task.save.every_steps
        arguments |= dict(
            load_best_model_at_end=True,
            metric_for_best_model="eval_loss",
            greater_is_better=False,
            save_strategy="steps" if every else "epoch",
            save_steps=every,
        )
    arguments |= KIND_ARGUMENTS[kind](task)
    return {k: v for k, v in arguments.items() if k not in NOT_TAKEN.get(kind, ())}


def _packing(task: TrainingTask) -> bool:
    return task.packing if task.packing is not None else task_kind(task.kind).packing


KIND_ARGUMENTS: dict[str, Callable[[Any], dict[str, Any]]] = {   # what each kind's TRL config adds
    "pretrain": lambda task: {"packing": _packing(task), "dataset_text_field": "text",
                              "packing_strategy": "wrapped" if _packing(task) else "bfd"},
    "sft": lambda task: {"packing": _packing(task), "assistant_only_loss": task.assistant_only_loss},
    "dpo": lambda task: {"beta": task.beta, "loss_type": [task.loss_type]},
    "kto": lambda task: {"beta": task.beta, "loss_type": task.loss_type, "desirable_weight": task.desirable_weight,
                         "undesirable_weight": task.undesirable_weight},
    "reward": lambda task: {"center_rewards_coefficient": task.center_rewards},
    "grpo": lambda task: {
        "num_generations": task.generation.per_prompt,
        "max_completion_length": task.generation.max_tokens,
        "temperature": task.generation.temperature,
        "top_p": task.generation.top_p,
        "per_device_eval_batch_size": task.generation.per_prompt,  # one prompt's group per device and batch
        "beta": task.beta,
        "loss_type": task.loss_type,
        "reward_weights": [reward.weight for reward in task.rewards],
    },
}
NOT_TAKEN = {"grpo": ("max_length",)}   # arguments a kind's config has no field for
