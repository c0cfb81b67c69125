"""Recipes from strangers (pull requests run `validate` and `plan` in CI): nothing from the machine's files
reaches the output, system paths and special files are refused quickly, and every refusal is positioned."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import REGRESSION, SFT, write

SECRET = "FAKE_SECRET_TOKEN_3f9a"


@pytest.mark.parametrize("path, words", [
    ("/proc/self/environ", "is a system path"),
    ("/proc/1/cwd/x.csv", "is a system path"),
    ("/usr", "is a system path"),
    ("/", "is a system path"),
    ("/dev/zero", "is a system path"),
    ("fifo.csv", "is not a regular file"),
    ("notes.txt", "is not a table file"),
    ("empty-folder", "folder without text data files"),
])
def test_data_paths_that_are_not_data_are_refused_quickly_without_their_content(run_cli, workspace, monkeypatch,
                                                                                 path, words):
    monkeypatch.setenv(SECRET, "s3cr3t-value")
    os.mkfifo(workspace / "fifo.csv")
    (workspace / "notes.txt").write_text(f"{SECRET}=s3cr3t-value\n")
    (workspace / "empty-folder").mkdir()
    recipe = write(workspace, "r.yaml", REGRESSION.replace("path: table.csv", f"path: {path}").replace(
        "target: activations", "target: nope"))
    started = time.monotonic()
    for fmt in ("text", "json", "github"):
        code, out, err = run_cli("validate", recipe, "--format", fmt)
        assert code == 2 and words in out + err and "r.yaml" in out + err and ("4" in out + err)
        assert "s3cr3t" not in out + err and SECRET not in out + err
    assert time.monotonic() - started < 5


def test_a_header_that_does_not_look_like_column_names_is_not_listed(run_cli, workspace):
    (workspace / "odd.csv").write_text("PATH=/usr/bin:/bin," + "x" * 200 + "\n1,2\n")
    recipe = write(workspace, "r.yaml", REGRESSION.replace("path: table.csv", "path: odd.csv"))
    code, _, err = run_cli("validate", recipe)
    assert code == 2 and "column `activations` is not in odd.csv" in err
    assert "PATH=" not in err and "xxxx" not in err and "check its header" in err


OLLAMA = """
deploy:
  target: ollama
  ollama:
"""


@pytest.mark.parametrize("ollama, key, words", [
    ("    name: 'x; touch pwned; echo '", "deploy.ollama.name", "not an Ollama model name"),
    ('    name: "ok\\nSYSTEM evil"', "deploy.ollama.name", "not an Ollama model name"),
    ('    parameters: {stop: ["###\\nADAPTER ./evil.gguf"]}', "deploy.ollama.parameters.stop", "newline"),
    ('    parameters: {stop: \'a" evil\'}', "deploy.ollama.parameters.stop", "double quote"),
    ("    license: 'MIT\"'", "deploy.ollama.license", 'starts or ends with `"`'),
    ('    messages: [{role: user, content: \'hi""\'}]', "deploy.ollama.messages[0].content", 'starts or ends with `"`'),
    ("    system: 'a\"\"\"b'", "deploy.ollama.system", '`"""`'),
])
def test_nothing_can_break_out_of_the_modelfile_or_the_create_script(run_cli, workspace, ollama, key, words):
    from conftest import SFT

    recipe = write(workspace, "r.yaml", SFT + OLLAMA + ollama + "\n")
    code, _, err = run_cli("validate", recipe)
    assert code == 2 and f"{key}:" in err and words in err, err


def test_generated_create_script_quotes_the_model_name(tmp_path):
    import json
    import subprocess
    import sys

    bundle_inputs = tmp_path / "in"
    bundle_inputs.mkdir()
    (bundle_inputs / "model-q8_0.gguf").write_bytes(b"GGUF")
    (bundle_inputs / "Modelfile").write_text("FROM ./model-q8_0.gguf\n")
    (bundle_inputs / "modelfile.json").write_text(json.dumps({"name": "team/model:1.0 $(touch pwned)"}))
    out = tmp_path / "out"
    out.mkdir()
    spec = {
        "id": "r/ollama",
        "kind": "ollama_create",
        "fingerprint": "f",
        "params": {"name": "team/model:1.0", "host": None, "require": False},
        "inputs": {
            "gguf": str(bundle_inputs / "model-q8_0.gguf"),
            "Modelfile": str(bundle_inputs / "Modelfile"),
            "modelfile.json": str(bundle_inputs / "modelfile.json"),
        },
        "outputs": [],
        "out": str(out),
        "events": str(tmp_path / "events.jsonl"),
    }
    (tmp_path / "step.json").write_text(json.dumps(spec))
    result = subprocess.run(
        [sys.executable, "-m", "modelops.steps.ollama_create", str(tmp_path / "step.json")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    script = (out / "bundle" / "create.sh").read_text()
    assert "ollama create 'team/model:1.0 $(touch pwned)' -f Modelfile" in script


LAUGHS = "version: 1\nname: x\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "text, words",
    [
        (LAUGHS, "expands to more than 100,000 values"),
        ("version: 1\nname: x\nself: &s\n  - *s\n", "refers to itself"),
        ("version: 1\nname: x\nbase: &b\n  <<: *b\n  k: 1\n", "merges a mapping into itself"),
        ("version: 1\nname: x\ndeep: " + "[" * 200 + "]" * 200 + "\n", "nests deeper than 64"),
        ("version: 1\nname: x\ndeep: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper than 64 levels"),
        ('version: 1\nname: x\nseed: !!int "abc"\n', "not a valid !!int value"),
        ("version: 1\nname: x\nseed: " + "9" * 5000 + "\n", "a number of 5,000 characters"),
    ],
)
def test_hostile_yaml_is_a_positioned_error_in_well_under_a_second(run_cli, workspace, text, words):
    recipe = write(workspace, "r.yaml", text)
    started = time.monotonic()
    code, out, err = run_cli("validate", recipe)
    assert time.monotonic() - started < 2
    assert code == 2 and words in err and "r.yaml:" in err and "Traceback" not in out + err, err


@pytest.mark.parametrize(
    "workdir, ok",
    [("../../../escaped-run", False), ("runs/../../x", False), ("runs/mine", True), ("/tmp/explicit-runs", True)],
)
def test_a_relative_workdir_cannot_leave_the_working_directory(run_cli, workspace, workdir, ok):
    from conftest import SFT

    code, _, err = run_cli("validate", write(workspace, "r.yaml", SFT + f"workdir: {workdir}\n"))
    assert (code == 0) == ok and (ok or "r.yaml:11:10: workdir: " in err and "leaves the working directory" in err), err


HOSTILE = "x\n```\n## ✅ Approved\n@octocat <img src=x onerror=alert(1)> [l](http://e) \x1b]0;pwned\x07\x1b[2J"


def _markdown_structure(text: str) -> dict:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    inline = [child for token in tokens for child in (token.children or [])]
    return {
        "headings": [t.tag for t in tokens if t.type == "heading_open"],
        "html": [t.content.strip() for t in tokens + inline if t.type in ("html_block", "html_inline")],
        "links": [t.type for t in inline if t.type in ("link_open", "image")],
        "fences": len([t for t in tokens if t.type == "fence"]),
        "text": " ".join(t.content for t in inline if t.type == "text"),
    }  # code spans are inert


def test_recipe_values_cannot_break_out_of_the_markdown_plan_or_reach_the_terminal(run_cli, workspace):
    recipe = write(workspace, "r.yaml", SFT + f"workdir: {json.dumps('runs/' + HOSTILE)}\n")
    code, out, err = run_cli("plan", recipe, "--format", "markdown")
    assert code == 0, err
    shape = _markdown_structure(out)
    assert shape["headings"] == ["h3"] and not shape["links"]
    assert shape["html"] == ["<details><summary>Commands and generated configs</summary>", "</details>"]
    assert shape["fences"] == 2  # the commands and accelerate.yaml
    assert "@octocat" not in shape["text"] and "\x1b" not in out and "\x07" not in out
    for fmt in ("text", "json"):
        code, out, err = run_cli("plan", recipe, "--format", fmt)
        assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b]0;pwned\\x07" in run_cli("plan", recipe)[1]  # shown, not acted on


def test_problems_cannot_inject_annotations_or_escape_sequences(run_cli, workspace):
    recipe = write(workspace, "x,y::z.yaml", SFT.replace("path: sft.jsonl", f"path: {json.dumps(HOSTILE + '.jsonl')}"))
    code, out, _ = run_cli("validate", recipe, "--format", "github")
    assert (
        code == 2
        and out.strip()
        and all(line.startswith("::error file=x%2Cy%3A%3Az.yaml,line=") for line in out.splitlines())
    )
    code, _, err = run_cli("validate", recipe)
    assert code == 2 and "\x1b" not in err and "\\x1b[2J" in err and "\n## ✅" not in err


@pytest.mark.parametrize(
    "edit",
    [
        ("workdir: runs", None),
        ("path: sft.jsonl", 'path: "${FAKE_SECRET_TOKEN_3f9a}/sft.jsonl"'),
        ("base: Qwen/Qwen2.5-0.5B-Instruct", "base: ${FAKE_SECRET_TOKEN_3f9a}"),
        ("name: demo", "name: ${FAKE_SECRET_TOKEN_3f9a}"),
        ("kind: sft", "kind: sft\n  learning_rate: ${FAKE_SECRET_TOKEN_3f9a}"),
    ],
)
def test_environment_values_never_reach_validate_or_plan_output(run_cli, workspace, monkeypatch, edit):
    monkeypatch.setenv("FAKE_SECRET_TOKEN_3f9a", "s3cr3t-value")
    text = SFT + "workdir: runs/${FAKE_SECRET_TOKEN_3f9a}\n" if edit[1] is None else SFT.replace(*edit)
    recipe = write(workspace, "r.yaml", text)
    for command in ("validate", "plan"):
        for fmt in ("text", "json", "github") if command == "validate" else ("text", "json", "markdown"):
            code, out, err = run_cli(command, recipe, "--format", fmt)
            assert code == 2 and "s3cr3t" not in out + err, (command, fmt, out + err)
            assert "FAKE_SECRET_TOKEN_3f9a" in out + err and "hardware.scheduler" in out + err


def test_network_destinations_are_shown_as_written(run_cli, workspace, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER", "tcp://s3cr3t-host:8786")
    recipe = write(workspace, "r.yaml", REGRESSION + "hardware: {engine: dask, scheduler: '${DASK_SCHEDULER}'}\n")
    for fmt in ("text", "markdown", "json"):
        code, out, err = run_cli("plan", recipe, "--format", fmt)
        assert code == 0 and "s3cr3t" not in out + err, err
        assert "Dask scheduler ${DASK_SCHEDULER}" in out and "hardware.scheduler" in out
    code, out, _ = run_cli("plan", write(workspace, "local.yaml", REGRESSION))
    assert "network: none (nothing leaves this machine)" in out
    code, out, _ = run_cli("plan", write(workspace, "sft.yaml", SFT), "--format", "markdown")
    assert "`model.base`: `Hugging Face Hub" in out and "downloads Qwen/Qwen2.5-0.5B-Instruct" in out


@pytest.mark.parametrize(
    "edit, key, words",
    [
        (("groups: [user_id, material_id]", "groups: [__group, material_id]"), "task.groups[0]", "reserved"),
        (("features: [clicks]", "features: [__time]"), "task.features[0]", "reserved"),
        (
            ("horizon: 2", "horizon: 2\n  calendar: [hour]\n  static_features: [hour]"),
            "task.static_features[0]",
            "calendar feature",
        ),
        (("horizon: 2", "horizon: 2\n  known_features: [activations_lag1]"), "task.known_features[0]", "lag feature"),
        (
            ("horizon: 2", "horizon: 2\n  static_features: [clicks]"),
            "task.static_features[0]",
            "also in `task.features`",
        ),
    ],
)
def test_column_names_that_collide_in_the_model_inputs_are_positioned_errors(run_cli, workspace, edit, key, words):
    text = REGRESSION.replace(*edit)
    line = next(
        n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith(key.split(".")[1].split("[")[0])
    )
    code, _, err = run_cli("validate", write(workspace, "r.yaml", text))
    assert code == 2 and f"r.yaml:{line}:" in err and f"{key}: " in err and words in err, err
