"""Two runs side by side (`modelops diff A B`, like `dvc metrics diff`): for every step either run finished,
the metrics it recorded with their change, and the parameters that differ — read from the run directories'
state files, so any two runs compare: two recipes, one recipe before and after an edit (a copy of its run
directory), or the same recipe on two machines."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.apply.state import RunState
from modelops.escape import md_code, md_text, one_line
from modelops.plan.diffs import ABSENT, flatten, param_diffs


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


def run_diff(a: Path, b: Path) -> list[StepDiff]:
    """Every step of either run, in A's order then B's new ones. StateError when a run cannot be read."""
    for run in (a, b):
        if not (run / "state.json").is_file():
            raise ValueError(f"{run} is not a run directory (no state.json); `modelops runs` lists them")
    first, second = RunState.load(a).steps, RunState.load(b).steps
    if not first and not second:
        raise ValueError(f"neither {a} nor {b} holds a finished step (state.json)")
    out = []
    for step in [*first, *[s for s in second if s not in first]]:
        x, y = first.get(step, {}), second.get(step, {})
        numbers_a, numbers_b = _numbers(x.get("metrics", {})), _numbers(y.get("metrics", {}))
        rows = [MetricRow(name, numbers_a.get(name), numbers_b.get(name))
                for name in [*numbers_a, *[n for n in numbers_b if n not in numbers_a]]]
        out.append(StepDiff(step, x.get("kind") or y.get("kind", "?"), bool(x), bool(y),
                            bool(x) and x.get("fingerprint") == y.get("fingerprint"), rows,
                            param_diffs(x.get("params", {}), y.get("params", {})) if x and y else []))
    return out


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in flatten(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.6g}"


def _presence(diff: StepDiff) -> str:
    return "" if diff.in_a and diff.in_b else " (only in A)" if diff.in_a else " (only in B)"


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
