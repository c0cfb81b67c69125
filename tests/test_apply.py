"""`modelops apply`: runs real steps, skips finished ones, reruns what changed, and locks its run directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from conftest import RECIPES, SFT, write

RECIPE = SFT.replace("format: messages}", "format: messages}\n  validation: {fraction: 0.5}")


def _rows(folder, n=6):
    lines = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]})
             for i in range(n)]
    (folder / "sft.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_apply_runs_then_skips_then_reruns_what_changed(run_cli, workspace):
    _rows(workspace)
    path = write(workspace, "r.yaml", RECIPE)
    code, out, err = run_cli("apply", path, "--until", "data")
    assert code == 0, err
    [data_dir] = (workspace / "runs" / "demo").glob("data-*")
    assert sorted(p.name for p in (data_dir / "out").iterdir()) == ["metrics.json", "stats.json", "train.jsonl", "validation.jsonl"]
    assert json.loads((data_dir / "out" / "stats.json").read_text())["validation"] == 3
    assert (data_dir / "log.txt").read_text().startswith("train 3 rows")

    code, out, _ = run_cli("apply", path, "--until", "data")
    assert code == 0 and "= demo/data: up-to-date" in out and "nothing to do" in out

    write(workspace, "r.yaml", RECIPE.replace("fraction: 0.5", "fraction: 0.25"))
    code, out, _ = run_cli("apply", path, "--until", "data")
    assert code == 0 and "~ changed: validation_fraction 0.5 → 0.25" in out and "ran" in out

    _rows(workspace, 8)
    code, out, _ = run_cli("apply", path, "--until", "data")
    assert code == 0 and "~ input changed: sft.jsonl" in out

    code, out, _ = run_cli("apply", path, "--until", "data", "--force", "data")
    assert code == 0 and "~ forced" in out


def test_bad_rows_fail_with_file_and_line(run_cli, workspace):
    (workspace / "sft.jsonl").write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
                                         "{not json\n", encoding="utf-8")
    code, _, err = run_cli("apply", write(workspace, "r.yaml", RECIPE), "--until", "data")
    assert code == 1 and "sft.jsonl:2: invalid JSON" in err and "log.txt" in err
    assert not list((workspace / "runs" / "demo").glob("data-*/out"))


def test_a_live_lock_refuses_and_a_stale_lock_is_taken_over(run_cli, workspace):
    _rows(workspace)
    path = write(workspace, "r.yaml", RECIPE)
    lock = workspace / "runs" / "demo" / "apply.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    code, _, err = run_cli("apply", path, "--until", "data")
    assert code == 1 and "is being applied by pid" in err
    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))
    code, _, err = run_cli("apply", path, "--until", "data")
    assert code == 0, err and not lock.exists()


def test_every_planned_step_kind_has_a_runner():
    import importlib.util

    from modelops.plan.planner import plan_recipe

    kinds = {step.kind for path in RECIPES for recipe in plan_recipe(path).recipes for step in recipe.steps}
    assert {"gguf_convert", "gguf_quantize", "gguf_parity", "ollama_modelfile", "llama_server_smoke"} <= kinds
    assert [k for k in sorted(kinds) if importlib.util.find_spec(f"modelops.steps.{k}") is None] == []


DRIVER = """
import sys, time
import modelops.plan.planner as planner
from modelops import cli

real = planner.plan_recipe

def with_sleeping_data_step(*args, **kwargs):
    plan = real(*args, **kwargs)
    for step in plan.steps:
        if step.short_id == "data":
            step.command = ["python", "-c", "import os, time; open('sleeping', 'w').write(str(os.getpid())); time.sleep(120)"]
    return plan

planner.plan_recipe = with_sleeping_data_step
sys.argv = ["modelops", "apply", sys.argv[1], "--until", "data"]
cli.main()
"""


def _start_sleeping_apply(workspace, recipe):
    driver = write(workspace, "driver.py", DRIVER)
    process = subprocess.Popen([sys.executable, str(driver), str(recipe)], cwd=workspace,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = workspace / "sleeping"
    for _ in range(300):
        if marker.exists() and marker.read_text():
            return process, int(marker.read_text())
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the sleeping step never started: " + process.communicate()[1])


def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_kill_9_mid_step_then_a_second_apply_completes(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    process, step_pid = _start_sleeping_apply(workspace, recipe)

    code, _, err = run_cli("apply", recipe, "--until", "data")        # a concurrent apply is refused clearly
    assert code == 1 and "is being applied by pid" in err

    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _gone(step_pid), "the step process outlived a killed apply"
    assert (workspace / "runs" / "demo" / "apply.lock").exists()
    assert not list((workspace / "runs" / "demo").glob("data-*/out"))

    code, out, err = run_cli("apply", recipe, "--until", "data")
    assert code == 0, err
    assert "+ demo/data: new" in out and list((workspace / "runs" / "demo").glob("data-*/out/train.jsonl"))
    state = json.loads((workspace / "runs" / "demo" / "state.json").read_text())
    assert set(state["steps"]) == {"data"}


def test_sigterm_stops_cleanly_and_says_how_to_resume(workspace):
    _rows(workspace)
    process, step_pid = _start_sleeping_apply(workspace, write(workspace, "r.yaml", RECIPE))
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted during demo/data" in err and "run the same `modelops apply` again" in err
    assert _gone(step_pid)
    assert not (workspace / "runs" / "demo" / "apply.lock").exists()


def test_a_saved_plan_applies_and_is_refused_once_the_recipe_changed(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    code, _, _ = run_cli("plan", recipe, "--out", "plan.json")
    assert code == 0
    code, _, err = run_cli("apply", "plan.json", "--until", "data")
    assert code == 0, err
    write(workspace, "r.yaml", RECIPE.replace("fraction: 0.5", "fraction: 0.3"))
    code, _, err = run_cli("apply", "plan.json", "--until", "data")
    assert code == 1 and "plan.json is stale" in err and "demo/data" in err


def test_plan_shows_pending_changes_and_detailed_exitcode(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    code, out, _ = run_cli("plan", recipe, "--detailed-exitcode")
    assert code == 2 and "+ demo/data: new" in out
    run_cli("apply", recipe, "--until", "data")
    code, out, _ = run_cli("plan", recipe, "--detailed-exitcode")
    assert code == 2 and "= demo/data: up-to-date" in out and "+ demo/train: new" in out


def test_report_and_summary_after_apply(run_cli, workspace):
    _rows(workspace)
    code, out, _ = run_cli("apply", write(workspace, "r.yaml", RECIPE), "--until", "data")
    assert code == 0 and "apply summary" in out and "train 3" in out
    report = (workspace / "runs" / "demo" / "report.md").read_text()
    assert "| `data` | `lm_data` | done" in report and "| validation | 3 |" in report and "| `train` |" in report
    html = (workspace / "runs" / "demo" / "report.html").read_text()
    assert "<h2>data: " in html and "pending" in html


def test_an_unwritable_run_directory_is_reported(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE + "workdir: /sys/modelops-run\n")
    code, _, err = run_cli("apply", recipe, "--until", "data")
    assert code == 1 and "cannot write the run directory" in err and "/sys/modelops-run" in err


def test_a_full_disk_while_recording_leaves_nothing_marked_done(run_cli, workspace, monkeypatch):
    import errno

    import modelops.apply.state as state_module

    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(state_module, "write_atomically", full)
        code, _, err = run_cli("apply", recipe, "--until", "data")
    assert code == 1 and "No space left on device" in err
    code, out, err = run_cli("apply", recipe, "--until", "data")
    assert code == 0 and "+ demo/data: new" in out, err
