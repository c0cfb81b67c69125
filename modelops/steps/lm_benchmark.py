"""Step `lm_benchmark`: EleutherAI's lm-evaluation-harness on the trained model (an adapter on its base, or
a full model) and, with `base`, on the model training started from, on the recipe's harness tasks and task
folders (each scored with the folder as working directory, so its YAML finds its local data files).
metrics.json holds `<task>.<metric>` and `<task>.<metric>_base`; results.json the harness's own results."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from modelops.steps.runtime import Spec, main

BATCH = 8


def _model(pretrained: Path, adapter: Path | None):
    """The harness's Hugging Face model (float32 on a CPU, the checkpoint's dtype on a GPU)."""
    import torch
    from lm_eval.models.huggingface import HFLM

    cuda = torch.cuda.is_available()
    return HFLM(pretrained=str(pretrained), peft=str(adapter) if adapter else None, batch_size=BATCH,
                device="cuda" if cuda else "cpu", dtype="auto" if cuda else "float32")


@contextlib.contextmanager
def _working_directory(folder: Path | None):
    before = Path.cwd()
    if folder is not None:
        os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def score(model, named: list[str], folders: dict[str, Path], p) -> dict[str, dict[str, Any]]:
    """The harness's results per task: the recipe's named tasks, then each folder's own tasks."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    results: dict[str, dict[str, Any]] = {}
    runs = [(None, named, TaskManager())] if named else []
    for folder in folders.values():
        manager = TaskManager(include_path=str(folder), include_defaults=False)
        runs.append((folder, sorted(manager.all_tasks), manager))
    for folder, tasks, manager in runs:
        if not tasks:
            raise SystemExit(f"task folder {folder.name} defines no task (a YAML file with `task: NAME`)")
        with _working_directory(folder):
            output = lm_eval.simple_evaluate(model=model, tasks=tasks, task_manager=manager, num_fewshot=p.num_fewshot,
                                             limit=p.limit, apply_chat_template=p.chat_template, log_samples=False,
                                             bootstrap_iters=0, random_seed=p.seed, numpy_random_seed=p.seed,
                                             torch_random_seed=p.seed, fewshot_random_seed=p.seed)
        results |= output["results"]
    return results


def task_folders(inputs: dict[str, Path]) -> dict[str, Path]:
    """The user's task folders among a step's inputs (`tasks/<name>`)."""
    return {name.removeprefix("tasks/"): Path(path) for name, path in inputs.items() if name.startswith("tasks/")}


def numbers(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """`acc,none` → `acc`: each task's numeric metrics, without the harness's filter suffix, stderr and
    sample count."""
    return {task: {name.split(",")[0]: value for name, value in metrics.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and "_stderr" not in name
                   and name != "sample_len"}
            for task, metrics in results.items()}


def run(spec: Spec) -> None:
    p = spec.params
    folders = task_folders(spec.inputs)
    base = spec.inputs["base"]
    adapter = spec.inputs.get("adapter")
    trained = score(_model(base if adapter else spec.inputs["model"], adapter), p.tasks, folders, p)
    metrics = numbers(trained)
    raw = {"trained": trained}
    if p.base:
        raw["base"] = score(_model(base, None), p.tasks, folders, p)
        for task, values in numbers(raw["base"]).items():
            metrics.setdefault(task, {}).update({f"{name}_base": value for name, value in values.items()})
    spec.write_json("results.json", raw)
    spec.write_json("metrics.json", metrics)
    for task, values in metrics.items():
        print(f"{task}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))


if __name__ == "__main__":
    main(run)
