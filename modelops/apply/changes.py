"""What `apply` will do and why: each step up to date, new, or changed (parameters, inputs, upstream)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelops.apply.state import RunState, outputs_changed
from modelops.plan.diffs import param_diffs
from modelops.plan.model import Step


@dataclass
class StepChange:
    step: Step
    status: str                      # up-to-date | new | changed
    reasons: list[str] = field(default_factory=list)
    forced: bool = False             # --force: start over, without what an interrupted attempt kept
    cached: bool = False             # pending, but the shared cache holds it: `apply` pulls it instead of running


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
    reasons = [f"~ changed: {key} {a} → {b}" for key, a, b in param_diffs(entry.get("params", {}), step.params)]
    old_inputs = entry.get("inputs", {})
    for item in step.inputs:
        if old_inputs.get(item.name) != item.digest:
            reasons.append(f"~ upstream changed: {item.step}" if item.step else f"~ input changed: {item.path}")
    if not reasons:
        reasons.append("~ outputs missing" if entry["fingerprint"] == step.fingerprint else "~ changed")
    return StepChange(step, "changed", reasons)
