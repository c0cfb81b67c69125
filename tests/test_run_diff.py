"""`modelops diff A B` and `modelops runs --compare`: two runs' metrics and differing parameters side by side,
as text, JSON and Markdown."""

from __future__ import annotations

import json

from conftest import REGRESSION, write
from markdown_it import MarkdownIt


def test_two_runs_side_by_side(workspace, run_cli):
    base = REGRESSION + "workdir: runs/a\n"
    assert run_cli("apply", write(workspace, "a.yaml", base), "-q")[0] == 0
    other = base.replace("window: 3", "window: 4").replace("workdir: runs/a", "workdir: runs/b")
    assert run_cli("apply", write(workspace, "b.yaml", other), "-q")[0] == 0
    a = json.loads((workspace / "runs/a/state.json").read_text())["steps"]["fit"]["metrics"]["mae"]
    b = json.loads((workspace / "runs/b/state.json").read_text())["steps"]["fit"]["metrics"]["mae"]

    code, out, err = run_cli("diff", "runs/a", "runs/b")
    assert code == 0, err
    fit = out.split("\nfit [lightgbm_fit]")[1]
    assert "mae" in fit and f"{a:.6g}" in fit and f"{b:.6g}" in fit and f"{b - a:+.4g}" in fit
    assert "~ lags: [1, 2, 3] → [1, 2, 3, 4]" in out.split("\nfit [lightgbm_fit]")[0]   # the features step
    code, out, _ = run_cli("diff", "runs/a", "runs/b", "--format", "json")
    steps = {s["step"]: s for s in json.loads(out)["steps"]}
    assert [r for r in steps["fit"]["metrics"] if r["name"] == "mae"][0]["b"] == b
    code, out, _ = run_cli("diff", "runs/a", "runs/b", "--format", "markdown", "--changed")
    tokens = MarkdownIt("commonmark").enable("table").parse(out)
    assert any(t.type == "table_open" for t in tokens) and "`lags`" in out
    code, out, _ = run_cli("diff", "runs/a", "runs/a", "--changed")
    assert code == 0 and "fit [" not in out                                   # nothing differs from itself
    code, out, _ = run_cli("runs", "runs", "--compare")
    assert f"fit.mae {a:.4g}" in out and f"fit.mae {b:.4g}" in out


def test_a_folder_that_is_not_a_run_is_refused(workspace, run_cli):
    code, out, err = run_cli("diff", "runs/none", "runs/other")
    assert code == 2 and "runs/none is not a run directory" in err
