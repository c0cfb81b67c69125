"""The difference between two plans of a recipe (another git revision, or a saved plan.json): steps added,
removed and changed with the reasons, and how the cost estimates moved — what a reviewer reads in a PR."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from modelops.escape import md_code, md_text, one_line
from modelops.plan.diffs import param_diffs

COSTS = {"memory_gib": "peak memory per device (GiB)", "seconds_per_step_estimate": "seconds per step (estimate)",
         "steps_estimate": "optimizer steps (estimate)", "wall_seconds_estimate": "wall time in seconds (estimate)",
         "trainable_params": "trainable parameters", "global_batch": "global batch", "devices": "devices"}


@dataclass
class StepDiff:
    id: str
    status: str                                   # added | removed | changed
    reasons: list[str] = field(default_factory=list)


@dataclass
class PlanDiff:
    against: str
    steps: list[StepDiff]
    costs: list[str]

    @property
    def empty(self) -> bool:
        return not self.steps and not self.costs


def _steps(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for recipe in plan["recipes"] for step in recipe["steps"]}


SETUP_SHOWN = ("devices", "distributed", "precision", "per_device_batch", "gradient_accumulation",
               "gradient_checkpointing", "attn_implementation")   # the training setup a reviewer decides on


def _reasons(old: dict[str, Any], new: dict[str, Any], moved: set[str]) -> list[str]:
    """Why a step changed: its parameters (the planner's training setup on one line, without its internal
    estimates and reasons), then its inputs."""
    diffs = param_diffs(old["params"], new["params"])
    reasons = [f"{key}: {_human(a)} → {_human(b)}" for key, a, b in diffs if not key.startswith("setup.")]
    setup = [f"{key.removeprefix('setup.')} {_human(a)} → {_human(b)}" for key, a, b in diffs
             if key.removeprefix("setup.") in SETUP_SHOWN]
    if setup:
        reasons.append("training setup: " + ", ".join(setup))
    inputs_before = {i["name"]: i for i in old["inputs"]}
    for item in new["inputs"]:
        was = inputs_before.get(item["name"])
        if was is None:
            reasons.append(f"new input {item['name']}")
        elif item["path"] and was["digest"] != item["digest"]:
            reasons.append(f"input {item['name']} ({item['path']}) changed")
        elif item["step"] and was.get("step") != item["step"]:
            reasons.append(f"input {item['name']} now from {item['step']}")
        elif item["step"] in moved:
            reasons.append(f"upstream {item['step']} changed")
    return list(dict.fromkeys(reasons)) or ["its command or layout changed"]


def _costs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    before = {r["name"]: r for r in old["recipes"]}
    for recipe in new["recipes"]:
        was = before.get(recipe["name"])
        if was is None:
            continue
        if (
            was["hardware"]["label"] != recipe["hardware"]["label"]
            or was["hardware"]["processes_per_node"] != recipe["hardware"]["processes_per_node"]
        ):
            lines.append(
                f"{recipe['name']}: hardware {was['hardware']['label']} × {was['hardware']['processes_per_node']} → "
                f"{recipe['hardware']['label']} × {recipe['hardware']['processes_per_node']}"
            )
        for key, label in COSTS.items():
            a, b = (_total((was.get("training") or {}).get(key)), _total((recipe.get("training") or {}).get(key)))
            if a != b and (a is not None or b is not None):
                lines.append(f"{recipe['name']}: {label} {_human(a)} → {_human(b)}")
    return lines


def _human(value: Any) -> Any:
    """Large counts as 8.80M / 1.50B, so that a reviewer sees the size of a change at a glance."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) < 100_000:
        return value
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.2f}{suffix}"
    return value


def _total(value: Any) -> Any:
    return value.get("total") if isinstance(value, dict) else value


def compare(old: dict[str, Any], new: dict[str, Any], against: str) -> PlanDiff:
    before, after = _steps(old), _steps(new)
    diffs = [StepDiff(i, "added") for i in after if i not in before]
    diffs += [StepDiff(i, "removed") for i in before if i not in after]
    moved = {i for i in after if i not in before or before[i]["fingerprint"] != after[i]["fingerprint"]}
    diffs += [StepDiff(i, "changed", _reasons(before[i], after[i], moved)) for i in after if i in before and i in moved]
    order = list(after) + [i for i in before if i not in after]
    return PlanDiff(against, sorted(diffs, key=lambda d: order.index(d.id)), _costs(old, new))


def plan_at_revision(recipe: Path, revision: str, plan: Callable[[Path], dict[str, Any]]) -> dict[str, Any] | None:
    """The plan of `recipe` as it was at a git revision (checked out in a temporary worktree), or None when the
    recipe did not exist there."""
    top = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=recipe.resolve().parent,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    relative = recipe.resolve().relative_to(top)
    commit = _commit(top, revision)
    scratch = Path(tempfile.mkdtemp(prefix="modelops-against-"))
    tree = scratch / "tree"
    try:
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), commit],
            cwd=top,
            check=True,
            capture_output=True,
            text=True,
        )
        old_recipe = tree / relative
        return plan(old_recipe) if old_recipe.exists() else None
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", "--force", str(tree)], cwd=top, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=top, capture_output=True)


class RevisionError(ValueError):
    """`--against` names no commit."""


def _commit(top: Path, revision: str) -> str:
    """The commit a revision names; anything else — an option such as `--lock`, a path, a typo — is refused
    before git sees it as part of a command."""
    if not revision or revision.startswith("-"):
        raise RevisionError(f"`{revision}` is not a git revision")
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
        cwd=top,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise RevisionError(f"`{revision}` names no commit in {top}")
    return found.stdout.strip()


def load_saved(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def diff_text(diff: PlanDiff) -> str:
    if diff.empty:
        return f"no changes against {one_line(diff.against)}\n"
    lines = [f"changes against {one_line(diff.against)}:"]
    lines += [f"  cost: {one_line(line)}" for line in diff.costs]        # the cause (hardware) and its cost first
    for step in diff.steps:
        mark = {"added": "+", "removed": "-", "changed": "~"}[step.status]
        lines.append(
            f"  {mark} {one_line(step.id)} ({step.status})" + "".join(f"\n      {one_line(r)}" for r in step.reasons)
        )
    return "\n".join(lines) + "\n"


def diff_markdown(diff: PlanDiff) -> str:
    if diff.empty:
        return f"#### No changes against {md_code(diff.against)}\n"
    lines = [f"#### Changes against {md_code(diff.against)}", ""]
    if diff.costs:                                                      # the cause (hardware) and its cost first
        lines += ["**Hardware and cost estimates**", ""] + [f"- {md_text(line)}" for line in diff.costs] + [""]
    lines += ["| step | change | why |", "|---|---|---|"]
    for step in diff.steps:
        why = "<br>".join(md_text(r) for r in step.reasons)
        lines.append(f"| {md_code(step.id, in_table=True)} | {step.status} | {why} |")
    return "\n".join(lines) + "\n"
