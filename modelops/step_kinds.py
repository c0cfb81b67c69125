"""Each step kind's facts, in one place: whether an interrupted attempt's partial output is kept for a
resume, whether it is launched with `accelerate launch`, and what `apply` tells the user once the step has
finished (the commands that use its output). The executor, the planner and the CLI read them here instead
of comparing kind names; a kind that is not here is an error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

Hints = Callable[[Path, str], list[str]]        # (the step's output folder, the recipe file) → lines


@dataclass(frozen=True)
class StepKind:
    name: str
    resumable: bool = False          # keep `out.partial` of an interrupted attempt: training checkpoints
    accelerate: bool = False         # `accelerate launch` (one or many processes) instead of `python -m`
    hints: Hints | None = None


def served_gguf(out: Path) -> tuple[Path, Path | None]:
    """The GGUF (and LoRA GGUF) a `llama_server_smoke` step served, from its smoke.json."""
    smoke = json.loads((out / "smoke.json").read_text(encoding="utf-8"))
    return Path(smoke["gguf"]), Path(smoke["adapter"]) if smoke.get("adapter") else None


def _api(out: Path, file: str) -> list[str]:
    return [f"forecast:  modelops predict {file}", f"serve:     modelops serve {file}   (POST /predict)"]


def _smoke(out: Path, file: str) -> list[str]:
    return [f"model:     {served_gguf(out)[0]}", f"chat:      modelops chat {file}",
            f"serve:     modelops serve {file}   (OpenAI-compatible /v1/chat/completions)"]


def _ollama(out: Path, file: str) -> list[str]:
    created = json.loads((out / "create.json").read_text(encoding="utf-8"))
    return [f"ollama:    ollama run {created['name']}" if created["created"] else f"ollama:    {created['command']}"]


def _hf(out: Path, file: str) -> list[str]:
    return [f"model:     {out / 'model'}   (transformers, vLLM, TGI)"]


_TRAINING = {"resumable": True, "accelerate": True}
STEP_KINDS: dict[str, StepKind] = {kind.name: kind for kind in (
    StepKind("table_features"), StepKind("lightgbm_fit"), StepKind("api_bundle", hints=_api),
    StepKind("lm_data"), StepKind("model_fetch"), StepKind("model_init"), StepKind("tokenizer_train"),
    StepKind("train_pretrain", **_TRAINING), StepKind("train_sft", **_TRAINING), StepKind("train_dpo", **_TRAINING),
    StepKind("train_kto", **_TRAINING), StepKind("train_reward", **_TRAINING), StepKind("train_grpo", **_TRAINING),
    StepKind("lm_evaluate"), StepKind("reward_evaluate"), StepKind("lora_merge"), StepKind("gguf_convert"),
    StepKind("gguf_lora_convert"),
    StepKind("gguf_quantize"), StepKind("gguf_parity"), StepKind("ollama_modelfile"),
    StepKind("ollama_create", hints=_ollama), StepKind("llama_server_smoke", hints=_smoke),
    StepKind("hf_model_card", hints=_hf),
)}


def step_kind(name: str) -> StepKind:
    try:
        return STEP_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown step kind `{name}`; this version runs: {', '.join(STEP_KINDS)}") from None
