"""Run a plan's steps in order: skip finished ones, write outputs whole or not at all, record state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from modelops.apply.changes import StepChange, classify
from modelops.apply.events import EventTail
from modelops.apply.lock import RunLock
from modelops.apply.remote_cache import CacheError, RemoteCache
from modelops.apply.state import RunState, output_metrics
from modelops.apply.verify import record_outputs
from modelops.gates import Outcome
from modelops.gates import parse as parse_gate
from modelops.plan.model import Plan, Step
from modelops.processes import crash_hint, die_with_parent, exit_description
from modelops.step_kinds import step_kind

TAIL_LINES = 20


class StepFailed(RuntimeError):
    pass


@dataclass
class StepResult:
    step: Step
    status: str              # ran | pulled (from the shared cache) | skipped | failed | interrupted
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    message: str = ""
    gates: list[Outcome] = field(default_factory=list)   # the recipe's gates decided once this step finished
    warnings: list[str] = field(default_factory=list)    # what went wrong without failing it (the shared cache)

    @property
    def finished(self) -> bool:
        return self.status in ("ran", "pulled", "skipped")

    @property
    def ok(self) -> bool:
        return self.finished and all(outcome.passed for outcome in self.gates)


def downstream_of(plan: Plan, step_ids: set[str]) -> set[str]:
    """The steps named and every step that (transitively) consumes their outputs."""
    consumers: dict[str, set[str]] = {}
    for step in plan.steps:
        for item in step.inputs:
            if item.step:
                consumers.setdefault(item.step, set()).add(step.id)
    found, queue = set(step_ids), deque(step_ids)
    while queue:
        for consumer in consumers.get(queue.popleft(), ()):
            if consumer not in found:
                found.add(consumer)
                queue.append(consumer)
    return found


def through(changes: list[StepChange], until: str | None) -> list[StepChange]:
    """The changes up to and including step `until` (all of them without one)."""
    ids = [c.step.id for c in changes]
    return changes[: ids.index(until) + 1] if until in ids else changes


def changes_for(plan: Plan, rerun: set[str], complete: bool = False) -> list[StepChange]:
    """Each step's change; a finished step whose upstream reruns reruns too. A step of a kind this version
    cannot run is a ValueError before anything runs."""
    for step in plan.steps:
        step_kind(step.kind)
    changes = [classify(step, RunState.load(Path(recipe.workdir)), rerun, complete)
               for recipe in plan.recipes for step in recipe.steps]
    cascade = downstream_of(plan, {c.step.id for c in changes if c.status != "up-to-date"})
    return [StepChange(c.step, "changed", ["~ upstream reruns"]) if c.status == "up-to-date" and c.step.id in cascade
            else c for c in changes]


def run_plan(plan: Plan, changes: list[StepChange], until: str | None,
             on_event: Callable[[str, Step, dict], None]) -> list[StepResult]:
    """Run what changed, in order; stops at the first failed or interrupted step, or at a step after which a
    gate failed (its result is last)."""
    directories = {s.id: Path(s.directory) for s in plan.steps}
    results: list[StepResult] = []
    pending = {c.step.id: c for c in changes}
    for recipe in plan.recipes:
        workdir = Path(recipe.workdir)
        gates, finished = [parse_gate(text) for text in recipe.gates], {}
        cache, cache_problem = shared_cache(recipe.cache)
        with RunLock(workdir):
            state = RunState.load(workdir)
            for step in recipe.steps:
                if pending[step.id].status == "up-to-date":
                    entry = state.steps[step.short_id]
                    results.append(StepResult(step, "skipped", entry.get("ended", 0) - entry.get("started", 0),
                                              entry.get("metrics", {})))
                else:
                    results.append(_attempt(step, state, directories, on_event, pending[step.id].forced, cache))
                    results[-1].warnings[:0] = [cache_problem] if cache_problem else []
                    cache_problem = ""                          # said once
                if results[-1].finished:
                    finished[step.short_id] = results[-1].metrics
                    results[-1].gates = [g.check(finished) for g in gates if step.short_id in g.steps
                                         and g.steps <= finished.keys()]
                if not results[-1].ok or (until and step.id == until):
                    return results
    return results


@dataclass
class SharedCache:
    """The recipe's `cache` section as `apply` uses it."""

    store: RemoteCache
    pull: bool
    push: bool


def shared_cache(section: dict | None) -> tuple[SharedCache | None, str]:
    """The recipe's shared cache, or None and why it cannot be used (a warning, never a failed run)."""
    if not section:
        return None, ""
    try:
        return SharedCache(RemoteCache(section["url"]), section["pull"], section["push"]), ""
    except CacheError as exc:
        return None, f"{exc}; running without the shared cache"


def mark_cached(plan: Plan, changes: list[StepChange]) -> list[str]:
    """Mark the pending steps that their recipe's shared cache holds (`apply` pulls them instead of running
    them), so that `plan --detailed-exitcode` answers against the team's state; returns what went wrong, as
    warnings (the steps then count as pending). Only pending steps are looked up: an applied run costs nothing."""
    pending = {c.step.id: c for c in changes if c.status != "up-to-date" and not c.forced}
    problems = []
    for recipe in plan.recipes:
        todo = [pending[step.id] for step in recipe.steps if step.id in pending]
        if not todo or not recipe.cache or not recipe.cache["pull"]:
            continue
        cache, problem = shared_cache(recipe.cache)
        if cache is None:
            problems.append(problem)
            continue
        try:
            for change in todo:
                change.cached = cache.store.entry(change.step.fingerprint) is not None
        except CacheError as exc:
            problems.append(f"{exc}; its steps count as pending")
    return problems


def _attempt(step: Step, state: RunState, directories: dict[str, Path],
             on_event: Callable[[str, Step, dict], None], fresh: bool = False,
             cache: SharedCache | None = None) -> StepResult:
    started, problem = time.time(), ""
    try:
        if cache is not None and cache.pull and not fresh:
            pulled, problem = pull_step(step, state, cache.store, on_event)
            if pulled is not None:
                return pulled
        result = _run_step(step, state, directories, on_event, fresh)
        result.warnings += [f"{problem}; the step ran here instead"] if problem else []
        if cache is not None and cache.push:
            try:
                cache.store.push(step.fingerprint, Path(step.directory) / "out", state.steps[step.short_id])
            except CacheError as exc:
                result.warnings.append(f"{exc}; the step's outputs stay local")
        return result
    except StepFailed as exc:
        return StepResult(step, "failed", time.time() - started, message=str(exc))
    except KeyboardInterrupt:
        return StepResult(step, "interrupted", time.time() - started,
                          message=f"interrupted during {step.id}; its partial work is kept in {step.directory}")


def _local_program(part: str) -> str:
    """`python` and `accelerate` of this environment, whatever PATH says."""
    if part == "python":
        return sys.executable
    beside = Path(sys.executable).parent / part
    return str(beside) if part == "accelerate" and beside.exists() else part


def _resolve_inputs(step: Step, directories: dict[str, Path]) -> dict[str, str]:
    return {i.name: str(directories[i.step] / "out" / i.output) if i.step else str(Path(i.path).resolve())
            for i in step.inputs}


def _replace(final: Path, partial: Path) -> None:
    """Put the new output in place of the old one; the old one stays until the new one is whole."""
    old = final.with_name("out.replaced")
    if final.exists():
        final.rename(old)
    partial.rename(final)
    if old.exists():
        shutil.rmtree(old)


def _recover_replaced(final: Path) -> None:
    """Undo a replacement that a crash cut between its two renames."""
    old = final.with_name("out.replaced")
    if old.exists():
        if final.exists():
            shutil.rmtree(old)
        else:
            old.rename(final)


def _run_step(step: Step, state: RunState, directories: dict[str, Path],
              on_event: Callable[[str, Step, dict], None], fresh: bool = False) -> StepResult:
    directory = Path(step.directory)
    partial, final = directory / "out.partial", directory / "out"
    _recover_replaced(final)
    if partial.exists() and (fresh or not step_kind(step.kind).resumable):
        shutil.rmtree(partial)               # leftovers of an interrupted attempt (kept for a resume unless forced)
    partial.mkdir(parents=True, exist_ok=True)
    events = directory / "events.jsonl"
    events.unlink(missing_ok=True)
    spec = {
        "id": step.id,
        "kind": step.kind,
        "fingerprint": step.fingerprint,
        "params": step.params,
        "inputs": _resolve_inputs(step, directories),
        "outputs": step.outputs,
        "tracking": step.tracking,
        "out": str(partial.resolve()),
        "events": str(events.resolve()),
    }
    (directory / "step.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, text in step.files.items():
        (directory / name).write_text(text, encoding="utf-8")
    command = [_local_program(part) for part in step.command]
    on_event("start", step, {"command": " ".join(command)})
    started = time.time()
    log_path = directory / "log.txt"
    tail = EventTail(events, lambda event: on_event("event", step, event))
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        tail.start()
        try:
            for line in process.stdout:
                log.write(line)
                log.flush()
                on_event("output", step, {"line": line.rstrip("\n")})
            code = process.wait()
        except BaseException:
            process.terminate()
            process.wait()
            raise
        finally:
            tail.stop()
    if code != 0:
        state.record_failure(step.short_id, step.fingerprint, exit_description(code), log_path)
        tail = log_path.read_text(encoding="utf-8").splitlines()[-TAIL_LINES:]
        hint = crash_hint(code)
        raise StepFailed(
            f"step {step.id} failed ({exit_description(code)}); last lines:\n"
            + "\n".join(tail)
            + f"\nwhole log: {log_path}"
            + (f"\nhint: {hint}" if hint else "")
        )
    missing = [name for name in step.outputs if not (partial / name).exists()]
    if missing:
        state.record_failure(step.short_id, step.fingerprint, f"missing outputs: {', '.join(missing)}", log_path)
        raise StepFailed(f"step {step.id} finished without writing {', '.join(missing)} (log: {log_path})")
    _replace(final, partial)
    metrics = output_metrics(final)
    ended = time.time()
    _record(step, state, metrics, started, ended)
    on_event("done", step, {"seconds": ended - started})
    return StepResult(step, "ran", ended - started, metrics)


def _record(step: Step, state: RunState, metrics: dict, started: float, ended: float, **extra) -> None:
    """The finished step's state entry: its outputs' hashes and stamps, metrics and times."""
    hashes, stamps = record_outputs(Path(step.directory) / "out", step.outputs)
    state.record(
        step.short_id,
        {
            "fingerprint": step.fingerprint,
            "kind": step.kind,
            "params": step.params,
            "directory": step.directory,
            "inputs": {i.name: i.digest for i in step.inputs},
            "command": step.command_line(),
            "outputs": hashes,
            "stamps": stamps,
            "metrics": metrics,
            "started": round(started, 3),
            "ended": round(ended, 3),
            **extra,
        },
    )


def pull_step(step: Step, state: RunState, store: RemoteCache,
              on_event: Callable[[str, Step, dict], None]) -> tuple[StepResult | None, str]:
    """The step taken from the shared cache (its outputs checked against their hashes), or (None, why not:
    empty when the cache does not hold it)."""
    directory = Path(step.directory)
    partial, final = directory / "out.pulled", directory / "out"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        entry = store.pull(step.fingerprint, step.outputs, partial)
    except CacheError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        return None, str(exc)
    if entry is None:
        shutil.rmtree(partial, ignore_errors=True)
        return None, ""
    _recover_replaced(final)
    _replace(final, partial)
    _record(step, state, entry.get("metrics", {}), entry["started"], entry["ended"], pulled=store.url)
    on_event("start", step, {"command": f"pull {step.fingerprint[:12]} from {store.url}"})
    on_event("done", step, {"seconds": 0.0})
    return StepResult(step, "pulled", entry["ended"] - entry["started"], entry.get("metrics", {})), ""
