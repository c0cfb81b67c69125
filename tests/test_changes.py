"""Change classification as a unit: how one step stands against a run directory's recorded state."""

from __future__ import annotations

import pytest

from modelops.apply.changes import classify
from modelops.apply.state import RunState
from modelops.apply.verify import record_outputs
from modelops.plan.model import Step, StepInput


def _step(tmp_path, params=None, digest="d1") -> Step:
    step = Step("r/fit", "lightgbm_fit", "Fit", params or {"a": 1, "b": {"c": 2}},
                [StepInput("train", path="data.csv", digest=digest)], ["model.txt"], fingerprint="f" * 64)
    step.directory = str(tmp_path / "fit")
    return step


def _finished(tmp_path, step: Step) -> RunState:
    out = tmp_path / "fit" / "out"
    out.mkdir(parents=True)
    (out / "model.txt").write_text("tree")
    hashes, stamps = record_outputs(out, step.outputs)
    state = RunState(tmp_path)
    state.steps["fit"] = {"fingerprint": step.fingerprint, "kind": step.kind, "params": step.params,
                          "directory": step.directory, "inputs": {"train": "d1"}, "outputs": hashes,
                          "stamps": stamps, "started": 0, "ended": 1}
    return state


def test_new_up_to_date_and_forced(tmp_path):
    step = _step(tmp_path)
    assert classify(step, RunState(tmp_path), set()).status == "new"
    state = _finished(tmp_path, step)
    assert classify(step, state, set()).status == "up-to-date"
    forced = classify(step, state, {"r/fit"})
    assert (forced.status, forced.reasons, forced.forced) == ("changed", ["~ forced"], True)


@pytest.mark.parametrize("params, digest, reason", [
    ({"a": 1, "b": {"c": 3}}, "d1", "~ changed: b.c 2 → 3"),
    ({"a": 1}, "d1", "~ changed: b.c 2 → ∅"),
    ({"a": 1, "b": {"c": 2}}, "d2", "~ input changed: data.csv"),
])
def test_what_changed_is_named(tmp_path, params, digest, reason):
    state = _finished(tmp_path, _step(tmp_path))
    moved = _step(tmp_path, params, digest)
    moved.fingerprint = "e" * 64
    change = classify(moved, state, set())
    assert change.status == "changed" and change.reasons == [reason]


def test_outputs_edited_or_removed_since_the_step_ran(tmp_path):
    step = _step(tmp_path)
    state = _finished(tmp_path, step)
    (tmp_path / "fit" / "out" / "model.txt").write_text("TREE")
    change = classify(step, state, set())
    assert change.status == "changed" and change.reasons[0].startswith("! outputs changed since the step ran")
    (tmp_path / "fit" / "out" / "model.txt").unlink()
    assert classify(step, state, set()).status == "changed"
