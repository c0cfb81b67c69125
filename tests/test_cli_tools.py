"""The commands around the core: `init` starters that validate and plan, `doctor`, help with examples."""

from __future__ import annotations

import pytest

from modelops.task_kinds import TASK_KINDS


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_starter_recipes_validate_and_plan(kind, tmp_path, run_cli):
    code, out, err = run_cli("init", kind, "--out", tmp_path / "r" / f"{kind}.yaml", "--name", f"first-{kind}")
    assert code == 0, err
    recipe = tmp_path / "r" / f"{kind}.yaml"
    assert f"wrote {recipe}" in out and recipe.read_text().startswith("# yaml-language-server")
    assert run_cli("validate", recipe)[0] == 0
    code, out, err = run_cli("plan", recipe, cwd=tmp_path)
    assert code == 0, err
    assert f"recipe first-{kind}" in out


def test_starter_keeps_existing_files(tmp_path, run_cli):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.jsonl").write_text("{}\n")
    code, out, _ = run_cli("init", "sft", "--out", tmp_path / "sft.yaml", "--data", "data/mine.jsonl",
                           "--base", "Qwen/Qwen2.5-1.5B-Instruct", "--hardware", "a10x2")
    assert code == 0 and "data/mine.jsonl" not in out and (tmp_path / "data" / "mine.jsonl").read_text() == "{}\n"
    text = (tmp_path / "sft.yaml").read_text()
    assert "base: Qwen/Qwen2.5-1.5B-Instruct" in text and "hardware: a10x2" in text
    code, _, err = run_cli("init", "sft", "--out", tmp_path / "sft.yaml")
    assert code == 2 and "exists" in err


def test_doctor_lists_the_machine(run_cli, tmp_path):
    code, out, _ = run_cli("doctor", cwd=tmp_path)
    assert code in (0, 1)
    for name in ("Python", "torch", "CUDA GPUs", "llama-cpp-python", "Ollama server", "disk"):
        assert name in out


def test_every_command_has_help_with_an_example(run_cli):
    from modelops.cli import app

    names = [command.name or command.callback.__name__ for command in app.registered_commands]
    assert {"init", "doctor", "docs", "chat", "plan", "apply"} <= set(names)
    for name in names:
        code, out, _ = run_cli(name, "--help")
        assert code == 0 and "Example" in out, name


@pytest.mark.parametrize("kind", ["sft", "dpo", "kto"])
def test_starter_sample_data_survives_the_default_cleaning_and_the_schema_it_names_exists(kind, tmp_path, run_cli):
    import json

    recipe = tmp_path / f"{kind}.yaml"
    assert run_cli("init", kind, "--out", recipe)[0] == 0
    schema = recipe.read_text().splitlines()[0].split("$schema=")[1]
    assert json.loads((tmp_path / schema).read_text())["title"]
    code, _, err = run_cli("apply", recipe, "--until", "data", cwd=tmp_path)
    assert code == 0, err
    [stats] = (tmp_path / "runs").glob("*/data-*/out/stats.json")
    counts = json.loads(stats.read_text())
    assert counts["train"] >= 10 and counts["validation"] >= 1


def test_from_scratch_pretrain_starter_needs_no_hub(tmp_path, run_cli):
    recipe = tmp_path / "pretrain.yaml"
    assert run_cli("init", "pretrain", "--from-scratch", "--out", recipe)[0] == 0
    assert "init:" in recipe.read_text() and "base:" not in recipe.read_text()
    code, out, err = run_cli("plan", recipe, cwd=tmp_path)
    assert code == 0, err
    assert "model_fetch" not in out and "tokenizer_train" in out
