"""The Modelfile step on a GGUF it did not have to train for: which template each Ollama prompts with (the
GGUF's own on 0.30+ when it has tools or thinking), and a GGUF whose chat template is not the model's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import chat_tokenizer

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# ChatML with tool definitions and <think> blocks, as Qwen3's template writes them (shortened)
TOOLS_AND_THINKING = ("{% if tools %}<|im_start|>system\n<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}"
                      "</tools><|im_end|>\n{% endif %}" + CHATML.replace(
                          "assistant\n{% endif %}", "assistant\n{% if not enable_thinking %}<think>\n\n</think>\n\n"
                          "{% endif %}{% endif %}"))


def _gguf(path: Path, chat_template: str | None) -> Path:
    from gguf import GGUFWriter

    writer = GGUFWriter(path, "llama")
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _modelfile(tmp_path: Path, template: str, gguf_template: str | None) -> subprocess.CompletedProcess:
    """The step run as `apply` runs it, on a model folder with `template` and a GGUF carrying `gguf_template`."""
    model = tmp_path / "model"
    chat_tokenizer(template, "<s>", "<|im_end|>", ["<|im_start|>", "<|im_end|>"]).save_pretrained(model)
    validation = tmp_path / "validation.jsonl"
    validation.write_text(json.dumps({"messages": [{"role": "user", "content": "什么是过拟合？"},
                                                   {"role": "assistant", "content": "记住了噪声。"}]}) + "\n")
    (tmp_path / "out").mkdir()
    step = tmp_path / "step.json"
    step.write_text(json.dumps({
        "id": "r/modelfile", "kind": "ollama_modelfile", "fingerprint": "0" * 16,
        "params": {"name": "tiny:1", "gguf": "q8_0"},
        "inputs": {"gguf": str(_gguf(tmp_path / "model-q8_0.gguf", gguf_template)), "model": str(model),
                   "validation.jsonl": str(validation)},
        "out": str(tmp_path / "out"), "events": str(tmp_path / "events.jsonl")}))
    return subprocess.run([sys.executable, "-m", "modelops.steps.ollama_modelfile", str(step)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("template, says", [
    (TOOLS_AND_THINKING, "Ollama 0.30 and newer prompt this model with the chat template inside the GGUF, because "
                         "it has tools and thinking"),
    (CHATML, "Ollama uses this TEMPLATE (the chat template in the GGUF declares no tools or thinking"),
])
def test_the_modelfile_says_which_template_ollama_prompts_with(tmp_path, template, says):
    done = _modelfile(tmp_path, template, template)
    assert done.returncode == 0, done.stderr
    modelfile = (tmp_path / "out" / "Modelfile").read_text()
    assert f"# note: {says}" in modelfile
    assert "refuses tool requests" not in modelfile
    assert 'TEMPLATE """{{ $prev := "" }}' in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile


def test_a_gguf_without_the_models_chat_template_is_found(tmp_path):
    done = _modelfile(tmp_path, TOOLS_AND_THINKING, CHATML)
    assert done.returncode != 0
    assert "the chat template inside model-q8_0.gguf is not the model's own" in done.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    done = _modelfile(plain, CHATML, None)
    assert done.returncode == 0, done.stderr
    assert "# note: the GGUF carries no chat template: every Ollama uses this TEMPLATE" in (
        plain / "out" / "Modelfile").read_text()
