"""The recipe: the single source of truth for what a recipe may say."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelops.recipe.benchmark import Benchmark
from modelops.recipe.cache import Cache
from modelops.recipe.common import Section, name_or
from modelops.recipe.data import Data
from modelops.recipe.deploy import Deploy
from modelops.recipe.hardware import HardwareSpec
from modelops.recipe.model import Model
from modelops.recipe.tasks import Task
from modelops.recipe.tracking import Tracking


class Recipe(Section):
    """A modelops recipe: data, task, hardware and deploy target, declared once and planned into steps."""

    version: Literal[1] = Field(description="Recipe format version.")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100, description=(
        "Run name: letters, digits, `.`, `_`, `-`. Names the run directory."))
    description: str | None = Field(None, description="What this recipe is for.")
    seed: int = Field(42, ge=0, description="Seed for data splits, initialisation and training.")
    data: Data = Field(description="Training data and how to prepare it.")
    model: Model | None = Field(None, description="Base model (language-model tasks).")
    task: Task = Field(description="What to train; `kind` chooses the shape (`regression`, `sft`, `grpo`, ...).")
    hardware: name_or(HardwareSpec) = Field("cpu", description=(  # type: ignore[valid-type]
        "A profile (`cpu`, `a10x2`, `h100x8`, see `modelops hardware`) or `{gpu:, gpus:, nodes:}`."))
    deploy: Deploy | None = Field(None, description="Export and deploy target.")
    tracking: Tracking = Field(default_factory=Tracking, description="Experiment tracking (TensorBoard, MLflow).")
    gates: list[str] = Field(default_factory=list, description=(
        "Conditions on steps' metrics, checked as soon as the steps they name have finished; a failed gate stops "
        "the chain (before deploying): `evaluate.perplexity < 20`, `fit.mae <= 0.9 * fit.naive_mae`, "
        "`parity.top1_q4_k_m >= 0.95`. STEP.METRIC names a step of this recipe and a key of its metrics.json."))
    benchmark: Benchmark | None = Field(None, description=(
        "lm-evaluation-harness tasks scored after training (language-model tasks)."))
    cache: Cache | None = Field(None, description="A cache of finished steps shared by a team and its CI.")
    workdir: str | None = Field(None, description="Run directory; defaults to `runs/<name>` in the working directory.")


def recipe_json_schema() -> dict:
    schema = Recipe.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "modelops recipe"
    return schema
