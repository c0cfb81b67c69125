"""Each step kind in one place: the typed parameters the planner builds and the runner parses from its
step.json (pydantic, refusing unknown keys, importable without heavy libraries), and the kind's facts —
whether an interrupted attempt's partial output is kept for a resume, whether it is launched with
`accelerate launch`, what `apply` tells the user once it has finished. Recipe sections that a step takes
whole are the recipe's own models, so the planner and the runner cannot disagree about their keys. The
executor, the planner and the CLI read the facts here instead of comparing kind names; a kind that is not
here is an error."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, create_model

from modelops.recipe.data import Data
from modelops.recipe.deploy import GgufMetadata, Ollama, Serve
from modelops.recipe.model import Model, ModelInit, TokenizerTraining
from modelops.recipe.tasks import LagTransform, LightGBMModel, Metric, Search, Task, TimeValidation

Hints = Callable[[Path, str], list[str]]        # (the step's output folder, the recipe file) → lines


class StepParams(BaseModel):
    """A step's parameters, as written into its step.json and fingerprinted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str] = ""
    resumable: ClassVar[bool] = False   # keep `out.partial` of an interrupted attempt: training checkpoints
    accelerate: ClassVar[bool] = False  # `accelerate launch` (one or many processes) instead of `python -m`
    hints: ClassVar[Hints | None] = None
    tracked: ClassVar[bool] = False     # reports parameters and metrics to the recipe's trackers

    omitted_at_default: ClassVar[tuple[str, ...]] = ()   # newer keys, left out at their default: older plans stay alike

    def dump(self) -> dict[str, Any]:
        """The plain JSON the plan holds."""
        out = self.model_dump(mode="json", by_alias=True)
        fields = type(self).model_fields
        return {k: v for k, v in out.items() if k not in self.omitted_at_default or v != fields[k].get_default(
            call_default_factory=True)}


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


# ------------------------------------------------------------------ regression

class TableFeatures(StepParams):
    kind = "table_features"
    data: Data
    remote_train: str | None
    target: str
    features: list[str]
    groups: list[str]
    lags: list[int]
    lag_transforms: list[LagTransform]
    calendar: list[str]
    static_features: list[str]
    known_features: list[str]
    horizon: int
    season: int | None


class LightgbmFit(StepParams):
    kind = "lightgbm_fit"
    tracked = True
    model: LightGBMModel
    search: Search | None
    validation: TimeValidation
    metrics: list[Metric]
    target_transform: str
    seed: int
    engine: Literal["local", "dask"]
    scheduler: str | None      # as written: ${VAR} is expanded by the runner
    threads: int | None
    intervals: list[int] = []
    strategy: Literal["direct", "recursive", "auto"] = "direct"
    omitted_at_default = ("intervals", "strategy")


class ApiBundle(StepParams):
    kind = "api_bundle"
    hints = _api
    name: str


# ------------------------------------------------------------------ language models

class LmData(StepParams):
    kind = "lm_data"
    task: str
    format: str
    data: Data
    remote_train: str | None
    validation_fraction: float | None
    seed: int
    columns: list[str] = []      # data columns GRPO's rewards read
    omitted_at_default = ("columns",)


class ModelFetch(StepParams):
    kind = "model_fetch"
    source: Literal["hub", "modelscope"]
    id: str
    revision: str | None
    trust_remote_code: bool


class ModelInitStep(ModelInit, StepParams):
    kind = "model_init"
    seed: int


class TokenizerTrain(TokenizerTraining, StepParams):
    kind = "tokenizer_train"
    format: str
    seed: int
    chat_template: str | None


class Setup(BaseModel):
    """The planner's training setup (plan/training.py `TrainingSetup.summary`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    precision: Literal["fp32", "fp16", "bf16"]
    distributed: str
    devices: int
    per_device_batch: int
    gradient_accumulation: int
    global_batch: int
    gradient_checkpointing: bool
    attn_implementation: str
    reasons: list[str]
    trainable_params: int | None
    total_params: int | None
    memory_capacity_gib: float | None
    memory_gib: dict[str, float] | None = None


class Train(StepParams):
    """Every training step; each `train_<kind>` narrows `task` to its kind's section."""

    resumable = True
    accelerate = True
    tracked = True
    task: Any
    model: Model
    seed: int
    setup: Setup
    launch_module: str


def _training_kinds() -> dict[str, type[Train]]:
    tasks = typing.get_args(typing.get_args(Task)[0])
    found = {}
    for task in tasks:
        kind = typing.get_args(task.model_fields["kind"].annotation)[0]
        if kind != "regression":
            found[f"train_{kind}"] = create_model(f"Train{kind.title()}", __base__=Train, task=(task, ...))
            found[f"train_{kind}"].kind = f"train_{kind}"
    return found


class LmEvaluate(StepParams):
    kind = "lm_evaluate"
    task: str
    max_length: int


class HarnessTasks(StepParams):
    """What lm-evaluation-harness scores: the recipe's `benchmark` section."""

    tasks: list[str]                 # harness task names; local task folders are the step's `tasks/<name>` inputs
    limit: int | None
    num_fewshot: int
    chat_template: bool


class LmBenchmark(HarnessTasks):
    kind = "lm_benchmark"
    base: bool
    seed: int


class GgufBenchmark(HarnessTasks):
    kind = "gguf_benchmark"
    seed: int
    n_ctx: int                       # the served context (`deploy.serve.n_ctx`)


class RewardEvaluate(LmEvaluate):
    kind = "reward_evaluate"


class LoraMerge(StepParams):
    kind = "lora_merge"
    precision: Literal["fp32", "fp16", "bf16"]


# ------------------------------------------------------------------ deploying language models

class GgufConvert(StepParams):
    kind = "gguf_convert"
    outtype: str
    metadata: GgufMetadata


class GgufLoraConvert(StepParams):
    kind = "gguf_lora_convert"
    outtype: str


class GgufQuantize(StepParams):
    kind = "gguf_quantize"
    type: str


class GgufParity(StepParams):
    kind = "gguf_parity"
    min_top1: float | None
    prompts: int


class OllamaModelfile(Ollama, StepParams):
    kind = "ollama_modelfile"
    gguf: str


class OllamaCreate(StepParams):
    kind = "ollama_create"
    hints = _ollama
    name: str
    host: str | None
    require: bool


class LlamaServerSmoke(Serve, StepParams):
    kind = "llama_server_smoke"
    hints = _smoke


class HfModelCard(StepParams):
    kind = "hf_model_card"
    hints = _hf
    name: str
    description: str | None
    task: str
    base: str


StepClass = type[StepParams]
STEP_KINDS: dict[str, StepClass] = {kind.kind: kind for kind in (
    TableFeatures, LightgbmFit, ApiBundle, LmData, ModelFetch, ModelInitStep, TokenizerTrain,
    *_training_kinds().values(), LmEvaluate, LmBenchmark, RewardEvaluate, LoraMerge, GgufConvert, GgufLoraConvert,
    GgufQuantize, GgufParity, GgufBenchmark, OllamaModelfile, OllamaCreate, LlamaServerSmoke, HfModelCard,
)}


def step_kind(name: str) -> StepClass:
    try:
        return STEP_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown step kind `{name}`; this version runs: {', '.join(STEP_KINDS)}") from None

