"""The run report (`report.md` and `report.html` in the run directory): a summary first (verdicts, gates,
what to run next), then every step's status, headline metrics, tables, plots, samples and served replies,
built from the state file and the steps' output folders. `report.html` embeds its plots, so the one file
can be attached to a ticket."""

from __future__ import annotations

import base64
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

SHOWN_CHARS = 240          # of a prompt or a reply in the report's tables


def _scalars(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(name, f"{value:.5g}" if isinstance(value, float) else value) for name, value in flatten(metrics).items()
            if isinstance(value, (int, float, str)) and not isinstance(value, bool)]


def _plot(path: Path, workdir: Path) -> dict[str, str]:
    """A plot as the reports show it: its path (Markdown), its bytes inline (HTML) and a caption."""
    return {"path": path.resolve().relative_to(workdir.resolve()).as_posix(),
            "data": "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"),
            "caption": path.stem.replace("_", " ").capitalize()}


def _clip(text: str | None, keep_end: bool = False) -> str:
    text = "" if text is None else str(text)
    if len(text) <= SHOWN_CHARS:
        return text
    return "…" + text[-SHOWN_CHARS:] if keep_end else text[:SHOWN_CHARS] + "…"


def _shown_outputs(out: Path) -> tuple[dict[str, list[list]], dict[str, str]]:
    """Outputs people read rather than count, as (tables, texts): the greedy samples of an evaluation, the
    served model's replies, the Modelfile."""
    tables, texts = {}, {}
    samples = out / "samples.jsonl"
    if samples.is_file():
        rows = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
        tables["Greedy samples on held-out prompts, before and after training"] = [
            ["prompt (its end)", "before training", "after training"],
            *([_clip(r["prompt"], True), _clip(r.get("before")), _clip(r["completion"])] for r in rows)]
    smoke = out / "smoke.json"
    if smoke.is_file():
        requests = json.loads(smoke.read_text(encoding="utf-8")).get("requests", [])
        tables["Replies of the served model"] = [
            ["prompt", "reply", "tokens/s"],
            *([_clip(r["prompt"]), _clip(r["reply"]), r["tokens_per_second"]] for r in requests)]
    modelfile = out / "Modelfile"
    if modelfile.is_file():
        texts["Modelfile"] = modelfile.read_text(encoding="utf-8")
    return tables, texts


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).isoformat(timespec="seconds")


def _step_section(step, state: RunState, workdir: Path) -> dict[str, Any]:
    out = Path(step.directory) / "out"
    entry = state.steps.get(step.short_id)
    section: dict[str, Any] = {"id": step.short_id, "kind": step.kind, "title": step.title,
                               "fingerprint": step.fingerprint[:12],
                               "done": state.ran(step.short_id, step.fingerprint, Path(step.directory)),
                               "metrics": [], "nested_metrics": [], "tables": {}, "texts": {}, "plots": []}
    if not section["done"]:
        failure = state.failure(step.short_id, step.fingerprint)
        section["status"] = f"failed {_when(failure['at'])} ({failure['how']}; log {failure['log']})" if failure \
            else "pending"
        return section
    section["seconds"] = round(entry["ended"] - entry["started"], 1)
    section["status"] = f"done {_when(entry['ended'])}"
    scalars = _scalars(entry.get("metrics", {}))
    section["metrics"] = [(name, value) for name, value in scalars if "." not in name]   # the headline ones
    section["nested_metrics"] = [(name, value) for name, value in scalars if "." in name]
    section["checks"] = verdicts(entry.get("metrics", {}))
    tables = out / "tables.json"
    if tables.is_file():
        section["tables"] = json.loads(tables.read_text(encoding="utf-8"))
    shown_tables, section["texts"] = _shown_outputs(out)
    section["tables"] |= shown_tables
    section["plots"] = [_plot(p, workdir) for p in sorted(out.rglob("*.png"))]
    section["directory"] = Path(step.directory).name
    section["artifacts"] = [f"{section['directory']}/out/{name}" for name in step.outputs]
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
               "overrides": [md_code(f"--set {o}") for o in recipe.overrides], "md_fence": md_fence,
               "generated": datetime.datetime.now().isoformat(timespec="seconds")}
    paths = []
    for name in REPORTS:
        for leftover in workdir.glob(f".{name}.*"):          # temporary files of a write that was killed
            leftover.unlink(missing_ok=True)
        path = workdir / name
        write_atomically(path, render(f"report/{name}.j2", **context))
        paths.append(path)
    return paths
