"""The contract between the executor and a step runner.

A runner is `python -m modelops.steps.<kind> <step dir>/step.json`. The spec holds its parameters (parsed
into the kind's typed class, step_kinds.py), its resolved input paths, the folder to write outputs into
(renamed into place by the executor only on success) and a JSON-lines file for progress events."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from modelops.processes import die_with_parent
from modelops.step_kinds import step_kind


class Spec:
    def __init__(self, path: Path):
        data = json.loads(path.read_text(encoding="utf-8"))
        self.id: str = data["id"]
        self.kind: str = data["kind"]
        self.fingerprint: str = data["fingerprint"]
        self.params: Any = step_kind(self.kind).model_validate(data["params"])
        self.tracking: dict[str, Any] = data.get("tracking") or {}
        self.inputs: dict[str, Path] = {k: Path(v) for k, v in data["inputs"].items()}
        self.out = Path(data["out"])
        self._events = Path(data["events"])

    @property
    def final_out(self) -> Path:
        """Where the outputs will be once the step succeeds (for paths printed to the user)."""
        return self.out.with_name("out")

    def write_json(self, relative: str, value: Any) -> None:
        """Write one JSON output (metrics.json, tables.json, ...) into the step's output folder."""
        path = self.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False, default=str), encoding="utf-8")

    def emit(self, **event: Any) -> None:
        """Append one event for the executor to render: `done`/`total` counters for progress, any other
        numbers as live metrics (loss, lr, ...), `type` to say what it is."""
        with self._events.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"time": time.time(), **event}, ensure_ascii=False) + "\n")


def main(run: Callable[[Spec], None]) -> None:
    die_with_parent()          # also under a launcher (accelerate, torchrun) that `apply` would take down alone
    if len(sys.argv) != 2:
        sys.exit("usage: python -m modelops.steps.<kind> STEP_JSON")
    run(Spec(Path(sys.argv[1])))
