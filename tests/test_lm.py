"""Language-model tasks end to end on this CPU, offline: a SentencePiece tokenizer and a tiny Llama built
from the bundled Chinese corpus, pretrained, then SFT (LoRA, merged) from it, then DPO from the SFT,
merged, converted to GGUF, quantised, checked for parity, bundled for Ollama and served."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT, screenshot, write

PRETRAIN = textwrap.dedent("""
    version: 1
    name: tiny-pre
    seed: 1
    data:
      train: {path: corpus.txt, format: text}
      validation: {fraction: 0.1}
    model:
      init: {architecture: llama, hidden_size: 64, num_layers: 2, num_heads: 4, intermediate_size: 128,
             max_position_embeddings: 256}
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
    benchmark: {tasks: [preference-quiz], chat_template: true}
    gates: ["benchmark-gguf.q4_k_m.preference_quiz.acc >= benchmark.preference_quiz.acc - 0.1"]
    deploy:
      target: ollama
      quantize: [q8_0, q4_k_m]
      ollama:
        name: tiny-zh:0.1
        system: 你是机器学习助教。
        parameters: {temperature: 0.1, num_ctx: 256, stop: "###"}
      serve: {n_ctx: 256, requests: 2}
""").lstrip()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """pretrain → sft → dpo applied once through `modelops apply dpo.yaml` (which plans the whole chain)."""
    from typer.testing import CliRunner

    from modelops.cli import app

    folder = tmp_path_factory.mktemp("lm")
    for name in ("corpus.txt", "sft.jsonl", "preference.jsonl"):
        shutil.copy(ROOT / "examples" / "tiny-zh" / name, folder / name)
    shutil.copytree(ROOT / "examples" / "tiny-zh" / "preference-quiz", folder / "preference-quiz")
    write(folder, "pre.yaml", PRETRAIN + f"workdir: {folder}/runs/pre\n")
    write(folder, "sft.yaml", SFT + f"workdir: {folder}/runs/sft\n")
    recipe = write(folder, "dpo.yaml", DPO + f"workdir: {folder}/runs/dpo\n")
    result = CliRunner().invoke(app, ["apply", str(recipe), "-q"])
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


def _out(folder, run, step):
    [path] = (folder / "runs" / run).glob(f"{step}-{'[0-9a-f]' * 12}/out")     # `benchmark`, not `benchmark-gguf`
    return path


def _metrics(folder, run, step):
    return json.loads((_out(folder, run, step) / "metrics.json").read_text())


def _variant(chain, name: str, *edits: tuple[str, str]) -> Path:
    """The SFT recipe under another name and run folder, with text edits."""
    text = SFT.replace("name: tiny-sft", f"name: tiny-{name}")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    return write(chain, f"{name}.yaml", text + f"workdir: {chain}/runs/{name}\n")


def test_pretraining_from_scratch_lowers_the_loss(chain):
    tokenizer = _out(chain, "pre", "tokenizer") / "tokenizer"
    assert (tokenizer / "tokenizer.json").exists() and "<|im_start|>" in (tokenizer / "chat_template.jinja").read_text()
    assert _metrics(chain, "pre", "init")["parameters"] == 133_440  # the planner's estimate, exactly
    train = _metrics(chain, "pre", "train")
    assert train["steps"] == 120 and train["last_loss"] < train["first_loss"] - 1.5
    assert (_out(chain, "pre", "train") / "model" / "model.safetensors").exists()
    assert (_out(chain, "pre", "train") / "plots" / "loss.png").exists()
    evaluation = _metrics(chain, "pre", "evaluate")
    assert evaluation["perplexity"] < 800  # a uniform guess over 800 tokens scores 800
    samples = [json.loads(line) for line in (_out(chain, "pre", "evaluate") / "samples.jsonl").read_text().splitlines()]
    assert all(s["before"] is not None for s in samples)              # the random initial model, same prompts
    assert any(s["before"] != s["completion"] for s in samples)


def test_sft_trains_a_lora_adapter_and_merges_it(chain):
    adapter = _out(chain, "sft", "train") / "adapter"
    assert (adapter / "adapter_model.safetensors").exists() and not (adapter / "training_args.bin").exists()
    train = _metrics(chain, "sft", "train")
    assert train["last_loss"] < train["first_loss"]
    assert train["eval_loss"] < train["eval_loss_before"] - 0.3  # the answers got likelier than before SFT
    merged = _out(chain, "sft", "merge") / "model"
    assert {"model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {p.name for p in merged.iterdir()}


def test_dpo_from_the_sft_reports_a_preference_win_rate(chain):
    train = _metrics(chain, "dpo", "train")
    assert train["steps"] == 15 and train["first_loss"] == pytest.approx(0.6931, abs=1e-3)  # log 2 at the start
    assert train["eval_rewards/accuracies_before"] == 0 and train["eval_rewards/accuracies"] >= 0.75  # held out
    assert train["eval_rewards/margins"] > 0 and train["eval_loss"] < train["eval_loss_before"]
    evaluation = _metrics(chain, "dpo", "evaluate")
    assert evaluation["preference_win_rate"] >= 0.75 and evaluation["preference_pairs"] == 8
    samples = (_out(chain, "dpo", "evaluate") / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 3 and "<|im_start|>assistant" in json.loads(samples[0])["prompt"]
    assert isinstance(json.loads(samples[0])["before"], str)           # the SFT model's answer, beside it
    report = (chain / "runs" / "dpo" / "report.md").read_text()
    assert "preference_win_rate" in report and "✓ held-out preference accuracy" in report
    assert "**Warning**" not in report


def test_lm_evaluation_harness_scores_the_dpo_model_against_the_sft_model_it_started_from(chain):
    scores = _metrics(chain, "dpo", "benchmark")["preference_quiz"]
    assert scores["acc"] >= 0.75 and scores["acc"] >= scores["acc_base"], scores      # the preferred answers won
    assert "sample_len" not in scores
    results = json.loads((_out(chain, "dpo", "benchmark") / "results.json").read_text())
    assert results["trained"]["preference_quiz"]["sample_len"] == 40


def test_each_gguf_is_benchmarked_by_llama_cpp_as_the_trained_model_is(chain):
    trained = _metrics(chain, "dpo", "benchmark")["preference_quiz"]["acc"]
    ggufs = _metrics(chain, "dpo", "benchmark-gguf")
    assert set(ggufs) == {"f16", "q8_0", "q4_k_m"}
    assert abs(ggufs["f16"]["preference_quiz"]["acc"] - trained) <= 1 / 40 + 1e-9    # 16-bit: one question at most
    report = (chain / "runs" / "dpo" / "report.md").read_text()
    assert "Benchmark of each GGUF (llama.cpp)" in report
    assert "✓ gate passed: benchmark-gguf.q4\\_k\\_m.preference\\_quiz.acc >= benchmark.preference\\_quiz.acc" in report


def test_the_gguf_harness_model_scores_as_the_harness_scores_the_hugging_face_model(chain):
    """Each continuation's log-likelihood, a rolling log-likelihood and a greedy answer from the f16 GGUF
    through llama.cpp equal the harness's own Hugging Face model's (to f16 rounding); q4_k_m's differ."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from modelops.deploy.gguf_harness import GgufLM

    merged = _out(chain, "dpo", "merge") / "model"
    hf = HFLM(pretrained=str(merged), device="cpu", dtype="float32", batch_size=4)
    f16 = GgufLM(_out(chain, "dpo", "gguf") / "model-f16.gguf", merged, 256)
    q4 = GgufLM(_out(chain, "dpo", "quantize-q4_k_m") / "model-q4_k_m.gguf", merged, 256)
    chat = f16.apply_chat_template([{"role": "user", "content": "什么是过拟合？"}])
    assert chat == hf.apply_chat_template([{"role": "user", "content": "什么是过拟合？"}])
    pairs = [(chat, "模型记住了训练数据。"), (chat, "我不知道。"), ("你好，今天", "天气很好"), ("", "一些文本。")]
    requests = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    expected = [score for score, _ in hf.loglikelihood(requests)]
    assert [s for s, _ in f16.loglikelihood(requests)] == pytest.approx(expected, rel=2e-3)
    assert [s for s, _ in q4.loglikelihood(requests)] != pytest.approx(expected, rel=1e-4)
    rolling = [Instance("loglikelihood_rolling", {}, ("一些文本。更多文本。你好",), 0)]
    assert f16.loglikelihood_rolling(rolling) == pytest.approx(hf.loglikelihood_rolling(rolling), rel=2e-3)
    asked = [Instance("generate_until", {}, (chat, {"until": ["\n"], "max_gen_toks": 6}), 0)]   # before f16 near-ties
    assert f16.generate_until(asked) == hf.generate_until(asked)
    for model in (f16, q4):
        model.llm.close()


KTO = textwrap.dedent("""
    version: 1
    name: tiny-kto
    seed: 1
    data:
      train: {path: feedback.jsonl, format: unpaired}
      validation: {path: feedback-held-out.jsonl}
    model:
      base: {from: sft.yaml}
    task:
      kind: kto
      max_steps: 15
      learning_rate: 1.0e-3
      batch_size: 8
      max_length: 128
    hardware: cpu
""").lstrip()


def test_kto_from_the_sft_learns_from_unpaired_thumbs_up_and_down(chain, run_cli):
    """The DPO pairs split into unpaired examples (chosen: desirable, rejected: not); the last 8 prompts held
    out with both answers, so held-out answers can be compared."""
    pairs = [json.loads(line) for line in (chain / "preference.jsonl").read_text().splitlines()]
    for name, part in (("feedback.jsonl", pairs[:32]), ("feedback-held-out.jsonl", pairs[32:])):
        rows = [{"prompt": p["prompt"], "completion": p[answer], "label": answer == "chosen"}
                for p in part for answer in ("chosen", "rejected")]
        (chain / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    recipe = write(chain, "kto.yaml", KTO + f"workdir: {chain}/runs/kto\n")
    code, out, err = run_cli("apply", recipe, "--until", "tiny-kto/evaluate", "-q", cwd=chain)
    assert code == 0, out + err
    train = _metrics(chain, "kto", "train")
    assert train["steps"] == 15 and train["eval_rewards/margins_before"] == 0  # the policy starts as the reference
    # held out: undesirable answers lost far more against the reference than desirable ones
    assert train["eval_rewards/rejected"] < train["eval_rewards/chosen"] and train["eval_rewards/margins"] > 0.5
    assert train["eval_loss"] < train["eval_loss_before"]
    assert _metrics(chain, "kto", "evaluate")["preference_pairs"] == 8     # both answers of 8 held-out prompts


REWARD = textwrap.dedent("""
    version: 1
    name: tiny-reward
    seed: 1
    data:
      train: {path: preference.jsonl, format: preference}
      validation: {fraction: 0.2}
    model:
      base: {from: sft.yaml}
    task:
      kind: reward
      max_steps: 20
      learning_rate: 1.0e-3
      batch_size: 8
      max_length: 128
    hardware: cpu
""").lstrip()
GRPO = textwrap.dedent("""
    version: 1
    name: tiny-grpo
    seed: 1
    data:
      train: {path: prompts.jsonl, format: prompts}
      validation: {fraction: 0.2}
    model:
      base: {from: sft.yaml}
    task:
      kind: grpo
      rewards:
        - {type: model, from: reward.yaml}
        - {type: length, max_chars: 16}
      generation: {per_prompt: 4, max_tokens: 48}
      adapter: {type: lora, r: 8, alpha: 16}
      max_steps: 20
      learning_rate: 5.0e-3
      batch_size: 16
      max_length: 128
    hardware: cpu
    deploy:
      target: llama-cpp
      serve: {n_ctx: 256, requests: 2}
""").lstrip()


def test_grpo_raises_the_held_out_reward_of_a_reward_model_trained_by_another_recipe(chain, run_cli):
    """A reward model learns the DPO example's preferences from the SFT model; GRPO from the same SFT samples
    four answers per question and moves towards those the reward model (and a length limit) score higher,
    then deploys like the other kinds."""
    shutil.copy(ROOT / "examples" / "tiny-zh" / "prompts.jsonl", chain / "prompts.jsonl")
    write(chain, "reward.yaml", REWARD + f"workdir: {chain}/runs/reward\n")
    recipe = write(chain, "grpo.yaml", GRPO + f"workdir: {chain}/runs/grpo\n")
    code, out, err = run_cli("apply", recipe, "-q", cwd=chain)
    assert code == 0, out + err
    scorer = _metrics(chain, "reward", "train")
    # held-out pairs: the new score head starts at random (its accuracy over 8 pairs is chance), then ranks them
    assert scorer["eval_accuracy"] >= 0.75 and scorer["eval_margin"] > scorer["eval_margin_before"] + 1.0
    assert _metrics(chain, "reward", "evaluate")["pair_accuracy"] >= 0.75               # the saved model, again
    policy = _metrics(chain, "grpo", "train")
    assert policy["steps"] == 20 and "eval_loss" not in policy                          # no loss verdict for GRPO
    # sampled completions make single measurements noisy (CPU kernels are not bit-for-bit reproducible either):
    # the mean reward of the last five steps against the first five (fresh-clone runs rose 0.84, 1.25 and 0.47),
    # and the held-out mean reward after vs before
    history = json.loads((_out(chain, "grpo", "train") / "log_history.json").read_text())
    rewards = [h["reward"] for h in history if "reward" in h]
    assert len(rewards) == 20 and sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5 + 0.25
    assert policy["eval_reward"] > policy["eval_reward_before"] and "eval_rewards/model/mean" in policy
    report = (chain / "runs" / "grpo" / "report.md").read_text()
    assert "✓ held-out mean reward" in report and (_out(chain, "grpo", "train") / "plots" / "loss.png").exists()
    # deployed like SFT and DPO: merged, converted, compared with the HF model on the held-out prompts, served
    [parity] = json.loads((_out(chain, "grpo", "parity") / "parity.json").read_text())
    assert parity["gguf"] == "f16" and parity["top1_agreement"] >= 0.98 and parity["prompts"] == 8
    assert _metrics(chain, "grpo", "smoke")["failed"] == 0


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
    assert (model / "model.safetensors").is_symlink() and (model / "model.safetensors").resolve().is_relative_to(
        snapshot
    )

    code, _, err = run_cli(
        "apply",
        write(
            tmp_path,
            "missing.yaml",
            recipe.replace("tiny/zh", "nobody/absent").replace("name: tiny-sft", "name: absent"),
        ),
        "--until",
        "base",
        cwd=tmp_path,
    )
    assert code == 1 and "cannot fetch nobody/absent" in err and "HF_ENDPOINT" in err


def test_dpo_model_is_converted_quantised_and_checked_for_parity(chain):
    f16 = _metrics(chain, "dpo", "gguf")
    assert f16["parameters"] == 133_440 and f16["tensor_types"].get("F16")
    q4 = _metrics(chain, "dpo", "quantize-q4_k_m")
    assert q4["bits_per_weight"] < f16["bits_per_weight"]
    assert q4["fallback"]["tensors"] > 0 and "256" in q4["fallback"]["reason"]  # 64-wide rows cannot be k-quants
    parity = {row["gguf"]: row for row in json.loads((_out(chain, "dpo", "parity") / "parity.json").read_text())}
    assert set(parity) == {"f16", "q8_0", "q4_k_m"}
    assert parity["f16"]["top1_agreement"] >= 0.98 and parity["f16"]["mean_kl"] < 1e-4
    assert parity["f16"]["perplexity"] == pytest.approx(parity["f16"]["hf_perplexity"], rel=0.01)
    assert parity["q4_k_m"]["mean_kl"] > parity["q8_0"]["mean_kl"]
    assert "GGUF parity" in (chain / "runs" / "dpo" / "report.md").read_text()


def test_ollama_bundle_has_a_translated_template_and_stops(chain):
    modelfile = (_out(chain, "dpo", "modelfile") / "Modelfile").read_text()
    assert "FROM ./model-q8_0.gguf" in modelfile
    assert 'TEMPLATE """{{ $prev := "" }}' in modelfile and "<|im_start|>assistant\n" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and 'PARAMETER stop "###"' in modelfile
    assert 'SYSTEM """你是机器学习助教。"""' in modelfile and "PARAMETER num_ctx 256" in modelfile
    assert "# note: Ollama uses this TEMPLATE (the chat template in the GGUF declares no tools" in modelfile
    bundle = _out(chain, "dpo", "ollama") / "bundle"
    created = json.loads((_out(chain, "dpo", "ollama") / "create.json").read_text())
    assert created["created"] is False and "ollama create tiny-zh:0.1 -f Modelfile" in created["command"]
    digest, name = (bundle / "SHA256SUMS").read_text().split()
    assert name == "model-q8_0.gguf" and hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest


def test_served_smoke_test_answers_well_formed_chats(chain, run_cli):
    smoke = json.loads((_out(chain, "dpo", "smoke") / "smoke.json").read_text())
    assert smoke["metrics"]["requests"] == 2 and smoke["metrics"]["failed"] == 0 and not smoke["problems"]
    assert all(isinstance(r["reply"], str) and "<|im_end|>" not in r["reply"] for r in smoke["requests"])


DECODE = """
import sys
import numpy as np
from llama_cpp import Llama
from modelops.deploy.llama_runtime import configure
decision = configure()
llm = Llama(sys.argv[1], n_ctx=128, logits_all=True, verbose=False)
assert llm.model_params.use_extra_bufts is decision.enabled
ids = llm.tokenize("什么是过拟合？请用一句话简单解释一下。".encode(), add_bos=False)[:24]
llm.eval(ids)
assert len(ids) >= 4 and np.isfinite(np.array(llm.scores[: len(ids)])).all()
llm.close()
"""


@pytest.mark.parametrize("quant", ["q8_0", "q4_k_m"])
def test_quantised_ggufs_decode_a_batch_with_the_safe_repack_setting(chain, quant):
    """A batch of 4+ tokens through a quantised GGUF — what segfaulted on CPUs with AMX (in a child process,
    so that a crash fails this test instead of ending the run)."""
    from modelops.processes import exit_description

    gguf = _out(chain, "dpo", f"quantize-{quant}") / f"model-{quant}.gguf"
    result = subprocess.run([sys.executable, "-c", DECODE, str(gguf)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, exit_description(result.returncode) + "\n" + result.stderr[-2000:]


def test_serve_and_chat_answer_from_a_quantised_gguf(chain):
    import httpx

    from modelops.deploy.llama_server import free_port

    gguf = _out(chain, "dpo", "quantize-q4_k_m") / "model-q4_k_m.gguf"
    chat = subprocess.run(
        [sys.executable, "-m", "modelops", "chat", str(gguf), "--max-tokens", "8"],
        input="什么是过拟合？\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert chat.returncode == 0 and "model> " in chat.stdout, chat.stderr[-2000:]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "modelops", "serve", str(gguf), "--port", str(port), "--n-ctx", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    timeout=60,
                    json={"messages": [{"role": "user", "content": "什么是过拟合？"}], "max_tokens": 8},
                )
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert server.poll() is None, server.stderr.read()[-2000:]
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] is not None
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "llama.cpp weight repack:" in errors


def test_chat_and_serve_refuse_a_served_gguf_changed_since_it_was_made(chain, run_cli):
    served = Path(json.loads((_out(chain, "dpo", "smoke") / "smoke.json").read_text())["gguf"])
    gguf = served if served.is_absolute() else chain / served
    stat, data = gguf.stat(), gguf.read_bytes()
    gguf.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    try:
        for command in ("chat", "serve"):
            code, _, err = run_cli(command, chain / "dpo.yaml", cwd=chain)
            assert code == 1 and "outputs changed since the step ran" in err and gguf.name in err, err
    finally:
        gguf.write_bytes(data)
        os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_unmerged_adapter_ships_as_a_gguf_adapter(chain, run_cli):
    path = _variant(
        chain,
        "adapter",
        ("max_steps: 40", "max_steps: 10"),
        ("hardware: cpu", "hardware: cpu\ndeploy: {target: llama-cpp, merge: false, serve: {n_ctx: 256, requests: 1}}"
         "\nbenchmark: {tasks: [preference-quiz], chat_template: true, base: false}"),
    )
    code, out, err = run_cli("apply", path, "-q", cwd=chain)
    assert code == 0, out + err
    assert not list((chain / "runs" / "adapter").glob("merge-*"))
    assert (_out(chain, "adapter", "gguf-adapter") / "adapter.gguf").stat().st_size > 0
    parity = json.loads((_out(chain, "adapter", "parity") / "parity.json").read_text())
    assert parity[0]["top1_agreement"] >= 0.98  # base GGUF + adapter GGUF vs base + PEFT adapter
    assert json.loads((_out(chain, "adapter", "smoke") / "smoke.json").read_text())["adapter"].endswith("adapter.gguf")
    trained = _metrics(chain, "adapter", "benchmark")["preference_quiz"]["acc"]               # base + PEFT adapter
    served = _metrics(chain, "adapter", "benchmark-gguf")["f16"]["preference_quiz"]["acc"]    # base GGUF + adapter GGUF
    assert abs(served - trained) <= 1 / 40 + 1e-9


@pytest.mark.parametrize("mode", ["drop", "truncate"])
def test_max_tokens_drops_or_truncates_long_conversations(chain, run_cli, mode):
    path = _variant(
        chain,
        mode,
        (
            "validation: {fraction: 0.1}",
            f"validation: {{fraction: 0.1}}\n  clean: {{max_tokens: 75, over_max_tokens: {mode}}}",
        ),
    )
    code, out, err = run_cli("apply", path, "--until", f"tiny-{mode}/data", "-q", cwd=chain)
    assert code == 0, out + err
    stats = json.loads((_out(chain, mode, "data") / "stats.json").read_text())
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(_out(chain, "pre", "train") / "model")
    rows = [json.loads(line) for line in (_out(chain, mode, "data") / "train.jsonl").read_text().splitlines()]
    lengths = [len(tokenizer.apply_chat_template(r["messages"], tokenize=True)["input_ids"]) for r in rows]
    assert max(lengths) <= 75
    key = "dropped_over_max_tokens" if mode == "drop" else "truncated_over_max_tokens"
    assert stats[key] > 0 and stats["train"] + stats["validation"] + stats["dropped_over_max_tokens"] == 40


def test_a_killed_forced_conversion_keeps_the_finished_gguf_and_the_next_apply_completes(chain, run_cli):
    recipe = chain / "dpo.yaml"
    [step] = (chain / "runs" / "dpo").glob("gguf-*")
    finished = hashlib.sha256((step / "out" / "model-f16.gguf").read_bytes()).hexdigest()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops", "apply", str(recipe), "--force", "tiny-dpo/gguf", "-q"],
        cwd=chain,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        if (step / "out.partial").exists():
            break
        time.sleep(0.05)
    time.sleep(1.5)  # the converter is importing or writing
    process.send_signal(signal.SIGKILL)
    process.wait()
    # the finished GGUF stays in place, whole, until a new one replaces it; nothing half-written is in out/
    assert hashlib.sha256((step / "out" / "model-f16.gguf").read_bytes()).hexdigest() == finished
    code, out, err = run_cli("status", recipe, cwd=chain)
    assert "tiny-dpo/gguf" in out and "up-to-date" in out.split("tiny-dpo/gguf", 1)[1].splitlines()[0]
    code, out, err = run_cli("apply", recipe, "-q", "--force", "tiny-dpo/gguf", cwd=chain)
    assert code == 0, out + err
    assert (step / "out" / "model-f16.gguf").stat().st_size == _metrics(chain, "dpo", "gguf")["bytes"]
    assert not (step / "out.partial").exists() and not (step / "out.replaced").exists()


def test_two_gloo_processes_train_on_cpu(chain, run_cli):
    recipe = _variant(
        chain, "gloo", ("max_steps: 40", "max_steps: 6"), ("hardware: cpu", "hardware: {gpu: cpu, processes: 2}")
    )
    code, out, err = run_cli("apply", recipe, "--until", "tiny-gloo/train", "-q", cwd=chain)
    assert code == 0, out + err
    metrics = _metrics(chain, "gloo", "train")
    assert metrics["processes"] == 2 and metrics["steps"] == 6
    assert "num_processes: 2" in next((chain / "runs" / "gloo").glob("train-*/accelerate.yaml")).read_text()


def test_early_stopping_ends_a_diverging_run(chain, run_cli):
    recipe = _variant(
        chain,
        "early",
        ("max_steps: 40", "max_steps: 60\n  eval: {every_steps: 2, early_stopping_patience: 2}"),
        ("learning_rate: 5.0e-3", "learning_rate: 1.0"),
    )
    code, out, err = run_cli("apply", recipe, "--until", "tiny-early/train", "-q", cwd=chain)
    assert code == 0, out + err
    assert _metrics(chain, "early", "train")["steps"] < 60


def test_training_reports_every_logged_step_to_mlflow_and_tensorboard(chain, run_cli):
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = f"sqlite:///{chain}/mlflow.db"
    recipe = _variant(chain, "tracked", ("max_steps: 40", "max_steps: 6"),
                      ("hardware: cpu", f"hardware: cpu\ntracking: {{mlflow: {{uri: '{store}', experiment: zh}}}}"))
    code, out, err = run_cli("apply", recipe, "--until", "tiny-tracked/train", "-q", cwd=chain)
    assert code == 0, out + err
    history = json.loads((_out(chain, "tracked", "train") / "log_history.json").read_text())
    losses = [h["loss"] for h in history if "loss" in h]
    client = MlflowClient(store)
    [run] = client.search_runs([client.get_experiment_by_name("zh").experiment_id])
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == pytest.approx(losses)
    assert run.data.params["task.kind"] == "sft" and run.data.params["task.adapter.r"] == "8"
    assert "loss.png" in {a.path for a in client.list_artifacts(run.info.run_id)} and run.info.status == "FINISHED"
    events = EventAccumulator(str(_out(chain, "tracked", "train") / "tensorboard"))
    events.Reload()
    assert [e.value for e in events.Scalars("loss")] == pytest.approx(losses)
    assert "eval_loss" in events.Tags()["scalars"]


def test_training_killed_mid_run_resumes_from_its_checkpoint(chain, run_cli):
    recipe = _variant(chain, "resume", ("max_steps: 40", "max_steps: 150\n  save: {every_steps: 10, keep: 2}"))
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops", "apply", str(recipe), "--until", "tiny-resume/train", "-q"],
        cwd=chain,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = []
    for _ in range(1200):
        checkpoints = list(
            (chain / "runs" / "resume").glob("train-*/out.partial/checkpoints/checkpoint-*/trainer_state.json")
        )
        if checkpoints or process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoints, "no checkpoint was written before the kill"
    # what a kill while TRL writes a checkpoint leaves: an empty folder, a 0-byte optimizer, no trainer_state.json
    folder = checkpoints[0].parent.parent
    (folder / "checkpoint-9998").mkdir()
    (folder / "checkpoint-9999").mkdir()
    (folder / "checkpoint-9999" / "optimizer.pt").write_bytes(b"")
    (folder / "checkpoint-9999" / "trainer_state.json").write_text("{}")
    code, out, err = run_cli("apply", recipe, "--until", "tiny-resume/train", "-q", cwd=chain)
    assert code == 0, out + err
    metrics = _metrics(chain, "resume", "train")
    assert metrics["resumed_from"].startswith("checkpoint-") and metrics["steps"] == 150
    assert metrics["resumed_from"] not in ("checkpoint-9998", "checkpoint-9999")
    [step] = (chain / "runs" / "resume").glob("train-*")
    log = (step / "log.txt").read_text()
    assert "checkpoint-9999 is incomplete" in log and "checkpoint-9998 is incomplete" in log


KILLS = 20            # interruptions tried; a fast machine may finish the training after fewer
MIN_KILLS = 3


def _gone(group: int, seconds: float = 30) -> bool:
    """Whether every process of the group (the apply and all it started) has exited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_training_killed_at_random_moments_ends_as_the_uninterrupted_run(chain, run_cli):
    """kill -9 of `apply`, SIGTERM (a preemption) and Ctrl-C (SIGINT to the process group) at random moments
    of training, checkpoint writes included; then one more apply finishes with the uninterrupted run's
    losses, step for step, and no process outlives the apply it belonged to."""
    edits = ("max_steps: 40", "max_steps: 80\n  save: {every_steps: 2, every_minutes: 0.01, keep: 2}")
    code, out, err = run_cli(
        "apply", _variant(chain, "steady", *[edits]), "--until", "tiny-steady/train", "-q", cwd=chain
    )
    assert code == 0, out + err
    recipe, rng, kills, resumed = _variant(chain, "killed", edits), random.Random(7), 0, 0
    command = [sys.executable, "-m", "modelops", "apply", str(recipe), "--until", "tiny-killed/train", "-q"]
    while kills < KILLS:
        for old in (chain / "runs" / "killed").glob("train-*/events.jsonl"):
            old.unlink()
        process = subprocess.Popen(
            command, cwd=chain, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        events = None
        while process.poll() is None and not (events and '"progress"' in events.read_text()):
            time.sleep(0.05)
            events = next((chain / "runs" / "killed").glob("train-*/events.jsonl"), None)
        if process.poll() is not None:          # the resumed training reached its last step between two kills
            assert process.returncode == 0 and kills >= MIN_KILLS, f"training ended after {kills} interruption(s)"
            break
        time.sleep(rng.uniform(0, 0.5))
        how = rng.choice([signal.SIGKILL] * 3 + [signal.SIGTERM, signal.SIGINT])
        os.killpg(process.pid, how) if how == signal.SIGINT else process.send_signal(how)
        process.wait()
        assert _gone(process.pid), f"a process outlived the apply killed by {how.name}"
        kills += 1
        [step] = (chain / "runs" / "killed").glob("train-*")
        resumed += "resuming from" in (step / "log.txt").read_text()
    code, out, err = run_cli("apply", recipe, "--until", "tiny-killed/train", "-q", cwd=chain)
    assert code == 0, out + err
    steady, killed = _metrics(chain, "steady", "train"), _metrics(chain, "killed", "train")
    assert killed["resumed_from"] and resumed >= kills // 2
    for key in ("steps", "first_loss", "last_loss", "train_loss", "eval_loss"):
        assert killed[key] == pytest.approx(steady[key], rel=1e-6), key
    history = [json.loads((_out(chain, run, "train") / "log_history.json").read_text()) for run in ("steady", "killed")]
    assert [h["loss"] for h in history[0] if "loss" in h] == pytest.approx(
        [h["loss"] for h in history[1] if "loss" in h]
    )


def test_force_starts_a_training_step_over_without_its_checkpoints(chain, run_cli):
    recipe = chain / "resume.yaml"
    [step] = (chain / "runs" / "resume").glob("train-*")
    (step / "out.partial" / "checkpoints" / "checkpoint-5").mkdir(parents=True)  # a wedged leftover
    code, out, err = run_cli("apply", recipe, "--until", "tiny-resume/train", "--force", "train", "-q", cwd=chain)
    assert code == 0, out + err
    assert _metrics(chain, "resume", "train")["resumed_from"] is None


def test_report_html_shows_its_plots_samples_and_replies_in_a_browser(chain, tmp_path):
    import numpy as np

    report = chain / "runs" / "dpo" / "report.html"
    html = report.read_text()
    assert "Greedy samples on held-out prompts, before and after training" in html
    assert "Replies of the served model" in html
    assert "<summary>Modelfile</summary>" in html and 'src="data:image/png;base64,' in html
    pixels = screenshot(report, tmp_path / "report.png")
    line_blue = (np.abs(pixels - [31, 119, 180]).sum(-1) < 40).sum()  # matplotlib's first colour: the loss curve
    assert line_blue > 200, "the loss plot did not render in the report"
    assert (pixels.sum(-1) < 200).sum() > 1000  # text rendered too


def test_hf_target_writes_the_merged_model_with_a_model_card(chain, run_cli):
    recipe = _variant(
        chain, "hf", ("max_steps: 40", "max_steps: 5"), ("hardware: cpu", "hardware: cpu\ndeploy: {target: hf}")
    )
    code, out, err = run_cli("apply", recipe, "-q", cwd=chain)
    assert code == 0, out + err
    folder = _out(chain, "hf", "model-card") / "model"
    assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja", "README.md"} <= {
        p.name for p in folder.iterdir()
    }
    card = (folder / "README.md").read_text()
    assert "the model of recipe `pre.yaml`" in card and "| train | 36 |" in card and "kind: sft" in card
    assert f"model:     {folder}" in out
