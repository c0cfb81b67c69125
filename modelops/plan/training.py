"""Choose how a language-model training run uses its hardware: precision, strategy, batch split."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modelops.machine import usable_memory_gib
from modelops.plan.hardware import ResolvedHardware
from modelops.plan.memory import GIB, MemoryEstimate, MemoryInputs, estimate_memory
from modelops.plan.shapes import ModelShape
from modelops.recipe.tasks import GrpoTask, TrainingTask
from modelops.task_kinds import task_kind

TIGHT_FRACTION = 0.9     # warn above this share of device memory
MAX_MICRO_BATCH = 32
ASSUMED_MFU = 0.35       # model-FLOPs utilisation assumed for time estimates
STEP_OVERHEAD_S = 0.03   # per optimizer step beyond the FLOPs (tiny-zh chain on 2 CPU cores: 0.03-0.05 s)
STARTUP_S = 9.0          # launcher, imports, evaluation before training (tiny-zh chain: 8-9 s)
READ_GB_PER_S = 1.0      # reading 16-bit weights from local disk


class SetupError(ValueError):
    """A training setup that cannot work; `key` is the recipe key to point at."""

    def __init__(self, key: tuple, message: str, hint: str = ""):
        super().__init__(message)
        self.key, self.hint = key, hint


@dataclass
class TrainingSetup:
    precision: str
    distributed: str
    devices: int
    per_device_batch: int
    gradient_accumulation: int
    global_batch: int
    gradient_checkpointing: bool
    attn_implementation: str
    memory: MemoryEstimate | None
    capacity_gb: float
    trainable_params: int | None
    total_params: int | None
    reasons: list[str] = field(default_factory=list)
    warnings: list[tuple[tuple, str, str]] = field(default_factory=list)
    errors: list[tuple[tuple, str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "precision": self.precision, "distributed": self.distributed, "devices": self.devices,
            "per_device_batch": self.per_device_batch, "gradient_accumulation": self.gradient_accumulation,
            "global_batch": self.global_batch, "gradient_checkpointing": self.gradient_checkpointing,
            "attn_implementation": self.attn_implementation, "reasons": self.reasons,
            "trainable_params": self.trainable_params, "total_params": self.total_params,
            "memory_capacity_gib": self.capacity_gb,
        }
        if self.memory is not None:
            out["memory_gib"] = self.memory.as_gib()
        return out


def choose_setup(task: TrainingTask, hw: ResolvedHardware, shape: ModelShape | None,
                 attn_request: str, scorer_params: int = 0) -> TrainingSetup:
    """`scorer_params`: parameters of the models held beside the one trained only to score it (GRPO's reward
    models), which take memory on every device."""
    reasons: list[str] = []
    precision = _precision(task, hw, reasons)
    _check_adapter(task, hw)
    devices = hw.devices
    if task.batch_size % devices:
        lower = task.batch_size - task.batch_size % devices
        raise SetupError(
            ("task", "batch_size"),
            f"global batch {task.batch_size} does not divide over {devices} devices",
            f"use a multiple of {devices}, e.g. {max(lower, devices)} or {lower + devices}",
        )
    per_replica = task.batch_size // devices
    attn = _attention(attn_request, hw)
    candidates = _strategies(task, hw, reasons)

    trainable = total = None
    if shape is not None:
        total = shape.params
        adapter = task.adapter
        trainable = total if adapter.type == "none" else shape.lora_params(adapter.r, adapter.target_modules)

    def estimate(strategy: str, micro: int, checkpointing: bool) -> MemoryEstimate | None:
        return _estimate(task, hw, shape, trainable, precision, micro, checkpointing, strategy, attn, scorer_params)

    strategy, micro, checkpointing, memory = _first_fit(
        candidates,
        _checkpointing_options(task),
        _micro_batches(task, per_replica),
        estimate,
        hw.memory_gb * GIB * TIGHT_FRACTION,
    )
    _explain(task, strategy, micro, checkpointing, memory, reasons)
    setup = TrainingSetup(
        precision=precision,
        distributed=strategy,
        devices=devices,
        per_device_batch=micro,
        gradient_accumulation=per_replica // micro,
        global_batch=task.batch_size,
        gradient_checkpointing=checkpointing,
        attn_implementation=attn,
        memory=memory,
        capacity_gb=hw.memory_gb,
        trainable_params=trainable,
        total_params=total,
        reasons=reasons,
    )
    _fit_warnings(setup, task, hw)
    return setup


def _precision(task: TrainingTask, hw: ResolvedHardware, reasons: list[str]) -> str:
    if task.precision == "auto":
        chosen = "bf16" if hw.bf16 else ("fp16" if hw.fp16 else "fp32")
        why = {
            "bf16": f"{hw.gpu} supports bf16",
            "fp16": f"{hw.gpu} has no bf16; fp16 with loss scaling",
            "fp32": "CPU training runs in fp32",
        }[chosen]
        reasons.append(f"precision {chosen}: {why}")
        return chosen
    if task.precision == "bf16" and hw.cuda and not hw.bf16:
        raise SetupError(
            ("task", "precision"), f"{hw.label} does not support bf16", "use `precision: fp16` (or `auto`) on this GPU"
        )
    if task.precision == "fp16" and not hw.cuda:
        raise SetupError(
            ("task", "precision"), "fp16 training needs a CUDA GPU", "use `precision: fp32` or `auto` on CPU"
        )
    reasons.append(f"precision {task.precision}: pinned by the recipe")
    return task.precision


def _check_adapter(task: TrainingTask, hw: ResolvedHardware) -> None:
    if task.adapter.type == "qlora" and not hw.cuda:
        raise SetupError(
            ("task", "adapter", "type"),
            "QLoRA needs a CUDA GPU (bitsandbytes 4-bit kernels)",
            "use `type: lora` on CPU, or a GPU profile such as `a10x1`",
        )
    if task.liger_kernels and not hw.cuda:
        raise SetupError(
            ("task", "liger_kernels"), "Liger kernels need a CUDA GPU", "set `liger_kernels: false` on CPU"
        )


def _attention(request: str, hw: ResolvedHardware) -> str:
    if request == "flash_attention_2" and not hw.cuda:
        raise SetupError(
            ("model", "attn_implementation"), "flash_attention_2 needs a CUDA GPU", "use `sdpa` (or `auto`)"
        )
    return "sdpa" if request == "auto" else request


def _strategies(task: TrainingTask, hw: ResolvedHardware, reasons: list[str]) -> list[str]:
    devices = hw.devices
    pinned = task.distributed
    if pinned == "auto":
        if devices == 1:
            return ["single"]
        return ["ddp", "fsdp"] if hw.cuda else ["ddp"]
    if pinned == "single" and devices > 1:
        raise SetupError(
            ("task", "distributed"),
            f"`single` cannot use {devices} devices",
            "use `ddp`, `fsdp` or `auto`, or one device",
        )
    if pinned != "single" and devices == 1:
        raise SetupError(("task", "distributed"), f"`{pinned}` needs more than one device", "use `single` or `auto`")
    if pinned in ("fsdp", "deepspeed_zero2", "deepspeed_zero3") and not hw.cuda:
        raise SetupError(("task", "distributed"), f"`{pinned}` needs CUDA GPUs", "use `ddp` for several CPU processes")
    if task.adapter.type == "qlora" and pinned == "deepspeed_zero3":
        raise SetupError(
            ("task", "distributed"),
            "QLoRA cannot shard 4-bit weights with ZeRO-3 here",
            "use `fsdp` or `ddp` with QLoRA",
        )
    reasons.append(f"strategy {pinned}: pinned by the recipe")
    return [pinned]


def _first_fit(strategies: list[str], checkpointing: list[bool], micros: list[int], estimate, budget: float):
    """The first (strategy, micro-batch, checkpointing) in preference order that fits the budget.

    Preference: no sharding over sharding, no recomputation over recomputation, larger
    micro-batches over smaller. When nothing fits, the smallest footprint is returned."""
    smallest = None
    for strategy in strategies:
        for ckpt in checkpointing:
            for micro in micros:
                memory = estimate(strategy, micro, ckpt)
                if memory is None or memory.total <= budget:
                    return strategy, micro, ckpt, memory
                if smallest is None or memory.total < smallest[3].total:
                    smallest = (strategy, micro, ckpt, memory)
    return smallest


def _checkpointing_options(task: TrainingTask) -> list[bool]:
    if task.gradient_checkpointing is not None:
        return [task.gradient_checkpointing]
    return [False, True]


def _micro_batches(task: TrainingTask, per_replica: int) -> list[int]:
    """Per-device batches to try, largest first: divisors of the per-replica batch."""
    if task.per_device_batch_size is not None:
        return [task.per_device_batch_size]
    if task.gradient_accumulation is not None:
        return [max(1, per_replica // task.gradient_accumulation)]
    return [d for d in range(min(per_replica, MAX_MICRO_BATCH), 0, -1) if per_replica % d == 0]


def _estimate(
    task: TrainingTask,
    hw: ResolvedHardware,
    shape: ModelShape | None,
    trainable: int | None,
    precision: str,
    micro: int,
    checkpointing: bool,
    strategy: str,
    attn: str,
    scorer_params: int,
) -> MemoryEstimate | None:
    if shape is None or trainable is None:
        return None
    shard = {"fsdp": "full", "deepspeed_zero3": "full", "deepspeed_zero2": "zero2"}.get(strategy, "none")
    kind = task_kind(task.kind)
    return estimate_memory(
        MemoryInputs(
            shape=shape,
            adapter=task.adapter.type,
            trainable=trainable,
            half_precision=precision != "fp32",
            micro_batch=micro,
            seq_len=task.max_length,
            checkpointing=checkpointing,
            shard=shard,
            devices=hw.devices,
            efficient_attention=attn != "eager",
            cuda=hw.cuda,
            sequences_per_example=kind.sequences_per_example,
            reference_copy=kind.reference_model and task.adapter.type == "none" and getattr(task, "beta", 0) > 0,
            scorer_params=scorer_params,
        )
    )


def _explain(
    task: TrainingTask,
    strategy: str,
    micro: int,
    checkpointing: bool,
    estimate: MemoryEstimate | None,
    reasons: list[str],
) -> None:
    if task.distributed == "auto":
        why = {
            "single": "one device",
            "ddp": "a full replica fits each device",
            "fsdp": "a replica does not fit one device; parameters, gradients and optimizer state are sharded",
        }
        reasons.append(f"strategy {strategy}: {why.get(strategy, 'chosen')}")
    if task.gradient_checkpointing is None:
        reasons.append(
            "gradient checkpointing on: needed to fit memory"
            if checkpointing
            else "gradient checkpointing off: activations fit without it"
        )
    if task.per_device_batch_size is None and task.gradient_accumulation is None:
        reasons.append(
            f"per-device batch {micro}: the largest divisor of the per-device share that fits"
            if estimate is not None
            else f"per-device batch {micro}: no memory estimate, kept the full share"
        )


def _too_big_hint(setup: TrainingSetup, task: TrainingTask, hw: ResolvedHardware) -> str:
    """Only what this hardware can do: QLoRA and sharding need CUDA, sharding needs several devices."""
    options = []
    if task.adapter.type == "none":
        options.append("an adapter (`lora`" + ("/`qlora`)" if hw.cuda else ")"))
    elif task.adapter.type in ("lora", "dora") and hw.cuda:
        options.append("`qlora`")
    options.append("a shorter `max_length`")
    if hw.cuda and setup.devices > 1 and setup.distributed not in ("fsdp", "deepspeed_zero3"):
        options.append("`distributed: fsdp`")
    if hw.cuda:
        options.append("more or larger GPUs")
    else:
        ram = usable_memory_gib()
        more = (
            f"`hardware: {{gpu: cpu, memory_gb: {ram:.0f}}}` (this machine's RAM)"
            if ram and ram > setup.capacity_gb
            else "`hardware: {gpu: cpu, memory_gb: N}` on a machine with more RAM"
        )
        options.append(f"a GPU profile, or {more}")
    return "use " + ", ".join(options[:-1]) + f" or {options[-1]}"


def _fit_warnings(setup: TrainingSetup, task: TrainingTask, hw: ResolvedHardware) -> None:
    if setup.memory is None:
        return
    need, have = setup.memory.total / GIB, setup.capacity_gb
    if need > have:
        setup.errors.append(
            (
                ("hardware",),
                f"estimated peak memory {need:.1f} GiB per device exceeds {have:g} GiB",
                _too_big_hint(setup, task, hw),
            )
        )
    elif not hw.cuda and (ram := usable_memory_gib()) and need > ram:
        setup.warnings.append(
            (
                ("hardware",),
                f"estimated peak memory {need:.1f} GiB is more than this machine's {ram:.1f} GiB of RAM",
                "run it on a machine with more memory, or lower the batch, `max_length` or the model size",
            )
        )
    elif need > have * TIGHT_FRACTION:
        setup.warnings.append(
            (
                ("hardware",),
                f"estimated peak memory {need:.1f} GiB is over {TIGHT_FRACTION:.0%} of {have:g} GiB",
                "the run may hit out-of-memory; consider gradient checkpointing or a smaller per-device batch",
            )
        )


def estimate_step_seconds(setup: TrainingSetup, hw: ResolvedHardware, seq_len: int) -> float | None:
    """Seconds per optimizer step: 6·N FLOPs per token (8·N with recomputation) at an assumed MFU, plus the
    per-step work that does not scale with the model (optimizer call, data loading, logging), which is
    what small models on CPU spend their time on."""
    if setup.total_params is None:
        return None
    flops_per_token = (8 if setup.gradient_checkpointing else 6) * setup.total_params
    tokens = setup.global_batch * seq_len
    return flops_per_token * tokens / (hw.tflops * 1e12 * ASSUMED_MFU * setup.devices) + STEP_OVERHEAD_S


def estimate_run(
    task: TrainingTask, setup: TrainingSetup, step_seconds: float | None, train_rows: int | None
) -> dict[str, Any]:
    """Optimizer steps (`max_steps`, or epochs × rows ÷ global batch — packing can only lower that) and the
    wall time: start-up (launcher, imports, reading the weights, the evaluation before training) + steps."""
    if task.max_steps:
        steps, basis = task.max_steps, "max_steps"
    elif train_rows:
        per_row = task.generation.per_prompt if isinstance(task, GrpoTask) else 1   # GRPO's batch counts completions
        steps = math.ceil(task.epochs * train_rows * per_row / setup.global_batch)
        packing = task.packing if task.packing is not None else task_kind(task.kind).packing
        completions = f" × {per_row} completions" if per_row > 1 else ""
        basis = (f"{task.epochs:g} epoch(s) × {train_rows:,} rows{completions} ÷ batch {setup.global_batch}"
                 + (" (packing may need fewer)" if packing else ""))
    else:
        return {}
    estimate: dict[str, Any] = {"steps_estimate": steps, "steps_basis": basis}
    if step_seconds is not None:
        weights_gb = (setup.total_params or 0) * 2 / 1e9
        startup = STARTUP_S + weights_gb / READ_GB_PER_S
        estimate["wall_seconds_estimate"] = round(startup + steps * step_seconds, 1)
    return estimate
