"""`modelops apply`: runs real steps, skips finished ones, reruns what changed, and locks its run directory."""

from __future__ import annotations

import json
import os
import socket

from conftest import SFT, write

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
    assert sorted(p.name for p in (data_dir / "out").iterdir()) == ["stats.json", "train.jsonl", "validation.jsonl"]
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


def test_steps_without_a_runner_are_refused_before_anything_runs(run_cli, workspace):
    _rows(workspace)
    code, _, err = run_cli("apply", write(workspace, "r.yaml", RECIPE))
    assert code == 1 and "no runner in this version of modelops" in err and "train_sft" in err
    assert not (workspace / "runs").exists()
