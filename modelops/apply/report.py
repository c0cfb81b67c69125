"""The run report (`report.md` and `report.html` in the run directory): every step's status, metrics,
tables and plots, built from the state file and the steps' output folders."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from modelops.apply.state import STATE_FILE, RunState
from modelops.apply.verdicts import verdicts
from modelops.escape import md_code, md_fence, md_text
from modelops.fsutil import write_atomically
from modelops.gates import parse as parse_gate
from modelops.plan.diffs import flatten
from modelops.plan.model import RecipePlan
from modelops.step_kinds import step_kind
from modelops.templates import render

MAX_METRICS = 40


def _scalars(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(name, f"{value:.5g}" if isinstance(value, float) else value) for name, value in flatten(metrics).items()
            if isinstance(value, (int, float, str)) and not isinstance(value, bool)]


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).isoformat(timespec="seconds")


def _step_section(step, state: RunState, workdir: Path) -> dict[str, Any]:
    out = Path(step.directory) / "out"
    entry = state.steps.get(step.short_id)
    section: dict[str, Any] = {"id": step.short_id, "kind": step.kind, "title": step.title,
                               "fingerprint": step.fingerprint[:12],
                               "done": state.ran(step.short_id, step.fingerprint, Path(step.directory)),
                               "metrics": [], "tables": {}, "plots": []}
    if not section["done"]:
        failure = state.failure(step.short_id, step.fingerprint)
        section["status"] = f"failed {_when(failure['at'])} ({failure['how']}; log {failure['log']})" if failure \
            else "pending"
        return section
    section["seconds"] = round(entry["ended"] - entry["started"], 1)
    section["status"] = f"done {_when(entry['ended'])}"
    section["metrics"] = _scalars(entry.get("metrics", {}))[:MAX_METRICS]
    section["checks"] = verdicts(entry.get("metrics", {}))
    tables = out / "tables.json"
    if tables.is_file():
        section["tables"] = json.loads(tables.read_text(encoding="utf-8"))
    section["plots"] = [p.resolve().relative_to(workdir.resolve()).as_posix() for p in sorted(out.rglob("*.png"))]
    section["artifacts"] = [f"{Path(step.directory).name}/out/{name}" for name in step.outputs]
    return section


def _next_commands(recipe: RecipePlan, sections: list[dict[str, Any]]) -> list[str]:
    """What to do with the result once the recipe's steps have all finished (each step kind's hints)."""
    if not all(s["done"] for s in sections):
        return []
    lines = []
    for step in recipe.steps:
        hints = step_kind(step.kind).hints
        if hints is not None:
            lines += hints(Path(step.directory) / "out", recipe.file)
    return lines


def _gate_line(text: str, finished: dict[str, dict]) -> tuple[bool | None, str]:
    """(passed, or None while a step it names has not finished; what to show)."""
    gate = parse_gate(text)
    if not gate.steps <= finished.keys():
        return None, f"gate pending: {text} (waits for {', '.join(sorted(gate.steps - finished.keys()))})"
    outcome = gate.check(finished)
    return outcome.passed, str(outcome)


REPORTS = ("report.md", "report.html")


def report_is_current(recipe: RecipePlan) -> bool:
    """Both reports exist and are no older than the state file (a kill between writing them, or a state
    recorded after them, makes them stale)."""
    workdir = Path(recipe.workdir)
    state = workdir / STATE_FILE
    reports = [workdir / name for name in REPORTS]
    if not all(path.is_file() for path in reports):
        return False
    return not state.exists() or min(path.stat().st_mtime for path in reports) >= state.stat().st_mtime


def write_report(recipe: RecipePlan) -> list[Path]:
    """Write report.md and report.html for one recipe's run directory; returns their paths."""
    workdir = Path(recipe.workdir)
    state = RunState.load(workdir)
    sections = [_step_section(step, state, workdir) for step in recipe.steps]
    warnings = [(s["id"], check.text) for s in sections for check in s.get("checks", []) if not check.ok]
    finished = {s["id"]: state.steps[s["id"]].get("metrics", {}) for s in sections if s["done"]}
    gates = [_gate_line(text, finished) for text in recipe.gates]
    verdict_lines = [(s["id"], check.ok, check.text) for s in sections for check in s.get("checks", [])]
    context = {"recipe": recipe, "steps": sections, "warnings": warnings, "gates": gates, "verdicts": verdict_lines,
               "next": (next_lines := _next_commands(recipe, sections)),
               "next_md": "\n".join(md_fence("\n".join(next_lines))) if next_lines else "",
               "gates_md": [(ok, md_text(text)) for ok, text in gates],
               "overrides": [md_code(f"--set {o}") for o in recipe.overrides],
               "generated": datetime.datetime.now().isoformat(timespec="seconds")}
    paths = []
    for name in REPORTS:
        for leftover in workdir.glob(f".{name}.*"):          # temporary files of a write that was killed
            leftover.unlink(missing_ok=True)
        path = workdir / name
        write_atomically(path, render(f"report/{name}.j2", **context))
        paths.append(path)
    return paths
