"""Real chat templates, translated and executed with Go the way Ollama executes them: the 70 that
llama.cpp's source distribution carries (Llama 3.x, Qwen 2.5/3, QwQ, DeepSeek R1/V3, Gemma, Granite,
Command R, Hermes, Mistral, firefunction and more, fetched from PyPI with llama-cpp-python's sdist), and
the Hugging Face templates of 97 models of Ollama's library with Ollama's own templates and stops (from
npm, in @huggingface/ollama-utils' map).

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
SPECIAL = re.compile(r"\[\|[a-z_]{2,30}\|\]|<\|[^|\s]{1,40}\|>|<｜[^｜]{1,40}｜>|<[a-z_]{3,30}>|</?s>|\[/?INST\]")
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


def translate_corpus(templates: dict[str, str], go_render, specials: dict[str, list[str]] | None = None
                     ) -> dict[str, dict]:
    """Each template's outcome: translated (its system mode, stops, TEMPLATE), refused (the reason), or what
    went wrong. The special tokens are those found in the template's text (and `specials`' for it)."""
    from modelops.deploy.ollama_template import TranslationError, go_template, layout_of

    outcomes = {}
    for name, source in sorted(templates.items()):
        found = set(SPECIAL.findall(source)) | set((specials or {}).get(name, []))
        tokenizer = chat_tokenizer(source, "<s>", "</s>", sorted(found))
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
            if layout.system == "none" and has_system:   # (an ignored one renders as without it)
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
            "system": layout.system, "stops": layout.stops, "thinking": bool(layout.thinking), "template": template}
    return outcomes


def ollama_prompts_with(templates: dict[str, str], translated: dict[str, dict], ollama_selection) -> dict[str, list]:
    """Which template Ollama 0.30+ prompts each translated model with, by Ollama's own rule (ported to Go),
    checked against what `ollama_selection.prompt_note` tells the Modelfile: the GGUF's chat template for
    tools and thinking, the TEMPLATE otherwise. Returns the models per capability the GGUF's template brings."""
    from modelops.deploy.ollama_selection import chat_template_capabilities

    brought: dict[str, list] = {"tools": [], "thinking": []}
    for name, outcome in translated.items():
        ours = chat_template_capabilities(templates[name])
        chosen = ollama_selection(templates[name], outcome["template"])
        assert chosen["chat"] == (ours or None) and not chosen["go"], name
        assert (chosen["selected"] == "gguf_chat_template") == bool(ours), name
        for capability in ours:
            brought[capability].append(name)
    return brought


def _today_spellings() -> list[str]:
    today = datetime.date.today()
    return [today.strftime(f) for f in ("%d %b %Y", "%d %B %Y", "%B %d, %Y", "%Y-%m-%d")]


def _sorted(outcomes: dict[str, dict]) -> tuple[dict, dict, dict]:
    wrong = {name: o["wrong"] for name, o in outcomes.items() if "wrong" in o}
    refused = {name: o["refused"] for name, o in outcomes.items() if "refused" in o}
    return {name: o for name, o in outcomes.items() if "system" in o}, refused, wrong


def test_llama_cpp_template_corpus_translates_identically_or_is_refused(llama_cpp_templates, go_render,
                                                                     ollama_selection):
    outcomes = translate_corpus(llama_cpp_templates, go_render)
    translated, refused, wrong = _sorted(outcomes)
    switched = sorted(name for name, o in translated.items() if o["thinking"])
    brought = ollama_prompts_with(llama_cpp_templates, translated, ollama_selection)
    print(f"{len(outcomes)} templates: {len(translated)} identical, {len(refused)} refused, {len(wrong)} wrong; "
          f"thinking switched on and off in {len(switched)}: {', '.join(switched)}; Ollama 0.30+ prompts with the "
          f"GGUF's own template for tools in {len(brought['tools'])}, for thinking in {len(brought['thinking'])}")
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
    assert {"Qwen-Qwen2.5-7B-Instruct", "meta-llama-Llama-3.1-8B-Instruct", "Qwen-Qwen3-0.6B"} <= set(brought["tools"])
    assert {"Qwen-Qwen3-0.6B", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "Qwen-QwQ-32B"} <= set(brought["thinking"])


OLLAMA_UTILS = "@huggingface/ollama-utils@0.0.18"   # its map: 97 models of Ollama's library, as served in 2025
TO_JSON = """const fs = require("fs");
let s = fs.readFileSync(process.argv[1], "utf8");
s = s.replace(/^import .*$/m, "").replace(/export const \\w+\\s*:\\s*[\\w\\[\\]]+\\s*=/, "module.exports =");
const m = new module.constructor(); m._compile(s, "automap.js");
process.stdout.write(JSON.stringify(m.exports));"""


@pytest.fixture(scope="module")
def ollama_library(tmp_path_factory) -> list[dict]:
    """Ollama's library as @huggingface/ollama-utils maps it: per model the GGUF's (Hugging Face) chat template,
    Ollama's own TEMPLATE, its tokens and its PARAMETERs (stops)."""
    import json
    import shutil
    import subprocess

    from conftest import apt_install

    if apt_install("npm", "npm") is None or not shutil.which("node"):
        pytest.skip("npm and node are not installed and could not be installed: apt-get install npm")
    folder = tmp_path_factory.mktemp("npm")
    packed = subprocess.run(["npm", "pack", "--silent", OLLAMA_UTILS], cwd=folder, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "npm_config_cache": str(folder / "c")})
    if packed.returncode != 0:
        pytest.skip(f"npm could not fetch {OLLAMA_UTILS}: {packed.stderr.strip()[-300:]}")
    with tarfile.open(folder / packed.stdout.split()[-1]) as tar:
        tar.extract("package/src/chat-template-automap.ts", folder, filter="data")
    converted = subprocess.run(["node", "-e", TO_JSON, str(folder / "package/src/chat-template-automap.ts")],
                               capture_output=True, text=True, check=True)
    return json.loads(converted.stdout)


def test_ollama_library_templates_translate_identically_with_ollamas_stops(ollama_library, go_render,
                                                                          ollama_selection):
    """The issue's 97 models: each translated rendering equals transformers' (or is refused with a reason);
    the stops cover Ollama's library PARAMETER stop lists; how many prompts equal Ollama's own TEMPLATE's."""
    named = {f"{e['model']} #{i}": e for i, e in enumerate(ollama_library)}     # (a model may be listed twice)
    outcomes = translate_corpus({name: e["gguf"] for name, e in named.items()}, go_render,
                                {name: e["ollama"]["tokens"] for name, e in named.items()})
    translated, refused, wrong = _sorted(outcomes)
    brought = ollama_prompts_with({name: e["gguf"] for name, e in named.items()}, translated, ollama_selection)
    covered, same_as_ollama, legacy = 0, 0, 0
    for name, entry in named.items():
        ours = translated.get(name)
        stops = entry["ollama"].get("params", {}).get("stop", [])
        stops = [stops] if isinstance(stops, str) else stops
        covered += bool(ours) and all(stop in ours["stops"] for stop in stops)
        if ".Messages" not in entry["ollama"]["template"]:
            legacy += 1                                 # Ollama's .Prompt/.Response form, run per turn
        elif ours:
            same_as_ollama += all(go_render(entry["ollama"]["template"], m) == go_render(ours["template"], m)
                                  for m in CONVERSATIONS)
    print(f"{len(outcomes)} models: {len(translated)} identical to transformers, {len(refused)} refused, "
          f"{len(wrong)} wrong; Ollama's stops covered for {covered}; the same prompt as Ollama's own TEMPLATE "
          f"for {same_as_ollama} of {len(outcomes) - legacy} (and {legacy} in the legacy form); Ollama 0.30+ prompts "
          f"with the GGUF's own template for tools in {len(brought['tools'])}, for thinking in "
          f"{len(brought['thinking'])}")
    for name, reason in refused.items():
        print(f"  refused {name}: {reason}")
    assert len(outcomes) == 97 and not wrong, "\n".join(f"{name}: {why}" for name, why in wrong.items())
    assert all(reason for reason in refused.values()) and len(translated) >= 94
    assert covered >= 76                            # the rest: BOS and EOS tokens of tokenizers not at hand here
    ignoring = {name.split(" #")[0] for name, o in translated.items() if o["system"] == "ignored"}
    assert {"library/llama-pro:latest", "library/phi3:14b"} <= ignoring
