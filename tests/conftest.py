"""Shared helpers: write recipes (and their data) into temporary folders and run the CLI in-process."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelops.cli import app

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own hash cache, never the user's."""
    monkeypatch.setenv("MODELOPS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def run_cli(monkeypatch):
    """Run `modelops ARGS` in-process from `cwd`; returns (exit code, stdout, stderr)."""

    def run(*args: str, cwd: Path | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        result = CliRunner().invoke(app, [str(a) for a in args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch) -> Path:
    """A folder with small data files that test recipes can name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sft.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n", encoding="utf-8")
    (tmp_path / "pref.jsonl").write_text(
        json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n", encoding="utf-8"
    )
    (tmp_path / "corpus.txt").write_text("一些文本。\n更多文本。\n", encoding="utf-8")
    rows = ["user_id,material_id,period,activations,clicks"]
    for user in ("u1", "u2"):
        for hour in range(48):
            rows.append(
                f"{user},m1,2025-03-0{1 + hour // 24} {hour % 24:02d}:00 - {(hour + 1) % 24:02d}:00,"
                f"{hour % 7},{hour % 5}"
            )
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


SFT = textwrap.dedent("""
    version: 1
    name: demo
    data:
      train: {path: sft.jsonl, format: messages}
    model:
      base: Qwen/Qwen2.5-0.5B-Instruct
    task:
      kind: sft
      batch_size: 8
    hardware: cpu
""").lstrip()

REGRESSION = textwrap.dedent("""
    version: 1
    name: forecast
    data:
      train: {path: table.csv}
      time: {column: period, format: "%Y-%m-%d %H:%M", range_separator: " - "}
    task:
      kind: regression
      target: activations
      features: [clicks]
      groups: [user_id, material_id]
      window: 3
      horizon: 2
      validation: {folds: 2}
""").lstrip()


def apt_install(package: str, *binaries: str) -> str | None:
    """The path of the first binary found, installing the Debian package when none is (refreshing apt's
    lists once if the first try fails); None when it cannot be installed here."""
    import shutil
    import subprocess

    def found() -> str | None:
        return next((shutil.which(b) for b in binaries if shutil.which(b)), None)

    for refresh in (False, True):
        if found():
            break
        if refresh:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True)
    return found()


def screenshot(page: Path, shot: Path):
    """The page as headless Chromium shows it (a 1000 px wide window, tall enough for a whole report), as an
    RGB array; skips when Chromium cannot be installed."""
    import numpy as np
    from PIL import Image

    browser = apt_install("chromium", "chromium", "chromium-browser", "google-chrome")
    if browser is None:
        pytest.skip("headless Chromium is not installed and could not be installed: apt-get install chromium")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1000,5000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


def chat_tokenizer(template: str, bos: str | None, eos: str | None, specials: list[str] | None = None):
    """A tokenizer carrying `template` and its special tokens (those of the common families unless given)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    specials = specials if specials is not None else [
        t
        for t in (
            "<|im_start|>",
            "<|im_end|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|end|>",
            "<｜User｜>",
            "<｜Assistant｜>",
            "[INST]",
            "[/INST]",
        )
        if t in template
    ]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")),
        bos_token=bos,
        eos_token=eos,
        unk_token="<unk>",
        additional_special_tokens=specials,
    )
    tokenizer.chat_template = template
    return tokenizer


def _go_program(tmp_path_factory, name: str) -> str:
    """tests/go/NAME.go built with Go (installed when missing, or the tests skip saying why)."""
    if apt_install("golang-go", "go") is None:
        pytest.skip("Go (Debian's golang-go) is not installed and could not be installed: apt-get install golang-go")
    binary = tmp_path_factory.mktemp("go") / name
    subprocess.run(
        ["go", "build", "-o", str(binary), str(ROOT / "tests" / "go" / f"{name}.go")],
        check=True,
        env={
            "GOCACHE": str(binary.parent / "cache"),
            "HOME": str(binary.parent),
            "PATH": "/usr/bin:/bin",
            "GO111MODULE": "off",
        },
    )
    return str(binary)


def _run_go(binary: str, request: dict) -> str:
    return subprocess.run([binary], input=json.dumps(request), capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def go_render(tmp_path_factory):
    """Go's text/template, executing a TEMPLATE as Ollama does for a chat request."""
    binary = _go_program(tmp_path_factory, "render_template")

    def render(template: str, messages: list[dict], think: bool | None = None) -> str:
        request = {"template": template, "messages": messages} | ({} if think is None else {"think": think})
        return _run_go(binary, request)

    return render


@pytest.fixture(scope="session")
def ollama_selection(tmp_path_factory):
    """Ollama's own rule (ported to tests/go) for prompting with the GGUF's chat template or the TEMPLATE."""
    binary = _go_program(tmp_path_factory, "template_selection")

    def select(chat_template: str, template: str) -> dict:
        return json.loads(_run_go(binary, {"chat_template": chat_template, "template": template}))

    return select
