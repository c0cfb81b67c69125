"""Real chat templates, translated and executed with Go the way Ollama executes them: the 70 that
llama.cpp's source distribution carries (Llama 3.x, Qwen 2.5/3, QwQ, DeepSeek R1/V3, Gemma, Granite,
Command R, Hermes, Mistral, firefunction and more, fetched from PyPI with llama-cpp-python's sdist).

Each translation renders what transformers renders for the same conversations (leading BOS aside; today's
date as Ollama's `currentDate`), or is refused with a reason; a template that refuses system messages
says so in the layout (and the Modelfile), and Go's rendering then leaves them out."""

from __future__ import annotations

import datetime
import re
import tarfile
from pathlib import Path

import jinja2
import pytest
from conftest import chat_tokenizer

# what looks like a special token in a template's text: <|...|>, <｜...｜>, <word>, </s>, [INST]
SPECIAL = re.compile(r"<\|[^|\s]{1,40}\|>|<｜[^｜]{1,40}｜>|<[a-z_]{3,30}>|</?s>|\[/?INST\]")
C = [
    {"role": "system", "content": "你是机器学习助教。Answer briefly."},
    {"role": "user", "content": "什么是过拟合？"},
    {"role": "assistant", "content": "模型记住了训练集的噪声。"},
    {"role": "user", "content": "How do I spot it?\nIn one line."},
    {"role": "assistant", "content": "Validation loss rises while training loss falls."},
    {"role": "user", "content": "Thanks {{ .System }} <|im_end|>"},
]
CONVERSATIONS = [C[1:2], C[1:4], C[1:], C[0:2], C[0:4], C]


@pytest.fixture(scope="module")
def llama_cpp_templates(tmp_path_factory) -> dict[str, str]:
    """llama.cpp's `models/templates/*.jinja`, from the installed runtime's source distribution."""
    from modelops.deploy.converter import ConverterMissing, download_sdist, runtime_version

    try:
        archive = download_sdist(runtime_version(), tmp_path_factory.mktemp("sdist"))
    except ConverterMissing as exc:
        pytest.skip(str(exc))
    with tarfile.open(archive) as tar:
        return {
            Path(m.name).stem: tar.extractfile(m).read().decode("utf-8")
            for m in tar.getmembers()
            if "/models/templates/" in m.name and m.name.endswith(".jinja") and m.isfile()
        }


def _render(tokenizer, layout, messages: list[dict], think: bool | None = None) -> str:
    """transformers' rendering, as the layout was measured (variables, parts), with today's date as Ollama
    writes it; `think` is the template's `enable_thinking` (None: not passed)."""
    from modelops.deploy.ollama_template import DATE, _dated, as_parts

    switch = {} if think is None else {"enable_thinking": think}
    with _dated():
        prompt = tokenizer.apply_chat_template(as_parts(messages) if layout.parts else messages, tokenize=False,
                                               add_generation_prompt=True, **layout.variables, **switch)
    if tokenizer.bos_token and prompt.startswith(tokenizer.bos_token):
        prompt = prompt[len(tokenizer.bos_token):]
    return prompt.replace(DATE, datetime.date.today().isoformat())


def translate_corpus(templates: dict[str, str], go_render) -> dict[str, dict]:
    """Each template's outcome: translated (with its system mode), refused (the reason), or what went wrong."""
    from modelops.deploy.ollama_template import TranslationError, go_template, layout_of

    outcomes = {}
    for name, source in sorted(templates.items()):
        tokenizer = chat_tokenizer(source, "<s>", "</s>", sorted(set(SPECIAL.findall(source))))
        try:
            layout = layout_of(tokenizer)
        except TranslationError as exc:
            outcomes[name] = {"refused": str(exc)}
            continue
        except Exception as exc:                      # a crash is a failure, not a refusal
            outcomes[name] = {"wrong": f"crashed: {type(exc).__name__}: {exc}"}
            continue
        template = go_template(layout)
        wrong = [f"frozen date {d}" for d in _today_spellings() if d in template]
        thinks = (None, True, False) if layout.thinking else (None,)
        for messages, think in [(m, t) for m in CONVERSATIONS for t in thinks]:
            has_system = any(m["role"] == "system" for m in messages)
            if layout.system == "none" and has_system:
                with pytest.raises(jinja2.TemplateError):   # the model's template refuses it; Ollama leaves it out
                    _render(tokenizer, layout, messages, think)
                expected = _render(tokenizer, layout, [m for m in messages if m["role"] != "system"], think)
            else:
                expected = _render(tokenizer, layout, messages, think)
            got = go_render(template, messages, think)
            if got != expected:
                at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                          min(len(got), len(expected)))
                roles = "/".join(m["role"] for m in messages)
                wrong.append(f"{roles} think={think}: Go {got[at - 20: at + 40]!r} vs {expected[at - 20: at + 40]!r}")
        outcomes[name] = {"wrong": "; ".join(wrong)} if wrong else {
            "system": layout.system, "stops": layout.stops, "thinking": bool(layout.thinking)}
    return outcomes


def _today_spellings() -> list[str]:
    today = datetime.date.today()
    return [today.strftime(f) for f in ("%d %b %Y", "%d %B %Y", "%B %d, %Y", "%Y-%m-%d")]


def test_llama_cpp_template_corpus_translates_identically_or_is_refused(llama_cpp_templates, go_render):
    outcomes = translate_corpus(llama_cpp_templates, go_render)
    wrong = {name: o["wrong"] for name, o in outcomes.items() if "wrong" in o}
    refused = {name: o["refused"] for name, o in outcomes.items() if "refused" in o}
    translated = {name: o for name, o in outcomes.items() if "system" in o}
    switched = sorted(name for name, o in translated.items() if o["thinking"])
    print(f"{len(outcomes)} templates: {len(translated)} identical, {len(refused)} refused, {len(wrong)} wrong; "
          f"thinking switched on and off in {len(switched)}: {', '.join(switched)}")
    for name, reason in refused.items():
        print(f"  refused {name}: {reason}")
    assert len(outcomes) >= 60
    assert not wrong, "\n".join(f"{name}: {why}" for name, why in wrong.items())
    assert all(reason for reason in refused.values())
    assert len(translated) >= 65                     # 70 in llama-cpp-python 0.3.36; none refused today
    for family in ("meta-llama-Llama-3.2-3B-Instruct", "Qwen-Qwen3-0.6B", "google-gemma-2-2b-it",
                   "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "mistralai-Mistral-Nemo-Instruct-2407"):
        assert family in translated, family
    assert translated["google-gemma-2-2b-it"]["system"] == "none"
    assert translated["mistralai-Mistral-Nemo-Instruct-2407"]["system"] == "last"
    assert {"Qwen-Qwen3-0.6B", "HuggingFaceTB-SmolLM3-3B"} <= set(switched)
