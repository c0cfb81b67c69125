"""One training runner for every language-model task kind (task_kinds.py): TRL's trainers configured from
the plan (batch split, precision, checkpointing, schedule), PEFT adapters, progress over the JSON-lines
channel, checkpoints that make an interrupted run resume, and the trained model or adapter saved as
safetensors with its tokenizer.
Runs under `accelerate launch`, so one process on CPU, DDP/FSDP/DeepSpeed on GPUs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.fsutil import write_atomically
from modelops.task_kinds import task_kind

if TYPE_CHECKING:                      # the runner (steps/train_*.py) hands its Spec in; lm/ does not import steps/
    from modelops.recipe.tasks import TrainingTask
    from modelops.step_kinds import Train
    from modelops.steps.runtime import Spec
    from modelops.tracking import Tracker


def _trl(name: str):
    """A TRL class by the name a task kind gives (task_kinds.py)."""
    import trl

    return getattr(trl, name)


def _trainer_config(kind: str, p: Train, out: Path, has_validation: bool, cuda: bool):
    from modelops.plan.launch import trainer_arguments

    return _trl(task_kind(kind).config)(**trainer_arguments(kind, p, out, has_validation, cuda))


def _peft_config(task: TrainingTask, scores: bool):
    adapter = task.adapter
    if adapter.type == "none":
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=adapter.r,
        lora_alpha=adapter.alpha,
        lora_dropout=adapter.dropout,
        target_modules=adapter.target_modules,
        use_dora=adapter.type == "dora",
        task_type="SEQ_CLS" if scores else "CAUSAL_LM",   # SEQ_CLS also trains and saves the new score head
    )


def _four_bit(task: TrainingTask, dtype):
    """QLoRA: the frozen base in NF4 with double quantisation, computing in the training precision (CUDA only;
    the planner refuses QLoRA elsewhere). The adapter is later merged into a 16-bit copy of the base."""
    if task.adapter.type != "qlora":
        return None
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise SystemExit("QLoRA needs bitsandbytes on a CUDA machine: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
    )


def _progress_callback(spec: Spec):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                numbers = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and k != "epoch"}
                spec.emit(type="progress", done=state.global_step, total=state.max_steps, **numbers)

    return Progress()


def _timed_saves(minutes: float):
    """A checkpoint once `minutes` of training passed since the last one, so that a long run never loses
    more than that whatever its step time. Rank 0's clock decides for every process (a save is collective)."""
    import time

    from accelerate.utils import broadcast_object_list
    from transformers import TrainerCallback

    class TimedSaves(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.last = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            due = [time.monotonic() - self.last >= minutes * 60]
            if broadcast_object_list(due, from_process=0)[0]:
                control.should_save = True

        def on_save(self, args, state, control, **kwargs):
            self.last = time.monotonic()

    return TimedSaves()


def _rng_neutral(evaluate):
    """`trainer.evaluate` that leaves the random state as it found it. An evaluation draws from torch's
    global generator (each DataLoader iterator takes a seed from it), so a checkpoint saved just before an
    epoch-end evaluation would resume with other dropout masks than the uninterrupted run."""
    import random

    import numpy as np
    import torch

    def wrapped(*args, **kwargs):
        states = random.getstate(), np.random.get_state(), torch.get_rng_state()
        devices = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        try:
            return evaluate(*args, **kwargs)
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
            if devices is not None:
                torch.cuda.set_rng_state_all(devices)

    return wrapped


def _complete(checkpoint: Path) -> bool:
    """A checkpoint a resume can load: the Trainer writes trainer_state.json after the weights, optimizer,
    scheduler and RNG states, so it must parse; and no file may be empty (a kill before data reached disk)."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = [p for p in checkpoint.rglob("*") if p.is_file()]
    return len(files) > 1 and all(p.stat().st_size > 0 for p in files)


def _resumable_checkpoint(folder: Path, main_process: bool) -> str | None:
    """The newest complete checkpoint; newer incomplete ones (a kill or Ctrl-C while one was written) are
    set aside as `incomplete-checkpoint-N` by the main process, so that neither the resume nor the Trainer's
    rotation picks them."""
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])) if folder.is_dir() else []
    while found and not _complete(found[-1]):
        broken = found.pop()
        if main_process:
            aside = broken.with_name(f"incomplete-{broken.name}")
            shutil.rmtree(aside, ignore_errors=True)
            broken.rename(aside)
            print(f"{broken.name} is incomplete (interrupted while it was written); set aside as {aside.name}")
    return str(found[-1]) if found else None


# reported before and after: loss, preference accuracy and margin (DPO, KTO; a reward model's), mean reward (GRPO)
COMPARED = ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_accuracy", "eval_margin",
            "eval_reward")


def _starting_point(trainer, out: Path) -> dict[str, float]:
    """The validation metrics of the model before training, measured once (a resumed run reads them back),
    so that the report can say whether the run made the model better on held-out data."""
    path = out / "starting_point.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass  # not measured yet (or cut short: measured again)
    metrics = trainer.evaluate()
    if trainer.is_world_process_zero():
        write_atomically(path, json.dumps(metrics))
    return metrics


def _model(kind: str, base: Path, p: Train, tokenizer, dtype):
    """The model to train: a causal LM, or for a reward model the base with a new one-score head."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    scores = task_kind(kind).scores
    model = (AutoModelForSequenceClassification if scores else AutoModelForCausalLM).from_pretrained(
        base,
        dtype=dtype,
        attn_implementation=p.setup.attn_implementation,
        trust_remote_code=p.model.trust_remote_code,
        quantization_config=_four_bit(p.task, dtype),
        **({"num_labels": 1} if scores else {}),
    )
    if scores:
        model.config.pad_token_id = tokenizer.pad_token_id   # the score is read at the last non-padding token
    return model


def _kind_inputs(kind: str, spec: Spec) -> dict[str, Any]:
    """What a kind's trainer takes beyond the shared arguments: GRPO's reward functions."""
    if kind != "grpo":
        return {}
    from modelops.lm.rewards import build

    return {"reward_funcs": build(spec.params.task.rewards, spec.inputs)}


def train(spec: Spec, kind: str) -> None:
    import torch
    from datasets import load_dataset
    from transformers import AutoTokenizer, EarlyStoppingCallback

    p = spec.params
    cuda = torch.cuda.is_available()
    base = spec.inputs["base"]
    tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=p.model.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(p.setup.precision, torch.float32)
    model = _model(kind, base, p, tokenizer, dtype)
    files = {"train": str(spec.inputs["train.jsonl"])}
    has_validation = spec.inputs["validation.jsonl"].stat().st_size > 0
    if has_validation:
        files["validation"] = str(spec.inputs["validation.jsonl"])
    data = load_dataset("json", data_files=files)
    config = _trainer_config(kind, p, spec.out, has_validation, cuda)
    callbacks = [_progress_callback(spec)]
    if p.task.save.every_minutes:
        callbacks.append(_timed_saves(p.task.save.every_minutes))
    if p.task.eval.early_stopping_patience and has_validation:
        callbacks.append(EarlyStoppingCallback(p.task.eval.early_stopping_patience))
    trainer_class = _trl(task_kind(kind).trainer)
    trainer = trainer_class(
        model=model,
        args=config,
        train_dataset=data["train"],
        eval_dataset=data["validation"] if has_validation else None,
        processing_class=tokenizer,
        peft_config=_peft_config(p.task, task_kind(kind).scores),
        callbacks=callbacks,
        **_kind_inputs(kind, spec),
    )
    trainer.evaluate = _rng_neutral(trainer.evaluate)
    tracker = _tracker(spec, trainer)
    resume = _resumable_checkpoint(spec.out / "checkpoints", trainer.is_world_process_zero())
    trainer.accelerator.wait_for_everyone()
    if resume and trainer.is_world_process_zero():
        print(f"resuming from {resume}")
    before = _starting_point(trainer, spec.out) if has_validation else {}
    result = trainer.train(resume_from_checkpoint=resume)
    evaluation = trainer.evaluate() if has_validation else {}
    if not task_kind(kind).answers:   # GRPO's loss is a policy-gradient surrogate, not a held-out loss
        before.pop("eval_loss", None)
        evaluation.pop("eval_loss", None)
    evaluation |= {f"{name}_before": value for name, value in before.items() if name in COMPARED}
    target = spec.out / ("model" if p.task.adapter.type == "none" else "adapter")
    if trainer.is_fsdp_enabled:  # checkpoints are sharded (fast to resume); the final model is saved whole
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(target))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(target)
        (target / "training_args.bin").unlink(missing_ok=True)  # a pickle; the arguments are in step.json
        _write_metrics(spec, trainer, result.metrics, evaluation, resume, tracker)
    _finish(trainer)


def _tracker(spec: Spec, trainer) -> Tracker | None:
    """The main process's tracker (TensorBoard, MLflow), fed every logged value as training goes."""
    if not trainer.is_world_process_zero():
        return None
    from transformers import TrainerCallback

    from modelops.tracking import Tracker

    tracker = Tracker(spec.tracking, spec.out)
    p = spec.params
    tracker.params({"task": p.task.model_dump(mode="json"), "setup": p.setup.model_dump(exclude={"reasons"}),
                    "seed": p.seed, "base": spec.inputs["base"].name})

    class Track(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                tracker.metrics({k: v for k, v in logs.items() if k != "epoch"}, state.global_step)

    trainer.add_callback(Track())
    return tracker


def _write_metrics(spec: Spec, trainer, train_metrics: dict, evaluation: dict, resumed: str | None,
                   tracker: Tracker | None) -> None:
    import math

    history = trainer.state.log_history
    losses = [(h["step"], h["loss"]) for h in history if "loss" in h]
    # the mean over every step's logged loss: the Trainer's own `train_loss` covers only a resumed session's steps
    mean = sum(loss for _, loss in losses) / len(losses) if losses else train_metrics.get("train_loss")
    metrics = {
        "train_loss": mean,
        "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None,
        "steps": trainer.state.global_step,
        "samples_per_second": train_metrics.get("train_samples_per_second"),
        "processes": trainer.accelerator.num_processes,
        "resumed_from": Path(resumed).name if resumed else None,
    } | _measured(trainer, train_metrics, resumed)
    if "eval_loss" in evaluation:
        metrics |= {"eval_loss": evaluation["eval_loss"], "eval_perplexity": math.exp(min(evaluation["eval_loss"], 50))}
    metrics |= {k: v for k, v in evaluation.items() if k in COMPARED[1:] or k.startswith("eval_rewards")
                or k.endswith("_before")}
    rewards = [(h["step"], h["reward"]) for h in history if "reward" in h]
    if rewards:   # GRPO: the mean reward of the first and last steps' completions
        metrics |= {"first_reward": rewards[0][1], "last_reward": rewards[-1][1]}
    _loss_plot(history, spec.out / "plots" / "loss.png")
    if tracker is not None:
        tracker.metrics({f"final/{k}": v for k, v in metrics.items()}, metrics["steps"])
        tracker.artifacts(spec.out / "plots")
        if tracker.warnings:
            metrics["tracking_warning"] = "; ".join(tracker.warnings)
    spec.write_json("metrics.json", metrics)
    spec.write_json("log_history.json", history)
    if tracker is not None:
        tracker.artifacts(spec.out / "metrics.json")
        tracker.close()
    print(
        "loss "
        + " → ".join(f"{v:.3f}" for v in (metrics["first_loss"], metrics["last_loss"]) if v is not None)
        + (
            f"; eval loss {metrics['eval_loss']:.3f}, perplexity {metrics['eval_perplexity']:.1f}"
            if "eval_loss" in metrics
            else ""
        )
    )


def _measured(trainer, train_metrics: dict, resumed: str | None) -> dict[str, float]:
    """What the plan estimated, as it happened on this machine: seconds per optimizer step of this session
    (evaluations during training included) and the peak memory of the main process — allocated on its GPU,
    or its resident memory on CPU (the interpreter and libraries included)."""
    import resource

    import torch

    steps = trainer.state.global_step - (int(Path(resumed).name.split("-")[-1]) if resumed else 0)
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024          # Linux reports KiB
    measured = {"peak_memory_gib": round(peak / 2**30, 3)}
    if steps > 0 and train_metrics.get("train_runtime"):
        measured["seconds_per_step"] = round(train_metrics["train_runtime"] / steps, 4)
    return measured


def _loss_plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for key, label in (("loss", "training loss"), ("eval_loss", "validation loss")):
        points = [(h["step"], h[key]) for h in history if key in h]
        if points:
            axis.plot(*zip(*points, strict=True), "o-" if key == "eval_loss" else "-", label=label)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss")
    rewards = [(h["step"], h["reward"]) for h in history if "reward" in h and "eval_reward" not in h]
    if rewards:   # GRPO: mean reward of each step's completions, on its own scale
        right = axis.twinx()
        right.plot(*zip(*rewards, strict=True), "-", color="tab:green", label="mean reward")
        right.set_ylabel("mean reward")
        right.legend(loc="upper right")
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _finish(trainer) -> None:
    """Leave a multi-process run cleanly: gloo workers can abort at interpreter exit otherwise."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        trainer.accelerator.wait_for_everyone()
        dist.destroy_process_group()
        os._exit(0)
