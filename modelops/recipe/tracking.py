"""The `tracking` section: where training and forecasting runs report their parameters and metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelops.recipe.common import Section


class MlflowTracking(Section):
    """An MLflow tracking server (or store) that every training and fit step logs a run to."""

    uri: str = Field(min_length=1, description=(
        "Tracking URI: `http://host:5000`, `sqlite:///mlflow.db` or `file:./mlruns`; `${MLFLOW_TRACKING_URI}` "
        "reads it from the environment when the step runs."))
    experiment: str | None = Field(None, description="Experiment name; defaults to the recipe name.")


class WandbTracking(Section):
    """A Weights & Biases run for every training and fit step."""

    project: str | None = Field(None, description="W&B project; defaults to the recipe name.")
    mode: Literal["offline", "online"] = Field("offline", description=(
        "`offline` writes the run into the step's output (`wandb/offline-run-*`), for `wandb sync` later; "
        "`online` sends it to W&B (WANDB_API_KEY and WANDB_BASE_URL come from the environment)."))


class Tracking(Section):
    """Experiment tracking. A tracker that cannot be reached is a warning in the step's log and the report,
    never a failed run; tracking settings do not change step fingerprints (nothing reruns for them)."""

    tensorboard: bool = Field(True, description=(
        "TensorBoard event files in each training and fit step's output (`tensorboard/`): "
        "`tensorboard --logdir runs/`."))
    mlflow: MlflowTracking | None = Field(None, description="Log each training and fit step as an MLflow run.")
    wandb: WandbTracking | None = Field(None, description="Log each training and fit step as a W&B run.")
