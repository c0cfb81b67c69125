"""`modelops apply`: runs real steps, skips finished ones, reruns what changed, and locks its run directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import RECIPES, ROOT, SFT, write

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
    assert sorted(p.name for p in (data_dir / "out").iterdir()) == [
        "metrics.json",
        "stats.json",
        "train.jsonl",
        "validation.jsonl",
    ]
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
    (workspace / "sft.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n{not json\n',
        encoding="utf-8",
    )
    code, _, err = run_cli("apply", write(workspace, "r.yaml", RECIPE), "--until", "data")
    assert code == 1 and "sft.jsonl:2: invalid JSON" in err and "log.txt" in err
    assert not list((workspace / "runs" / "demo").glob("data-*/out"))


def test_jsonl_splits_on_newlines_only_and_names_a_non_utf8_line(run_cli, workspace):
    row = {
        "messages": [
            {"role": "user", "content": "line\u2028separator\u0085next"},
            {"role": "assistant", "content": "a"},
        ]
    }
    body = json.dumps(row, ensure_ascii=False).encode() + b"\n"
    (workspace / "sft.jsonl").write_bytes(body * 4)
    recipe = write(workspace, "r.yaml", RECIPE)
    code, out, err = run_cli("apply", recipe, "--until", "data")
    assert code == 0, out + err
    [train] = (workspace / "runs" / "demo").glob("data-*/out/train.jsonl")
    from modelops import jsonlines

    assert jsonlines.load(train)[0]["messages"][0]["content"] == "line\u2028separator\u0085next"
    (workspace / "sft.jsonl").write_bytes(body + b'{"messages": "caf\xe9"}\n' + body)
    code, _, err = run_cli("apply", recipe, "--until", "data")
    assert code == 1 and "sft.jsonl:2: not UTF-8 (byte 0xe9 at column 18)" in err and "Traceback" not in err, err


HOLD_LOCK = """
import sys, time
from pathlib import Path
from modelops.apply.lock import RunLock
with RunLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_live_lock_refuses_and_a_stale_lock_is_taken_over(run_cli, workspace):
    _rows(workspace)
    path = write(workspace, "r.yaml", RECIPE)
    workdir = workspace / "runs" / "demo"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(workdir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    code, _, err = run_cli("apply", path, "--until", "data")
    assert code == 1 and f"is being applied by pid {holder.pid}" in err
    holder.kill()  # dies holding it: the kernel releases the lock
    holder.wait()
    assert (workdir / "apply.lock").exists()
    code, _, err = run_cli("apply", path, "--until", "data")
    assert code == 0, err
    assert not (workdir / "apply.lock").exists()


RACE = """
import sys, time
from pathlib import Path
from modelops.apply.lock import LockedError, RunLock
workdir, log = Path(sys.argv[1]), Path(sys.argv[2])
held, deadline = 0, time.monotonic() + 90
while held < 10 and time.monotonic() < deadline:    # retry at once: each release is raced for
    try:
        with RunLock(workdir):
            start = time.monotonic()
            time.sleep(0.002)
            with log.open("a") as handle:
                handle.write(f"{start} {time.monotonic()}\\n")
            held += 1
    except LockedError:
        pass
sys.exit(0 if held == 10 else f"held the lock {held} times in 90 s")
"""


def test_two_processes_racing_for_a_stale_lock_never_both_hold_it(workspace):
    workdir = workspace / "race"
    workdir.mkdir()
    (workdir / "apply.lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))
    log = workspace / "held.txt"
    racers = [subprocess.Popen([sys.executable, "-c", RACE, str(workdir), str(log)], stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    for racer in racers:
        _, errors = racer.communicate(timeout=120)
        assert racer.returncode == 0, errors[-3000:]
    spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert len(spans) == 20, spans                # ten holds each, however the attempts fell under load
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if a[1] > b[0]]
    assert not overlaps, f"two holders at once: {overlaps[:3]} of {len(spans)} spans"


def test_every_planned_step_kind_has_a_runner():
    import importlib.util

    from modelops.plan.planner import plan_recipe

    kinds = {step.kind for path in RECIPES for recipe in plan_recipe(path).recipes for step in recipe.steps}
    assert {"gguf_convert", "gguf_quantize", "gguf_parity", "ollama_modelfile", "llama_server_smoke"} <= kinds
    assert [k for k in sorted(kinds) if importlib.util.find_spec(f"modelops.steps.{k}") is None] == []
    from modelops.step_kinds import STEP_KINDS, step_kind

    runners = {p.stem for p in (ROOT / "modelops" / "steps").glob("*.py")} - {"__init__", "runtime"}
    assert set(STEP_KINDS) == runners                      # every runner has its facts, every fact a runner
    with pytest.raises(ValueError, match="unknown step kind `train_orpo`"):
        step_kind("train_orpo")


DRIVER = """
import sys, time
import modelops.plan.planner as planner
from modelops import cli

real = planner.plan_recipe

def with_sleeping_data_step(*args, **kwargs):
    plan = real(*args, **kwargs)
    for step in plan.steps:
        if step.short_id == "data":
            sleep = "import os, time; open('sleeping', 'w').write(str(os.getpid())); time.sleep(120)"
            step.command = ["python", "-c", sleep]
    return plan

planner.plan_recipe = with_sleeping_data_step
sys.argv = ["modelops", "apply", sys.argv[1], "--until", "data", *sys.argv[2:]]
cli.main()
"""


def _start_sleeping_apply(workspace, recipe, *options):
    driver = write(workspace, "driver.py", DRIVER)
    (workspace / "sleeping").unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, str(driver), str(recipe), *options],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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

    code, _, err = run_cli("apply", recipe, "--until", "data")  # a concurrent apply is refused clearly
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


def test_a_step_killed_by_a_signal_says_so_and_is_recorded_as_failed(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    process, step_pid = _start_sleeping_apply(workspace, recipe)
    os.kill(step_pid, signal.SIGSEGV)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "failed (killed by signal 11 (SIGSEGV, segmentation fault))" in err and "log.txt" in err
    assert "hint: a native library crashed" in err and "MODELOPS_LLAMA_REPACK" in err
    code, out, _ = run_cli("status", recipe)
    assert code == 0 and "demo/data" in out and "failed" in out and "killed by signal 11" in out
    report = (workspace / "runs" / "demo" / "report.md").read_text()
    assert "failed " in report and "SIGSEGV" in report


def test_force_keeps_the_finished_output_until_the_new_one_replaces_it(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    assert run_cli("apply", recipe, "--until", "data")[0] == 0
    [out] = (workspace / "runs" / "demo").glob("data-*/out")
    before = (out / "train.jsonl").read_text()
    process, _ = _start_sleeping_apply(workspace, recipe, "--force", "data")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 130
    assert (out / "train.jsonl").read_text() == before  # the interrupted rerun left the good output
    code, out_text, _ = run_cli("status", recipe)
    assert "demo/data" in out_text and "up-to-date" in out_text.split("demo/data", 1)[1].splitlines()[0]
    code, _, err = run_cli("apply", recipe, "--until", "data", "--force", "data")
    assert code == 0, err
    assert not list((workspace / "runs" / "demo").glob("data-*/out.replaced"))


def test_unknown_steps_get_a_suggestion_and_logs_shows_a_step_log(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    code, _, err = run_cli("apply", recipe, "--until", "dta")
    assert code == 2 and "did you mean `data`" in err
    code, _, err = run_cli("logs", recipe, "data")
    assert code == 1 and "has not run" in err
    run_cli("apply", recipe, "--until", "data")
    code, out, _ = run_cli("logs", recipe, "data", "--tail", "1")
    assert code == 0 and len(out.strip().splitlines()) == 1


def test_files_modelops_writes_respect_the_umask(run_cli, workspace):
    _rows(workspace)
    old = os.umask(0o022)
    try:
        recipe = write(workspace, "r.yaml", RECIPE)
        run_cli("apply", recipe, "--until", "data")
        run_cli("plan", recipe, "--out", "plan.json")
    finally:
        os.umask(old)
    for path in (
        workspace / "runs" / "demo" / "state.json",
        workspace / "runs" / "demo" / "report.html",
        workspace / "plan.json",
    ):
        assert oct(path.stat().st_mode & 0o777) == oct(0o644), path


def test_detailed_exitcode_is_1_for_an_invalid_recipe_and_version_and_late_no_color_work(run_cli, workspace):
    recipe = write(workspace, "bad.yaml", RECIPE.replace("kind: sft", "kind: sfft"))
    assert run_cli("plan", recipe, "--detailed-exitcode")[0] == 1
    assert run_cli("plan", recipe)[0] == 2
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("modelops ")
    result = subprocess.run(
        [sys.executable, "-m", "modelops", "hardware", "--no-color"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "a10-24g" in result.stdout


def test_gc_lists_then_removes_step_folders_no_state_references(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    run_cli("apply", recipe, "--until", "data")
    [first] = (workspace / "runs" / "demo").glob("data-*")
    write(workspace, "r.yaml", RECIPE.replace("fraction: 0.5", "fraction: 0.25"))
    run_cli("apply", recipe, "--until", "data")
    [current] = [p for p in (workspace / "runs" / "demo").glob("data-*") if p != first]
    code, out, _ = run_cli("gc", workspace / "runs")
    assert code == 0 and f"would remove {first}" in out and str(current) not in out and first.exists()
    code, out, _ = run_cli("gc", workspace / "runs", "--yes")
    assert code == 0 and not first.exists() and (current / "out" / "train.jsonl").exists()
    assert run_cli("plan", recipe, "--detailed-exitcode")[1].count("up-to-date") == 1


def test_verdicts_warn_when_a_run_made_things_worse():
    from modelops.apply.verdicts import verdicts

    worse = verdicts(
        {
            "eval_loss_before": 2.0,
            "eval_loss": 2.4,
            "eval_rewards/accuracies": 0.25,
            "beats_naive": False,
            "mae": 3.0,
            "naive_mae": 2.5,
        }
    )
    assert [v.ok for v in worse] == [False, False, False]
    assert "ROSE" in worse[0].text and "not above chance" in worse[1].text and "WORSE than a naive" in worse[2].text
    better = verdicts({"eval_loss_before": 2.0, "eval_loss": 1.5, "preference_win_rate": 0.9, "beats_naive": True})
    assert all(v.ok for v in better) and len(better) == 3
    assert verdicts({"rows": 10}) == []
    assert "unchanged" in verdicts({"eval_loss_before": 2.0, "eval_loss": 2.0})[0].text




@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b"null",
        b'{"steps": {"data": {"fingerprint": "x"',
        b"\xff\xfe\x00binary",
        b'{"steps": {"data": {}}}',
        b'{"steps": [], "failures": {}}',
    ],
)
def test_a_broken_state_file_is_one_clear_error_in_every_command(run_cli, workspace, content):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    (workspace / "runs" / "demo").mkdir(parents=True)
    state = workspace / "runs" / "demo" / "state.json"
    state.write_bytes(content)
    for command in (
        ["status", recipe],
        ["plan", recipe],
        ["apply", recipe, "--until", "data"],
        ["gc", workspace / "runs"],
    ):
        code, out, err = run_cli(*command)
        assert code == 1 and "runs/demo/state.json" in err and "Traceback" not in out + err, (command, out, err)
    code, out, _ = run_cli("runs", workspace / "runs")
    assert code == 0 and "unreadable" in out


def test_a_missing_or_stale_report_is_rebuilt_even_when_nothing_runs(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    run_cli("apply", recipe, "--until", "data")
    workdir = workspace / "runs" / "demo"
    (workdir / "report.html").unlink()
    (workdir / ".report.html.abc123").write_text("half")  # a write killed midway
    code, out, _ = run_cli("apply", recipe, "--until", "data")
    assert code == 0 and "nothing to do" in out and "rebuilt" in out
    assert (workdir / "report.html").is_file() and not list(workdir.glob(".report.*"))
    code, out, _ = run_cli("apply", recipe, "--until", "data")
    assert "rebuilt" not in out
    os.utime(workdir / "report.md", (1, 1))  # older than state.json
    assert "rebuilt" in run_cli("apply", recipe, "--until", "data")[1]


def test_outputs_changed_in_place_are_found_cheaply_or_by_verify_and_rerun(run_cli, workspace):
    _rows(workspace)
    recipe = write(workspace, "r.yaml", RECIPE)
    assert run_cli("apply", recipe, "--until", "data")[0] == 0
    [train] = (workspace / "runs" / "demo").glob("data-*/out/train.jsonl")
    written = train.read_bytes()
    train.write_bytes(written.replace(b"q0", b"q9"))  # same size, new mtime: the cheap check sees it
    relative = train.relative_to(workspace)
    code, out, _ = run_cli("plan", recipe)
    assert "demo/data: changed" in out and f"! outputs changed since the step ran: {relative}" in out
    code, out, _ = run_cli("apply", recipe, "--until", "data")
    assert code == 0 and "! outputs changed" in out and train.read_bytes() == written

    stamp = train.stat()
    train.write_bytes(written.replace(b"q0", b"q9"))
    os.utime(train, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # size and mtime as recorded: only a hash sees it
    assert "nothing to do" in run_cli("apply", recipe, "--until", "data")[1]
    code, out, err = run_cli("verify", recipe)
    assert code == 1 and f"! demo/data: {relative}" in out and "apply" in err
    code, out, _ = run_cli("apply", recipe, "--until", "data", "--verify")
    assert code == 0 and "! outputs changed" in out and train.read_bytes() == written
    code, out, _ = run_cli("verify", recipe)
    assert code == 0 and "= demo/data: 3 output(s) as written" in out
