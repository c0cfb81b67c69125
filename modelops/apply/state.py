"""A run directory's state.json: which steps finished, with what fingerprint, outputs and metrics."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.apply.verify import changed_outputs
from modelops.fsutil import write_atomically

STATE_FILE = "state.json"
ENTRY_KEYS = ("fingerprint", "kind", "directory", "outputs", "started", "ended")
FAILURE_KEYS = ("fingerprint", "at", "how", "log")


def output_metrics(out: Path) -> dict[str, Any]:
    """The metrics a step wrote into its output folder (`metrics.json`), or none."""
    metrics_file = out / "metrics.json"
    return json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else {}


class StateError(ValueError):
    """A state file that cannot be used."""


@dataclass
class RunState:
    workdir: Path
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)   # the last failed attempt of a step

    @classmethod
    def load(cls, workdir: Path) -> "RunState":
        """The run directory's state; a file that is not what `apply` writes raises StateError, which says
        what is wrong and the way out (every command shows it instead of a traceback)."""
        path = workdir / STATE_FILE
        if not path.exists():
            return cls(workdir)
        way_out = f"move {path} aside to start the run afresh (finished steps will run again)"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(f"{path} is not valid JSON ({exc}); {way_out}") from None
        except OSError as exc:
            raise StateError(f"cannot read {path} ({exc.strerror})") from None
        steps, failures = (data.get("steps", {}), data.get("failures", {})) if isinstance(data, dict) else (None, None)
        if not isinstance(steps, dict) or not isinstance(failures, dict):
            raise StateError(f"{path} is not a modelops state file (expected an object with `steps`); {way_out}")
        for group, required in ((steps, ENTRY_KEYS), (failures, FAILURE_KEYS)):
            for name, entry in group.items():
                missing = [key for key in required if not isinstance(entry, dict) or key not in entry]
                if missing:
                    raise StateError(f"{path}: step `{name}` lacks {', '.join(missing)}; {way_out}")
        return cls(workdir, steps, failures)

    def record(self, step_id: str, entry: dict[str, Any]) -> None:
        """Record a finished step and replace the state file atomically."""
        from modelops import __version__

        self.steps[step_id] = entry | {"modelops": __version__}
        self.failures.pop(step_id, None)
        self._write()

    def record_failure(self, step_id: str, fingerprint: str, how: str, log: Path) -> None:
        """Remember that the step failed (when, how, its log) so that `status` and the report can say so."""
        self.failures[step_id] = {"fingerprint": fingerprint, "at": round(time.time(), 3), "how": how, "log": str(log)}
        self._write()

    def failure(self, step_id: str, fingerprint: str) -> dict[str, Any] | None:
        """The step's last failure, if it was of this very step (same fingerprint) and nothing finished since."""
        failure = self.failures.get(step_id)
        return failure if failure and failure["fingerprint"] == fingerprint else None

    def _write(self) -> None:
        body = json.dumps({"steps": self.steps, "failures": self.failures}, indent=2, sort_keys=True,
                          ensure_ascii=False) + "\n"
        write_atomically(self.workdir / STATE_FILE, body)

    def ran(self, step_id: str, fingerprint: str, directory: Path) -> bool:
        """Whether this very step (same fingerprint) finished and its output folder is there."""
        entry = self.steps.get(step_id)
        return bool(entry) and entry["fingerprint"] == fingerprint and (directory / "out").is_dir()

    def changed_outputs(self, step_id: str, directory: Path, complete: bool = False) -> list[Path]:
        """The finished step's outputs that are gone or differ from what it wrote (see verify.py)."""
        return changed_outputs(self.steps[step_id], directory / "out", complete)


def finished_output(plan, kind: str) -> Path:
    """The output folder of the main recipe's step of this kind, which must have finished with it and the
    steps before it unchanged since; else ValueError."""
    recipe = plan.recipes[-1]
    steps = [s for s in recipe.steps if s.kind == kind]
    if not steps:
        raise ValueError(f"recipe {recipe.name} has no `{kind}` step")
    step = steps[-1]
    state, directory = RunState.load(Path(recipe.workdir)), Path(step.directory)
    if not state.ran(step.short_id, step.fingerprint, directory):
        raise ValueError(
            f"step {step.id} has not run for the recipe as it is now: run `modelops apply {recipe.file}` first"
        )
    for earlier in recipe.steps[: recipe.steps.index(step) + 1]:  # what it was made from too (a served GGUF)
        if state.ran(earlier.short_id, earlier.fingerprint, Path(earlier.directory)):
            moved = state.changed_outputs(earlier.short_id, Path(earlier.directory))
            if moved:
                raise ValueError(
                    f"step {earlier.id}: {outputs_changed(moved)}; refusing to use them. "
                    f"`modelops apply {recipe.file}` runs the step again"
                )
    return directory / "out"


def outputs_changed(paths: list[Path]) -> str:
    return "outputs changed since the step ran: " + ", ".join(str(p) for p in paths)
