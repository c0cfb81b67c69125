"""The `task` section: a discriminated union on `kind`."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from modelops.recipe.common import Section

Metric = Literal["mae", "rmse", "mse", "r2", "mape", "smape"]
Scalar = Union[int, float, str, bool]


# ---------------------------------------------------------------- regression

class LagTransform(Section):
    """A statistic over past values of a feature, computed without looking ahead."""

    type: Literal["rolling_mean", "rolling_std", "expanding_mean"] = Field(description="The statistic.")
    window: int | None = Field(None, ge=2, description="Rolling window length (rolling statistics only).")
    lag: int = Field(
        1, ge=1, description="Lag the statistic ends at (1 = ending at the latest observation, like `lag1`)."
    )
    features: list[str] | None = Field(None, description="Features to transform; defaults to the target.")

    @model_validator(mode="after")
    def _window(self) -> "LagTransform":
        if self.type.startswith("rolling") and self.window is None:
            raise ValueError(f"`{self.type}` needs `window`")
        return self


def _check_rounds(values: list[Scalar]) -> None:
    """`n_estimators` is a count of boosting rounds: the planner's time estimate and LightGBM both need one."""
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`n_estimators` must be a whole number of boosting rounds, 1 or more (got `{value}`)")


class LightGBMModel(Section):
    """A LightGBM regressor."""

    type: Literal["lightgbm"] = Field("lightgbm", description="Model family.")
    params: dict[str, Scalar] = Field(
        default_factory=dict, description="LightGBM parameters (`n_estimators`, `num_leaves`, ...)."
    )
    early_stopping_rounds: int = Field(
        50, ge=1, description="Rounds without improvement on a validation fold before stopping."
    )

    @model_validator(mode="after")
    def _rounds(self) -> "LightGBMModel":
        _check_rounds([self.params["n_estimators"]] if "n_estimators" in self.params else [])
        return self


class Search(Section):
    """Hyper-parameter search over LightGBM parameters, scored on the validation folds."""

    method: Literal["grid", "random"] = Field("grid", description="Try every combination, or `trials` random ones.")
    grid: dict[str, list[Scalar]] = Field(description="Candidate values per LightGBM parameter.")
    trials: int | None = Field(None, ge=1, description="Number of random combinations (method `random`).")
    metric: Metric = Field("mae", description="Metric that picks the best combination (lower is better, except r2).")

    @model_validator(mode="after")
    def _trials(self) -> "Search":
        _check_rounds(self.grid.get("n_estimators", []))
        if self.method == "random" and self.trials is None:
            raise ValueError("`method: random` needs `trials`")
        if any(not values for values in self.grid.values()):
            raise ValueError("every grid entry needs at least one value")
        return self


class TimeValidation(Section):
    """Expanding-window cross-validation by time over the whole panel."""

    folds: int = Field(
        5, ge=1,
        description="Number of validation windows. The transform, the strategy and the refit's rounds are "
        "chosen on all of them together: on real data 5 chose better than 3 (benchmarks/README.md).",
    )
    window: int | None = Field(
        None, ge=1,
        description="Time steps per validation window; by default enough for about 200 rows across the series, "
        "at least the horizon, the windows together at most half the time axis.",
    )
    gap: int = Field(0, ge=0, description="Time steps left out between training and validation periods.")


class RegressionTask(Section):
    """Time-series regression with LightGBM: lag features, one model per step ahead or one iterated."""

    kind: Literal["regression"]
    target: str = Field(description="Column to forecast.")
    features: list[str] = Field(
        default_factory=list,
        description="Columns whose past values (lags) are features; the target's lags are always included.",
    )
    groups: list[str] = Field(default_factory=list, description="Columns identifying one series (zero or more).")
    window: int | None = Field(None, ge=1, description="Use lags 1..window of every feature.")
    lags: list[Annotated[int, Field(ge=1)]] | None = Field(None, description="Explicit lags instead of `window`.")
    horizon: int = Field(1, ge=1, description="Steps ahead to forecast.")
    lag_transforms: list[LagTransform] = Field(default_factory=list, description="Rolling and expanding statistics.")
    calendar: list[Literal["hour", "dayofweek", "day", "month", "dayofyear", "weekofyear"]] = Field(
        default_factory=list, description="Calendar features of the time column, taken at the target time."
    )
    static_features: list[str] = Field(
        default_factory=list, description="Per-group categorical columns passed to LightGBM as categoricals."
    )
    known_features: list[str] = Field(
        default_factory=list,
        description="Columns known in advance (holidays, planned values), taken at the target time.",
    )
    target_transform: Literal["auto", "none", "difference", "changes", "standard", "log"] = Field(
        "auto",
        description=(
            "Transform applied before fitting and inverted on prediction; `auto` lets the validation folds choose. "
            "`difference` predicts the change from the latest value; `changes` differences the series (as "
            "mlforecast's `Differences([1])`): lags are step-to-step changes, each step ahead's model predicts "
            "the change into its step, and a forecast adds them up from the latest value."
        ),
    )
    strategy: Literal["direct", "recursive", "auto"] | None = Field(
        None,
        description=(
            "`direct`: one model per step ahead. `recursive`: one model of the next step, its forecasts fed back "
            "as the latest values (lags of columns other than the target need `direct`). `auto`: the validation "
            "folds choose, together with the target transform. Default: `recursive`, or `direct` when lags of "
            "other columns are features."
        ),
    )
    season: int | None = Field(None, ge=2, description="Season length in steps, for the seasonal-naive baseline.")
    intervals: list[Annotated[int, Field(gt=0, lt=100)]] = Field(default_factory=list, description=(
        "Prediction intervals to give with every forecast, as coverage levels in percent (`[80, 95]`): conformal "
        "intervals from the validation folds' errors per step ahead, their coverage measured on the folds."))
    model: LightGBMModel = Field(default_factory=LightGBMModel, description="The regressor.")
    search: Search | None = Field(None, description="Hyper-parameter search.")
    validation: TimeValidation = Field(default_factory=TimeValidation, description="Cross-validation by time.")
    metrics: list[Metric] = Field(
        default_factory=lambda: ["mae", "rmse", "r2"],
        min_length=1,
        description="Metrics reported per step ahead and overall.",
    )

    @model_validator(mode="after")
    def _lags(self) -> "RegressionTask":
        if (self.window is None) == (self.lags is None):
            raise ValueError("give exactly one of `window` (lags 1..W) or `lags` (an explicit list)")
        return self

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, strategy: str | None, info: ValidationInfo) -> str | None:
        """Checked on the key itself, so that the error points at `strategy:` (the columns come first)."""
        fields = info.data
        others = _others_lagged(fields.get("target", ""), fields.get("features", []), fields.get("lag_transforms", []))
        if strategy == "recursive" and others:
            raise ValueError(
                f"`strategy: recursive` feeds its forecasts back as the target's lags, but the lags of "
                f"{', '.join(f'`{c}`' for c in others)} would need that column's future values; list it under "
                "`known_features` instead (taken at the target time), or use `strategy: direct` or `auto`"
            )
        return strategy

    @property
    def others_lagged(self) -> list[str]:
        """Columns besides the target whose lags are features: a recursive forecast would need their future."""
        return _others_lagged(self.target, self.features, self.lag_transforms)

    @property
    def lag_list(self) -> list[int]:
        return sorted(set(self.lags)) if self.lags else list(range(1, (self.window or 0) + 1))


def _others_lagged(target: str, features: list[str], lag_transforms: list[LagTransform]) -> list[str]:
    transformed = [name for t in lag_transforms for name in t.features or [target]]
    return [name for name in dict.fromkeys([*features, *transformed]) if name != target]


# ---------------------------------------------------------------- language models


class Adapter(Section):
    """Parameter-efficient fine-tuning, or `none` for full fine-tuning."""

    type: Literal["none", "lora", "dora", "qlora"] = Field(description="`qlora` needs a CUDA GPU.")
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch.")
    target_modules: Union[Literal["all-linear"], list[str]] = Field("all-linear", description="Modules to adapt.")


class EvalSchedule(Section):
    """Evaluation during training."""

    every_steps: int | None = Field(
        None, ge=1, description="Evaluate every N optimizer steps; default: once per epoch."
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="Stop after N evaluations without a lower eval loss."
    )


class SaveSchedule(Section):
    """Checkpoints, which make an interrupted run resume where it was: by default every 10 minutes of
    training, whatever the step time; `every_steps` adds (or, with `every_minutes: null`, replaces) a
    step interval."""

    every_minutes: float | None = Field(
        10.0, gt=0, description="Save a checkpoint after this many minutes of training since the last one."
    )
    every_steps: int | None = Field(None, ge=1, description="Save a checkpoint every N optimizer steps.")
    keep: int = Field(3, ge=1, description="Checkpoints to keep (the newest).")


class TrainingTask(Section):
    """Fields shared by every language-model training task."""

    epochs: float = Field(1.0, gt=0, description="Passes over the training data.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides `epochs`).")
    learning_rate: float | None = Field(
        None, gt=0, description="Peak learning rate; the default depends on the task and adapter."
    )
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule."
    )
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    batch_size: int = Field(
        16,
        ge=1,
        description="Global batch (sequences per optimizer step); the planner splits it over devices and accumulation.",
    )
    per_device_batch_size: int | None = Field(
        None, ge=1, description="Pin the per-device batch instead of letting the planner choose."
    )
    gradient_accumulation: int | None = Field(None, ge=1, description="Pin gradient accumulation steps.")
    max_length: int = Field(1024, ge=8, description="Longest training sequence in tokens.")
    packing: bool | None = Field(
        None, description="Pack short examples into full sequences; default on where supported."
    )
    gradient_checkpointing: bool | None = Field(
        None, description="Recompute activations to save memory; default: on only when needed to fit."
    )
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="`auto`: bf16 where supported, fp16 on older GPUs, fp32 on CPU."
    )
    distributed: Literal["auto", "single", "ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"] = Field(
        "auto", description="`auto`: one device, DDP when a replica fits a device, FSDP full-shard when not."
    )
    eval: EvalSchedule = Field(default_factory=EvalSchedule, description="Evaluation schedule.")
    save: SaveSchedule = Field(default_factory=SaveSchedule, description="Checkpoint schedule.")
    liger_kernels: bool = Field(False, description="Use Liger kernels (CUDA only).")


class PretrainTask(TrainingTask):
    """Continued pretraining (or training from scratch) on plain text."""

    kind: Literal["pretrain"]
    adapter: Adapter = Field(default_factory=lambda: Adapter(type="none"), description="Full training by default.")
    max_length: int = Field(2048, ge=8, description="Length of packed training sequences.")


class SftTask(TrainingTask):
    """Supervised fine-tuning on conversations."""

    kind: Literal["sft"]
    adapter: Adapter = Field(default_factory=lambda: Adapter(type="lora"), description="LoRA by default.")
    assistant_only_loss: bool = Field(True, description="Train on assistant turns only.")


class DpoTask(TrainingTask):
    """Direct preference optimisation on chosen/rejected pairs."""

    kind: Literal["dpo"]
    adapter: Adapter = Field(
        default_factory=lambda: Adapter(type="lora"),
        description="LoRA by default; the reference model is the adapter-free base.",
    )
    beta: float = Field(0.1, gt=0, description="Strength of the KL penalty towards the reference model.")
    loss_type: Literal[
        "sigmoid", "ipo", "hinge", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down"
    ] = Field("sigmoid", description="DPO loss variant (TRL's names).")
    batch_size: int = Field(8, ge=1, description="Global batch of preference pairs per optimizer step.")
    max_prompt_length: int | None = Field(None, ge=1, description="Truncate prompts to this many tokens.")


class KtoTask(TrainingTask):
    """Kahneman-Tversky optimisation on unpaired examples: each a prompt, an answer and whether the answer is
    desirable (no pairs needed, so thumbs-up/down feedback trains directly)."""

    kind: Literal["kto"]
    adapter: Adapter = Field(
        default_factory=lambda: Adapter(type="lora"),
        description="LoRA by default; the reference model is the adapter-free base.",
    )
    beta: float = Field(0.1, gt=0, description="Strength of the KL penalty towards the reference model.")
    desirable_weight: float = Field(1.0, gt=0, description="Weight of desirable examples' losses.")
    undesirable_weight: float = Field(
        1.0, gt=0, description="Weight of undesirable examples' losses (raise it when they are fewer)."
    )
    loss_type: Literal["kto", "apo_zero_unpaired"] = Field("kto", description="KTO loss variant (TRL's names).")
    batch_size: int = Field(
        8, ge=2, description="Global batch of examples per optimizer step (KTO estimates its KL term across a batch)."
    )


class RewardTask(TrainingTask):
    """A reward model trained on chosen/rejected pairs (a sequence classifier with one score per answer), for
    `grpo` recipes to score their generations with; its report gives held-out pair accuracy."""

    kind: Literal["reward"]
    adapter: Adapter = Field(
        default_factory=lambda: Adapter(type="none"), description="Full training by default (the score head is new)."
    )
    center_rewards: float | None = Field(
        None, gt=0,
        description="Pull the scores' mean towards 0 with this coefficient (TRL's center_rewards_coefficient).",
    )
    batch_size: int = Field(8, ge=1, description="Global batch of preference pairs per optimizer step.")


class MatchReward(Section):
    """1 when the completion's answer matches the row's reference answer, else 0."""

    type: Literal["match"] = Field(description="Compare an answer in the completion with the row's reference.")
    column: str = Field(min_length=1, description="Data column holding the reference answer.")
    mode: Literal["exact", "regex"] = Field(
        "exact",
        description="`exact`: equal after trimming whitespace; `regex`: the reference is a pattern the answer fully "
        "matches.",
    )
    extract: str | None = Field(
        None, description="Pattern finding the answer in the completion (its first group, else the whole match); "
        "default: the whole completion."
    )
    weight: float = Field(1.0, description="Weight of this reward in the sum.")


class FormatReward(Section):
    """1 when the whole completion matches a pattern (e.g. `<think>.*</think>\\s*\\S.*`), else 0."""

    type: Literal["format"] = Field(description="Score the shape of the whole completion.")
    pattern: str = Field(min_length=1, description="Pattern the whole completion must match (`.` matches newlines).")
    weight: float = Field(1.0, description="Weight of this reward in the sum.")


class LengthReward(Section):
    """0 up to `max_chars` characters, then falling by 1 for every further `max_chars` characters."""

    type: Literal["length"] = Field(description="Penalise long completions.")
    max_chars: int = Field(ge=1, description="Characters a completion may use without penalty.")
    weight: float = Field(1.0, description="Weight of this reward in the sum.")


class ModelReward(Section):
    """The score of the reward model another recipe (a `reward` task) trains."""

    type: Literal["model"] = Field(description="Score with a trained reward model.")
    from_: str = Field(alias="from", min_length=1, description="Path of the `reward` recipe, relative to this one.")
    weight: float = Field(1.0, description="Weight of this reward in the sum.")


class FunctionReward(Section):
    """Your own Python function `f(prompts, completions, **columns) -> list[float]`: code that runs on this machine,
    which the plan says."""

    type: Literal["function"] = Field(description="Score with your own Python function.")
    function: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$",
        description="`module:function`; a module file beside the recipe (`rewards.py` → `rewards`) is an input of the "
        "training step, so editing it retrains.",
    )
    weight: float = Field(1.0, description="Weight of this reward in the sum.")


Reward = Annotated[
    Union[MatchReward, FormatReward, LengthReward, ModelReward, FunctionReward], Field(discriminator="type")
]


class Generation(Section):
    """How `grpo` samples its completions."""

    per_prompt: int = Field(4, ge=2, description="Completions sampled per prompt (the group rewards are compared in).")
    max_tokens: int = Field(256, ge=1, description="Longest completion in tokens.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling: the smallest token set with this probability.")


class GrpoTask(TrainingTask):
    """Group relative policy optimisation on prompts: sample several completions per prompt, score them with the
    declared rewards, and move the model towards the better ones of each group."""

    kind: Literal["grpo"]
    adapter: Adapter = Field(default_factory=lambda: Adapter(type="lora"), description="LoRA by default.")
    rewards: list[Reward] = Field(min_length=1, description="Rewards summed (by weight) for every completion.")
    generation: Generation = Field(default_factory=Generation, description="Sampling of the completions.")
    beta: float = Field(
        0.0, ge=0, description="KL penalty towards the starting model (0: none, and no reference copy in memory)."
    )
    loss_type: Literal["dapo", "grpo", "dr_grpo", "bnpo"] = Field(
        "dapo", description="GRPO loss variant (TRL's names)."
    )
    batch_size: int = Field(
        16, ge=2, description="Completions per optimizer step: a multiple of `generation.per_prompt`."
    )
    def reward_recipes(self) -> list[tuple[int, str]]:
        return [(i, r.from_) for i, r in enumerate(self.rewards) if isinstance(r, ModelReward)]


Task = Annotated[
    Union[RegressionTask, PretrainTask, SftTask, DpoTask, KtoTask, RewardTask, GrpoTask], Field(discriminator="kind")
]
