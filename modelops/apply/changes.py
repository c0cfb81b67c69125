"""What `apply` will do and why: each step up to date, new, or changed (parameters, inputs, upstream)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.apply.state import RunState, outputs_changed
from modelops.plan.model import Step


@dataclass
class StepChange:
    step: Step
    status: str                      # up-to-date | new | changed
    reasons: list[str] = field(default_factory=list)
    forced: bool = False             # --force: start over, without what an interrupted attempt kept


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value}


def _param_diffs(old: dict, new: dict) -> list[str]:
    before, after = flatten(old), flatten(new)
    diffs = []
    for key in sorted(set(before) | set(after)):
        if before.get(key, "∅") != after.get(key, "∅"):
            diffs.append(f"~ changed: {key} {before.get(key, '∅')} → {after.get(key, '∅')}")
    return diffs


def classify(step: Step, state: RunState, rerun: set[str], complete: bool = False) -> StepChange:
    """How the step stands against the run directory; `complete` re-hashes finished outputs in full."""
    entry = state.steps.get(step.short_id)
    if step.id in rerun:
        return StepChange(step, "changed" if entry else "new", ["~ forced"], forced=True)
    if state.ran(step.short_id, step.fingerprint, Path(step.directory)):
        moved = state.changed_outputs(step.short_id, Path(step.directory), complete)
        return StepChange(step, "changed", [f"! {outputs_changed(moved)}"]) if moved else StepChange(step, "up-to-date")
    if not entry:
        return StepChange(step, "new", ["+ new"])
    reasons = _param_diffs(entry.get("params", {}), step.params)
    old_inputs = entry.get("inputs", {})
    for item in step.inputs:
        if old_inputs.get(item.name) != item.digest:
            reasons.append(f"~ upstream changed: {item.step}" if item.step else f"~ input changed: {item.path}")
    if not reasons:
        reasons.append("~ outputs missing" if entry["fingerprint"] == step.fingerprint else "~ changed")
    return StepChange(step, "changed", reasons)
