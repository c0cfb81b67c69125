"""Two runs side by side (`modelops diff A B`, like `dvc metrics diff`): for every step of either side, the
metrics it recorded with their change, and the parameters that differ. A side is a run directory (its state
file), a step folder (one version of a step, `runs/<name>/<step>-<fingerprint>`), or a recipe as it is in the
working tree or was at a git revision (`main:recipes/sft.yaml`): planned there, each step's metrics are read
from the step folder of its fingerprint in this checkout's run directory (every version of a step keeps its
own folder until `gc`), else from the recipe's shared cache — so a recipe's metrics compare across commits
without committing them."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.apply.state import RunState, output_metrics
from modelops.escape import md_code, md_text, one_line
from modelops.plan.diffs import ABSENT, flatten, param_diffs


@dataclass
class Side:
    """One side of a diff: each step's kind, fingerprint, parameters, metrics and whether it finished."""

    label: str
    steps: dict[str, dict[str, Any]]


def side(spec: str) -> Side:
    """A run directory, a step folder, a recipe file, or `REV:RECIPE`. ValueError says which it is not;
    planning errors (RecipeError, git's CalledProcessError, RevisionError) pass through."""
    path = Path(spec)
    if (path / "state.json").is_file():
        return Side(spec, {step: entry | {"finished": True} for step, entry in RunState.load(path).steps.items()})
    if (path / "step.json").is_file():
        return Side(spec, _step_folder(path))
    if path.is_dir():
        raise ValueError(f"{spec} is neither a run directory (no state.json) nor a step folder (no step.json); "
                         "`modelops runs` lists the runs")
    from modelops.plan.planner import plan_recipe

    if path.is_file():
        return Side(spec, _planned_steps(plan_recipe(path)))
    revision, colon, recipe = spec.partition(":")
    if not colon or not revision or not recipe:
        raise ValueError(f"{spec} is neither a run directory, a recipe file nor REV:RECIPE (`main:{spec}`)")
    from modelops.plan.compare import plan_at_revision

    steps = plan_at_revision(Path(recipe), revision, lambda there: _planned_steps(plan_recipe(there)))
    if steps is None:
        raise ValueError(f"{recipe} did not exist at {revision}")
    return Side(spec, steps)


def _step_folder(folder: Path) -> dict[str, dict[str, Any]]:
    """One version of a step, from the step.json it ran with and its metrics.json, keyed by the step's name in
    its recipe so that two versions of one step line up."""
    try:
        spec = json.loads((folder / "step.json").read_text(encoding="utf-8"))
        finished, metrics = (folder / "out").is_dir(), output_metrics(folder / "out")
        return {spec["id"].split("/", 1)[-1]: {"kind": spec["kind"], "fingerprint": spec["fingerprint"],
                                               "params": spec["params"], "metrics": metrics, "finished": finished}}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{folder}/step.json is not a step modelops wrote ({type(exc).__name__}: {exc})") from None


def _planned_steps(plan) -> dict[str, dict[str, Any]]:
    """The recipe's own steps (not its upstream recipes', which have run directories of their own) with the
    metrics of the step folder of their fingerprint, or of the shared cache's entry."""
    from modelops.apply.executor import shared_cache
    from modelops.apply.remote_cache import CacheError

    recipe = plan.recipes[-1]
    cache, _ = shared_cache(recipe.cache) if recipe.cache and recipe.cache["pull"] else (None, "")
    steps = {}
    for step in recipe.steps:
        out, metrics = Path(step.directory) / "out", None
        if out.is_dir():
            metrics = output_metrics(out)
        elif cache is not None:
            try:
                metrics = (cache.store.entry(step.fingerprint) or {}).get("metrics")
            except CacheError:
                cache = None                                    # unreachable: the remaining steps count as not run
        steps[step.short_id] = {"kind": step.kind, "fingerprint": step.fingerprint, "params": step.params,
                                "metrics": metrics or {}, "finished": metrics is not None}
    return steps


@dataclass
class MetricRow:
    name: str
    a: float | None
    b: float | None

    @property
    def change(self) -> str:
        if self.a is None or self.b is None:
            return ""
        delta = self.b - self.a
        relative = f" ({delta / abs(self.a):+.1%})" if self.a else ""
        return f"{delta:+.4g}{relative}"


@dataclass
class StepDiff:
    step: str
    kind: str
    in_a: bool
    in_b: bool
    same_fingerprint: bool
    metrics: list[MetricRow] = field(default_factory=list)
    params: list[tuple[str, Any, Any]] = field(default_factory=list)
    not_run_a: bool = False                       # planned on that side, but its step folder is not there
    not_run_b: bool = False


def run_diff(a: Side, b: Side) -> list[StepDiff]:
    """Every step of either side, in A's order then B's new ones."""
    first, second = a.steps, b.steps
    if not any(e["finished"] for e in first.values()) and not any(e["finished"] for e in second.values()):
        raise ValueError(f"neither {a.label} nor {b.label} has a finished step")
    out = []
    for step in [*first, *[s for s in second if s not in first]]:
        x, y = first.get(step, {}), second.get(step, {})
        numbers_a, numbers_b = _numbers(x.get("metrics", {})), _numbers(y.get("metrics", {}))
        rows = [MetricRow(name, numbers_a.get(name), numbers_b.get(name))
                for name in [*numbers_a, *[n for n in numbers_b if n not in numbers_a]]]
        out.append(StepDiff(step, x.get("kind") or y.get("kind", "?"), bool(x), bool(y),
                            bool(x) and x.get("fingerprint") == y.get("fingerprint"), rows,
                            param_diffs(x.get("params", {}), y.get("params", {})) if x and y else [],
                            bool(x) and not x["finished"], bool(y) and not y["finished"]))
    return out


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in flatten(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.6g}"


def _presence(diff: StepDiff) -> str:
    if not (diff.in_a and diff.in_b):
        return " (only in A)" if diff.in_a else " (only in B)"
    if diff.not_run_a and diff.not_run_b:
        return " (run in neither)"
    return " (not run in A)" if diff.not_run_a else " (not run in B)" if diff.not_run_b else ""


def diff_text(diffs: list[StepDiff], a: str, b: str, changed_only: bool) -> str:
    lines = [f"A: {one_line(a)}", f"B: {one_line(b)}"]
    for diff in diffs:
        rows = [r for r in diff.metrics if not changed_only or r.a != r.b]
        if changed_only and not rows and not diff.params and diff.in_a and diff.in_b:
            continue
        same = " (same fingerprint)" if diff.same_fingerprint else ""
        lines.append(f"\n{diff.step} [{diff.kind}]{_presence(diff)}{same}")
        width = max([len(r.name) for r in rows] + [6])
        lines += [f"  {r.name:<{width}}  {_number(r.a):>12}  {_number(r.b):>12}  {r.change}" for r in rows]
        lines += [f"  ~ {key}: {one_line(_shown(x))} → {one_line(_shown(y))}" for key, x, y in diff.params]
    return "\n".join(lines) + "\n"


def diff_markdown(diffs: list[StepDiff], a: str, b: str, changed_only: bool) -> str:
    lines = [f"**Runs compared:** A {md_code(a)}, B {md_code(b)}", ""]
    for diff in diffs:
        rows = [r for r in diff.metrics if not changed_only or r.a != r.b]
        if changed_only and not rows and not diff.params and diff.in_a and diff.in_b:
            continue
        lines += [f"#### {md_code(diff.step)} ({md_text(diff.kind)}){md_text(_presence(diff))}", ""]
        if rows:
            lines += ["| metric | A | B | change |", "|---|---:|---:|---:|"]
            lines += [f"| {md_code(r.name, in_table=True)} | {_number(r.a)} | {_number(r.b)} | {r.change} |"
                      for r in rows]
            lines.append("")
        lines += [f"- {md_code(key)}: {md_code(_shown(x))} → {md_code(_shown(y))}" for key, x, y in diff.params]
        lines.append("")
    return "\n".join(lines)


def diff_json(diffs: list[StepDiff], a: str, b: str) -> str:
    steps = [asdict(d) | {"metrics": [asdict(r) | {"change": r.change} for r in d.metrics]} for d in diffs]
    return json.dumps({"a": a, "b": b, "steps": steps}, indent=2, ensure_ascii=False, default=str) + "\n"


def _shown(value: Any) -> str:
    return value if value == ABSENT else json.dumps(value, ensure_ascii=False, default=str)
