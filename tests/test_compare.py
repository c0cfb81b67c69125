"""`modelops plan --against REF|plan.json`: the plan diff a reviewer reads in a pull request."""

from __future__ import annotations

import json
import subprocess

from conftest import SFT, write


def _git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(folder)})


def test_plan_against_a_git_revision_names_changes_and_costs(workspace, run_cli):
    recipe = write(workspace, "r.yaml", SFT.replace("hardware: cpu", "hardware: a10x2"))
    _git(workspace, "init", "-q")
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-qm", "base")
    write(
        workspace, "r.yaml", SFT.replace("hardware: cpu", "hardware: a10x4").replace("batch_size: 8", "batch_size: 16")
    )
    with (workspace / "sft.jsonl").open("a") as handle:
        handle.write(
            json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}) + "\n"
        )

    code, out, err = run_cli("plan", recipe, "--against", "HEAD", "--format", "markdown", cwd=workspace)
    assert code == 0, err
    section = out.split("#### Changes against `HEAD`")[1]
    assert "| `demo/data` | changed | input train (sft.jsonl) changed |" in section
    assert "task.batch\\_size: 8 → 16" in section and "upstream demo/data changed" in section
    assert "hardware NVIDIA A10 24 GB × 2 → NVIDIA A10 24 GB × 4" in section
    assert section.index("hardware NVIDIA A10") < section.index("| step | change | why |")      # the cause first
    assert "training setup: devices 2 → 4" in section and "setup.reasons" not in section
    assert "setup.memory\\_gib" not in section and "memory_gib" not in section
    assert (
        not list(workspace.glob("modelops-against-*"))
        and "modelops-against"
        not in subprocess.run(["git", "worktree", "list"], cwd=workspace, capture_output=True, text=True).stdout
    )

    code, out, _ = run_cli("plan", recipe, "--against", "no-such-ref", cwd=workspace)
    assert code == 2


def test_plan_against_a_saved_plan_and_an_added_step(workspace, run_cli):
    recipe = write(workspace, "r.yaml", SFT)
    assert run_cli("plan", recipe, "--out", workspace / "old.json", cwd=workspace)[0] == 0
    write(workspace, "r.yaml", SFT + "deploy: {target: hf}\n")
    code, out, _ = run_cli("plan", recipe, "--against", workspace / "old.json", cwd=workspace)
    assert code == 0 and "+ demo/model-card (added)" in out
    code, out, _ = run_cli("plan", recipe, "--against", workspace / "old.json", "--format", "json", cwd=workspace)
    diff = json.loads(out.strip().splitlines()[-1])
    assert {"id": "demo/model-card", "status": "added", "reasons": []} in diff["steps"]


def test_the_ci_workflow_runs_no_file_name_from_the_pull_request_as_code(workspace):
    """The example workflow's own shell steps, run here on a pull request that adds a recipe whose name is
    a command: the recipe is validated and planned, and the command never runs."""
    import os
    import sys

    import yaml
    from conftest import ROOT

    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "modelops-recipes.yml").read_text())
    steps = {step.get("name"): step for step in workflow["jobs"]["review"]["steps"]}
    _git(workspace, "init", "-q", "-b", "main")
    write(workspace, "README.md", "base\n")
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-q", "-m", "base")
    _git(workspace, "update-ref", "refs/remotes/origin/main", "HEAD")
    (workspace / "recipes").mkdir()
    hostile = workspace / "recipes" / "x$(touch${IFS}pwned_ci).yaml"
    hostile.write_text(SFT)
    (workspace / "recipes" / "sft.jsonl").write_text((workspace / "sft.jsonl").read_text())
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-q", "-m", "pr")
    env = {**os.environ, "BASE_REF": "main", "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    for name in ("Changed recipes", "Validate (annotations on the changed lines)", "Plan against the base branch"):
        result = subprocess.run(
            ["bash", "-e", "-c", steps[name]["run"]],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (name, result.stderr[-2000:])
    assert (workspace / "recipes.bin").read_bytes() == b"recipes/x$(touch${IFS}pwned_ci).yaml\0"
    assert "## modelops plan" in (workspace / "plan-comment.md").read_text()
    assert not list(workspace.rglob("pwned_ci"))


def test_against_refuses_options_and_non_commits_and_leaves_no_worktree(workspace, run_cli):
    recipe = write(workspace, "r.yaml", SFT)
    _git(workspace, "init", "-q")
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-q", "-m", "base")
    for revision in ("--lock", "-f", "--no-checkout", "nonexistent-branch", "HEAD:r.yaml"):
        code, _, err = run_cli("plan", recipe, f"--against={revision}", cwd=workspace)
        assert code == 2 and "cannot check out" in err and "Traceback" not in err, (revision, err)
    listed = subprocess.run(["git", "worktree", "list"], cwd=workspace, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1
    (workspace / "old.json").write_text('{"recipes": [{"name": 1}]}')
    code, _, err = run_cli("plan", recipe, "--against", str(workspace / "old.json"), cwd=workspace)
    assert code == 2 and "not a plan saved by" in err
