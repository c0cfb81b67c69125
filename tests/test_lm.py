"""Language-model tasks end to end on this CPU, offline: a SentencePiece tokenizer and a tiny Llama built
from the bundled Chinese corpus, pretrained, then SFT (LoRA, merged) from it, then DPO from the SFT."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from conftest import ROOT, write

PRETRAIN = textwrap.dedent("""
    version: 1
    name: tiny-pre
    seed: 1
    data:
      train: {path: corpus.txt, format: text}
      validation: {fraction: 0.1}
    model:
      init: {architecture: llama, hidden_size: 64, num_layers: 2, num_heads: 4, intermediate_size: 128, max_position_embeddings: 256}
      tokenizer: {train: {vocab_size: 800}}
      chat_template: chatml
    task:
      kind: pretrain
      max_steps: 120
      learning_rate: 3.0e-3
      batch_size: 16
      max_length: 64
    hardware: cpu
""").lstrip()
SFT = textwrap.dedent("""
    version: 1
    name: tiny-sft
    seed: 1
    data:
      train: {path: sft.jsonl, format: messages}
      validation: {fraction: 0.1}
    model:
      base: {from: pre.yaml}
    task:
      kind: sft
      adapter: {type: lora, r: 8, alpha: 16}
      max_steps: 40
      learning_rate: 5.0e-3
      batch_size: 8
      max_length: 128
    hardware: cpu
""").lstrip()
DPO = textwrap.dedent("""
    version: 1
    name: tiny-dpo
    seed: 1
    data:
      train: {path: preference.jsonl, format: preference}
      validation: {fraction: 0.2}
    model:
      base: {from: sft.yaml}
    task:
      kind: dpo
      max_steps: 15
      learning_rate: 1.0e-3
      batch_size: 8
      max_length: 128
    hardware: cpu
""").lstrip()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """pretrain → sft → dpo applied once through `modelops apply dpo.yaml` (which plans the whole chain)."""
    from typer.testing import CliRunner

    from modelops.cli import app

    folder = tmp_path_factory.mktemp("lm")
    for name in ("corpus.txt", "sft.jsonl", "preference.jsonl"):
        shutil.copy(ROOT / "examples" / "tiny-zh" / name, folder / name)
    write(folder, "pre.yaml", PRETRAIN + f"workdir: {folder}/runs/pre\n")
    write(folder, "sft.yaml", SFT + f"workdir: {folder}/runs/sft\n")
    recipe = write(folder, "dpo.yaml", DPO + f"workdir: {folder}/runs/dpo\n")
    result = CliRunner().invoke(app, ["apply", str(recipe), "-q"])
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


def _out(folder, run, step):
    [path] = (folder / "runs" / run).glob(f"{step}-*/out")
    return path


def _metrics(folder, run, step):
    return json.loads((_out(folder, run, step) / "metrics.json").read_text())


def test_pretraining_from_scratch_lowers_the_loss(chain):
    tokenizer = _out(chain, "pre", "tokenizer") / "tokenizer"
    assert (tokenizer / "tokenizer.json").exists() and "<|im_start|>" in (tokenizer / "chat_template.jinja").read_text()
    assert _metrics(chain, "pre", "init")["parameters"] == 133_440          # the planner's estimate, exactly
    train = _metrics(chain, "pre", "train")
    assert train["steps"] == 120 and train["last_loss"] < train["first_loss"] - 1.5
    assert (_out(chain, "pre", "train") / "model" / "model.safetensors").exists()
    assert (_out(chain, "pre", "train") / "plots" / "loss.png").exists()
    evaluation = _metrics(chain, "pre", "evaluate")
    assert evaluation["perplexity"] < 800          # a uniform guess over 800 tokens scores 800


def test_sft_trains_a_lora_adapter_and_merges_it(chain):
    adapter = _out(chain, "sft", "train") / "adapter"
    assert (adapter / "adapter_model.safetensors").exists() and not (adapter / "training_args.bin").exists()
    train = _metrics(chain, "sft", "train")
    assert train["last_loss"] < train["first_loss"]
    merged = _out(chain, "sft", "merge") / "model"
    assert {"model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {p.name for p in merged.iterdir()}


def test_dpo_from_the_sft_reports_a_preference_win_rate(chain):
    train = _metrics(chain, "dpo", "train")
    assert train["steps"] == 15 and train["first_loss"] == pytest.approx(0.6931, abs=1e-3)   # log 2 at the start
    evaluation = _metrics(chain, "dpo", "evaluate")
    assert 0 <= evaluation["preference_win_rate"] <= 1 and evaluation["preference_pairs"] == 8
    samples = (_out(chain, "dpo", "evaluate") / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 3 and "<|im_start|>assistant" in json.loads(samples[0])["prompt"]
    report = (chain / "runs" / "dpo" / "report.md").read_text()
    assert "preference_win_rate" in report


def test_model_fetch_takes_a_hub_model_from_the_cache_offline(chain, tmp_path, monkeypatch, run_cli):
    commit = "0" * 40
    snapshot = tmp_path / "hf" / "hub" / "models--tiny--zh" / "snapshots" / commit
    shutil.copytree(_out(chain, "pre", "train") / "model", snapshot)
    (tmp_path / "hf" / "hub" / "models--tiny--zh" / "refs").mkdir()
    (tmp_path / "hf" / "hub" / "models--tiny--zh" / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copy(ROOT / "examples" / "tiny-zh" / "sft.jsonl", tmp_path / "sft.jsonl")
    recipe = SFT.replace("base: {from: pre.yaml}", "base: tiny/zh")
    code, out, err = run_cli("apply", write(tmp_path, "hub.yaml", recipe), "--until", "base", cwd=tmp_path)
    assert code == 0, out + err
    [model] = (tmp_path / "runs" / "tiny-sft").glob("base-*/out/model")
    assert (model / "model.safetensors").is_symlink() and (model / "model.safetensors").resolve().is_relative_to(snapshot)

    code, _, err = run_cli("apply", write(tmp_path, "missing.yaml", recipe.replace("tiny/zh", "nobody/absent")
                                          .replace("name: tiny-sft", "name: absent")), "--until", "base", cwd=tmp_path)
    assert code == 1 and "cannot fetch nobody/absent" in err and "HF_ENDPOINT" in err
