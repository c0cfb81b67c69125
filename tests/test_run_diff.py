"""`modelops diff A B` and `modelops runs --compare`: two runs' metrics and differing parameters side by side,
as text, JSON and Markdown."""

from __future__ import annotations

import json
import subprocess

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
    assert code == 2 and "runs/none is neither a run directory, a recipe file nor REV:RECIPE" in err
    (workspace / "runs" / "empty").mkdir(parents=True)
    code, out, err = run_cli("diff", "runs/empty", "runs/other")
    assert code == 2 and "runs/empty is neither a run directory (no state.json) nor a step folder" in err


def _git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(folder)})


def test_a_recipe_across_git_revisions(workspace, run_cli):
    """Each commit's plan finds its steps' folders by fingerprint in the one run directory: metrics compare
    across commits that never committed them, and a version that never ran says so."""
    write(workspace, ".gitignore", "runs/\n")
    recipe = write(workspace, "r.yaml", REGRESSION)
    _git(workspace, "init", "-q")
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-qm", "start")
    fits = {}
    for window in (3, 4):
        write(workspace, "r.yaml", REGRESSION.replace("window: 3", f"window: {window}"))
        _git(workspace, "commit", "-qam", f"window {window}", "--allow-empty")
        assert run_cli("apply", recipe, "-q")[0] == 0
        state = json.loads((workspace / "runs/forecast/state.json").read_text())
        fits[window] = state["steps"]["fit"]["metrics"]["mae"]

    code, out, err = run_cli("diff", "HEAD~1:r.yaml", "HEAD:r.yaml")
    assert code == 0, err
    features, fit = out.split("\nfit [lightgbm_fit]")
    assert "~ lags: [1, 2, 3] → [1, 2, 3, 4]" in features
    assert f"{fits[3]:.6g}" in fit and f"{fits[4]:.6g}" in fit and f"{fits[4] - fits[3]:+.4g}" in fit
    folders = sorted(str(p) for p in workspace.glob("runs/forecast/fit-*"))
    code, out, _ = run_cli("diff", *folders, "--format", "json")                 # two versions of one step
    [step] = json.loads(out)["steps"]
    assert step["step"] == "fit" and not step["same_fingerprint"] and {r["name"] for r in step["metrics"]} >= {"mae"}
    code, out, _ = run_cli("diff", "HEAD:r.yaml", "r.yaml", "--changed")       # the working tree is HEAD
    assert code == 0 and "fit [" not in out

    write(workspace, "r.yaml", REGRESSION.replace("window: 3", "window: 5"))    # edited, not applied
    code, out, _ = run_cli("diff", "HEAD:r.yaml", "r.yaml", "--format", "json")
    steps = {s["step"]: s for s in json.loads(out)["steps"]}
    assert steps["fit"]["not_run_b"] and not steps["fit"]["not_run_a"]
    assert [r["b"] for r in steps["fit"]["metrics"] if r["name"] == "mae"] == [None]
    code, out, _ = run_cli("diff", "HEAD:r.yaml", "r.yaml")
    assert "fit [lightgbm_fit] (not run in B)" in out

    code, _, err = run_cli("diff", "no-such-rev:r.yaml", "r.yaml")
    assert code == 2 and "`no-such-rev` names no commit" in err
    code, _, err = run_cli("diff", "--", "--output=x:r.yaml", "r.yaml")
    assert code == 2 and "is not a git revision" in err and not (workspace / "x").exists()
    code, _, err = run_cli("diff", "HEAD:other.yaml", "r.yaml")
    assert code == 2 and "other.yaml did not exist at HEAD" in err
