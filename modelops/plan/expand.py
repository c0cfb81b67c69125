"""Expand one validated recipe into its steps (ids, kinds, parameters, inputs, outputs)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.forecast.fit_count import fit_count
from modelops.forecast.transform_names import TRANSFORMS
from modelops.plan.checks import benchmark_folders, data_format, data_locations
from modelops.plan.model import Step, StepInput
from modelops.plan.sources import Location, count_rows, locate
from modelops.plan.training import TrainingSetup
from modelops.recipe.data import Data
from modelops.recipe.loader import LoadedRecipe
from modelops.recipe.tasks import FunctionReward, GrpoTask, MatchReward, RegressionTask, TrainingTask
from modelops.step_kinds import (
    ApiBundle,
    GgufBenchmark,
    GgufConvert,
    GgufLoraConvert,
    GgufParity,
    GgufQuantize,
    HfModelCard,
    LightgbmFit,
    LlamaServerSmoke,
    LmBenchmark,
    LmData,
    LmEvaluate,
    LoraMerge,
    ModelFetch,
    ModelInitStep,
    OllamaCreate,
    OllamaModelfile,
    RewardEvaluate,
    StepParams,
    TableFeatures,
    TokenizerTrain,
    step_kind,
)
from modelops.task_kinds import task_kind

DEFAULT_VALIDATION_FRACTION = 0.05


@dataclass(frozen=True)
class ModelRef:
    """Where a recipe's model comes from: an upstream step's output, a local folder, or an id to fetch."""

    input: StepInput | None   # set for upstream steps and local folders
    remote: Location | None = None


class StepList:
    def __init__(self, recipe: str):
        self.recipe, self.steps = recipe, []

    def add(self, short_id: str, title: str, params: StepParams, inputs: list[StepInput],
            outputs: list[str], summary: dict[str, Any] | None = None) -> Step:
        """A step of the kind its typed parameters belong to (step_kinds.py)."""
        step = Step(id=f"{self.recipe}/{short_id}", kind=params.kind, title=title, params=params.dump(),
                    inputs=inputs, outputs=outputs, summary=summary or {})
        self.steps.append(step)
        return step


def output_of(step: Step, name: str, as_name: str | None = None) -> StepInput:
    return StepInput(name=as_name or name, step=step.id, output=name)


def _data_inputs(loaded: LoadedRecipe) -> list[StepInput]:
    names = {("data", "train", "path"): "train", ("data", "validation", "path"): "validation",
             ("data", "test", "path"): "test"}
    return [StepInput(name=names[key], path=str(location.path)) for key, location in data_locations(loaded).items()
            if location.is_local]


def _data_section(loaded: LoadedRecipe) -> Data:
    """The data section as steps get it, each local file spelled one way — relative to the recipe, without
    `./`, `..` detours or symlinks — so that `a.csv`, `./a.csv` and `/abs/a.csv` plan the same steps (the
    file's content is the step's input; its spelling must not rerun anything)."""
    data, root = loaded.recipe.data, loaded.root.resolve()
    updates = {}
    for (_, split, _), location in data_locations(loaded).items():
        if location.is_local:
            spelled = Path(os.path.relpath(location.path.resolve(), root)).as_posix()
            updates[split] = getattr(data, split).model_copy(update={"path": spelled})
    return data.model_copy(update=updates)


def _harness_tasks(loaded: LoadedRecipe) -> tuple[list[str], list[StepInput]]:
    """The benchmark's harness task names, and its task folders as step inputs (`tasks/<name>`)."""
    section, folders = loaded.recipe.benchmark, benchmark_folders(loaded)
    named = [t for t in section.tasks if Path(t).name not in folders]
    return named, [StepInput(f"tasks/{name}", path=str(path)) for name, path in folders.items()]


def _benchmark(loaded: LoadedRecipe, steps: StepList, trained: StepInput, base: StepInput) -> None:
    section = loaded.recipe.benchmark
    named, folders = _harness_tasks(loaded)
    shown = ", ".join([*named, *(f.name.removeprefix("tasks/") for f in folders)])
    steps.add(
        "benchmark",
        f"Score {shown} with lm-evaluation-harness"
        + (", the trained model against the one it started from" if section.base else ""),
        params=LmBenchmark(tasks=named, limit=section.limit, num_fewshot=section.num_fewshot,
                           chat_template=section.chat_template, base=section.base, seed=loaded.recipe.seed),
        inputs=[trained, base, *folders],
        outputs=["metrics.json", "results.json"],
        summary={"tasks": shown, "limit": section.limit or "all",
                 "few-shot": section.num_fewshot, "chat template": section.chat_template},
    )


# ------------------------------------------------------------------ regression

def expand_regression(loaded: LoadedRecipe, hardware: dict[str, Any]) -> list[Step]:
    recipe, task = loaded.recipe, loaded.recipe.task
    assert isinstance(task, RegressionTask)
    steps = StepList(recipe.name)
    features = steps.add(
        "features",
        "Parse times, build lag features and horizon targets",
        params=TableFeatures(
            data=_data_section(loaded), remote_train=_remote(loaded), target=task.target, features=task.features,
            groups=task.groups, lags=task.lag_list, lag_transforms=task.lag_transforms, calendar=task.calendar,
            static_features=task.static_features, known_features=task.known_features, horizon=task.horizon,
            season=task.season,
        ),
        inputs=_data_inputs(loaded),
        outputs=["features.parquet", "preprocessing.json", "recent.csv"],
        summary={
            "lags": _span(task.lag_list),
            "horizon": task.horizon,
            "groups": ", ".join(task.groups) or "(one series)",
        },
    )
    strategies = fit_strategies(task)
    fit = steps.add(
        "fit",
        f"Fit LightGBM forecasters ({' or '.join(_STRATEGY_WORDS[s](task.horizon) for s in strategies)}) with "
        "time-ordered validation",
        params=LightgbmFit(
            model=task.model, search=task.search, validation=task.validation, metrics=task.metrics,
            target_transform=task.target_transform, seed=recipe.seed, engine=hardware["engine"],
            scheduler=hardware["scheduler"], threads=hardware["threads"], intervals=task.intervals,
            strategy=strategies[0] if len(strategies) == 1 else "auto",
        ),
        inputs=[output_of(features, "features.parquet"), output_of(features, "preprocessing.json")],
        outputs=["models", "metrics.json", "importance.csv", "plots", "tables.json"],
        summary={
            "search": _search_size(task),
            "folds": task.validation.folds,
            "metric": _search_metric(task),
            "strategy": _strategy_summary(task, strategies),
            "target transform": task.target_transform,
            **_fit_estimate(loaded, task),
        },
    )
    if recipe.deploy is not None and recipe.deploy.target == "api":
        steps.add(
            "api",
            "Package the models for `modelops serve` and smoke-test POST /predict",
            params=ApiBundle(name=recipe.name),
            inputs=[output_of(fit, "models"), output_of(fit, "metrics.json"), output_of(features, "recent.csv")],
            outputs=["bundle"],
        )
    return steps.steps


def _span(values: list[int]) -> str:
    return (
        f"{values[0]}..{values[-1]}"
        if values == list(range(values[0], values[-1] + 1)) and len(values) > 2
        else ", ".join(map(str, values))
    )


def _combinations(task: RegressionTask) -> int:
    """Parameter sets the search tries: the grid's size, the random trials, or 1 without a search."""
    if task.search is None:
        return 1
    return (
        task.search.trials if task.search.method == "random" else math.prod(len(v) for v in task.search.grid.values())
    )


def _search_size(task: RegressionTask) -> str:
    if task.search is None:
        return "none"
    if task.search.method == "random":
        return f"random, {task.search.trials} trials"
    models = f"{task.horizon} horizons" if "direct" in fit_strategies(task) else "1 model"
    return f"grid, {_combinations(task)} combinations × {models} × {task.validation.folds} folds"


def train_file_rows(loaded: LoadedRecipe) -> int | None:
    """Rows of the local training file (counted cheaply), or None when it is remote or not a text table."""
    location = locate(loaded.recipe.data.train.path, loaded.root)
    return count_rows(location.path) if location.is_local and location.path else None


SECONDS_PER_CELL_ROUND = 2.7e-8  # one LightGBM thread; the demo forecast: 416 fits of 1,857 rows × 11 in 113 s


_STRATEGY_WORDS = {"direct": lambda h: f"{h} direct model(s), one per step ahead",
                   "recursive": lambda h: "one next-step model iterated"}


def fit_strategies(task: RegressionTask) -> list[str]:
    """The strategies the fit step may try: the recipe's; by default the recursive one (as accurate on the real
    data sets of benchmarks/forecast_real.py, at half the fits); both for `auto` — except that lags of other
    columns leave only the direct one (a recursive forecast would need their future)."""
    if task.strategy in ("direct", "recursive"):
        return [task.strategy]
    if task.others_lagged:
        return ["direct"]
    return ["direct", "recursive"] if task.strategy == "auto" else ["recursive"]


def _strategy_summary(task: RegressionTask, strategies: list[str]) -> str:
    if len(strategies) > 1:
        return "auto: direct or recursive, as the validation folds choose"
    if task.strategy in ("direct", "recursive"):
        return task.strategy
    if strategies == ["recursive"]:
        return "recursive (the default)"
    listed = ", ".join(f"`{c}`" for c in task.others_lagged)
    return f"direct ({task.strategy or 'the default would be recursive'}, but the lags of {listed} need it)"


def _fit_estimate(loaded: LoadedRecipe, task: RegressionTask) -> dict[str, str]:
    """The number of LightGBM fits and a rough time on one CPU (rows × features × rounds, an upper bound:
    early stopping usually ends sooner); parallel fits divide it among the CPUs."""
    transforms = list(TRANSFORMS) if task.target_transform == "auto" else [task.target_transform]
    strategies = fit_strategies(task)
    fits = fit_count(transforms, strategies, _combinations(task), task.horizon, task.validation.folds,
                     (strategies[0], transforms[0]))
    rows = train_file_rows(loaded)
    if not rows:
        return {"fits": f"{fits:,}"}
    columns = (
        len(task.lag_list) * (1 + len(task.features))
        + len(task.lag_transforms)
        + len(task.calendar)
        + len(task.known_features)
        + len(task.static_features)
    )
    grid = task.search.grid if task.search is not None and task.search.method == "grid" else {}
    rounds = max([int(v) for v in grid.get("n_estimators", [])] + [int(task.model.params.get("n_estimators", 500))])
    seconds = fits * rows * columns * rounds * SECONDS_PER_CELL_ROUND
    return {
        "fits": f"{fits:,}",
        "time on one CPU": f"≲ {seconds / 60:.0f} min" if seconds >= 90 else f"≲ {seconds:.0f} s",
    }


def _search_metric(task: RegressionTask) -> str:
    return task.search.metric if task.search else task.metrics[0]


def _remote(loaded: LoadedRecipe) -> str | None:
    location = locate(loaded.recipe.data.train.path, loaded.root)
    return None if location.is_local else location.raw


# ------------------------------------------------------------------ language models


def expand_language_model(
    loaded: LoadedRecipe, model: ModelRef, setup: TrainingSetup, reward_models: list[StepInput]
) -> tuple[list[Step], Step]:
    """Steps of a language-model recipe, and the step whose `model` output is the trained full model."""
    recipe, task = loaded.recipe, loaded.recipe.task
    assert isinstance(task, TrainingTask)
    kind = task_kind(task.kind)
    steps = StepList(recipe.name)
    data_inputs = _data_inputs(loaded)
    if recipe.data.clean.max_tokens:
        base_input = _base_input(loaded, steps, model)
        data_inputs.append(StepInput("tokenizer", step=base_input.step, output=base_input.output, path=base_input.path))
    data = steps.add(
        "data",
        "Load, convert, clean and split the data",
        params=LmData(
            task=task.kind, format=data_format(loaded), data=_data_section(loaded), remote_train=_remote(loaded),
            validation_fraction=_validation_fraction(loaded), seed=recipe.seed,
            columns=_reward_columns(task) if isinstance(task, GrpoTask) else [],
        ),
        inputs=data_inputs,
        outputs=["train.jsonl", "validation.jsonl", "stats.json"],
        summary={"format": data_format(loaded), "dedupe": recipe.data.clean.dedupe},
    )
    if not recipe.data.clean.max_tokens:
        base_input = _base_input(loaded, steps, model)
    full = task.adapter.type == "none"
    lr = task.learning_rate or kind.learning_rate(full)
    train = steps.add(
        "train",
        _train_title(task),
        params=step_kind(f"train_{task.kind}")(
            task=task.model_copy(update={"learning_rate": lr}), model=recipe.model, seed=recipe.seed,
            setup=setup.summary(), launch_module=f"modelops.steps.train_{task.kind}",
        ),
        inputs=[output_of(data, "train.jsonl"), output_of(data, "validation.jsonl"), base_input, *reward_models,
                *_reward_modules(loaded)],
        outputs=["model" if full else "adapter", "metrics.json", "checkpoints"],
        summary={
            "adapter": _adapter_text(task),
            "learning rate": lr,
            "epochs": task.max_steps and f"{task.max_steps} steps" or task.epochs,
            "max length": task.max_length,
            "packing": _packing(task),
            "checkpoints": _save_text(task),
        } | (_sampling_summary(task) if isinstance(task, GrpoTask) else {}),
    )
    evaluate = steps.add(
        "evaluate",
        kind.evaluation,
        params=(RewardEvaluate if kind.scores else LmEvaluate)(task=task.kind, max_length=task.max_length),
        inputs=[output_of(train, "model" if full else "adapter"), output_of(data, "validation.jsonl"), base_input],
        outputs=["metrics.json"] + ([] if kind.scores else ["samples.jsonl"]),
    )
    if recipe.benchmark is not None and not kind.scores:
        _benchmark(loaded, steps, output_of(train, "model" if full else "adapter"), base_input)
    final = train
    deploy = recipe.deploy
    if not full and (deploy is None or deploy.merge):
        final = steps.add(
            "merge",
            "Merge the adapter into the 16-bit base and save safetensors",
            params=LoraMerge(precision="fp32" if setup.precision == "fp32" else "bf16" if setup.precision == "bf16"
                             else "fp16"),
            inputs=[output_of(train, "adapter"), base_input],
            outputs=["model"],
        )
    if deploy is not None:
        _expand_deploy(loaded, steps, final, train, base_input, data, evaluate)
    return steps.steps, final


def _sampling_summary(task: GrpoTask) -> dict[str, str]:
    g = task.generation
    rewards = [{"match": lambda r: f"match `{r.column}` ({r.mode})", "format": lambda r: "format pattern",
                "length": lambda r: f"length ≤ {r.max_chars} chars", "model": lambda r: f"reward model of `{r.from_}`",
                "function": lambda r: f"CODE `{r.function}`"}[r.type](r) + (f" ×{r.weight:g}" if r.weight != 1 else "")
               for r in task.rewards]
    return {"rewards": ", ".join(rewards),
            "sampling": f"{g.per_prompt} per prompt, ≤ {g.max_tokens} tokens, temperature {g.temperature:g}"
                        f" ({task.batch_size} completions per step; sampling time is not in the estimate)"}


def _reward_columns(task: GrpoTask) -> list[str]:
    """Data columns the rewards read: every prompt row must carry them."""
    return sorted({r.column for r in task.rewards if isinstance(r, MatchReward)})


def _reward_modules(loaded: LoadedRecipe) -> list[StepInput]:
    """The module files beside the recipe that function rewards name: inputs of the training step, so that
    an edit retrains. A module that is not a file there is imported as installed, when the step runs."""
    task = loaded.recipe.task
    if not isinstance(task, GrpoTask):
        return []
    modules = {r.function.split(":")[0] for r in task.rewards if isinstance(r, FunctionReward)}
    files = {module: loaded.root / (module.replace(".", "/") + ".py") for module in sorted(modules)}
    return [StepInput(f"reward-module-{module}", path=str(file)) for module, file in files.items() if file.is_file()]


def _base_input(loaded: LoadedRecipe, steps: StepList, model: ModelRef) -> StepInput:
    recipe = loaded.recipe
    if recipe.model.init is not None:
        tokenizer_spec = recipe.model.tokenizer
        if tokenizer_spec.train is not None:
            tokenizer = steps.add(
                "tokenizer",
                "Train a SentencePiece tokenizer on the training text",
                params=TokenizerTrain(**dict(tokenizer_spec.train), format=data_format(loaded), seed=recipe.seed,
                                      chat_template=recipe.model.chat_template),
                inputs=_data_inputs(loaded),
                outputs=["tokenizer"],
            )
            tokenizer_input = output_of(tokenizer, "tokenizer")
        else:
            tokenizer_input = StepInput("tokenizer", path=str(locate(tokenizer_spec.path, loaded.root).path))
        init = steps.add(
            "init",
            f"Initialise a fresh {recipe.model.init.architecture} model",
            params=ModelInitStep(**dict(recipe.model.init), seed=recipe.seed),
            inputs=[tokenizer_input],
            outputs=["model"],
        )
        return output_of(init, "model", "base")
    if model.input is not None:
        return StepInput("base", path=model.input.path, step=model.input.step, output=model.input.output)
    fetch = steps.add(
        "base",
        f"Download {model.remote.raw} ({model.remote.kind}) into the cache",
        params=ModelFetch(source=model.remote.kind, id=model.remote.raw, revision=recipe.model.revision,
                          trust_remote_code=recipe.model.trust_remote_code),
        inputs=[],
        outputs=["model"],
    )
    return output_of(fetch, "model", "base")


def _base_text(base: object) -> str:
    if base is None:
        return "a freshly initialised model"
    return f"`{base}`" if isinstance(base, str) else f"the model of recipe `{base.from_}`"


def _validation_fraction(loaded: LoadedRecipe) -> float | None:
    validation = loaded.recipe.data.validation
    if validation is None:
        return DEFAULT_VALIDATION_FRACTION
    return validation.fraction


def _train_title(task: TrainingTask) -> str:
    return task_kind(task.kind).title + " with TRL under accelerate"


def _save_text(task: TrainingTask) -> str:
    every = [
        f"{task.save.every_minutes:g} min" if task.save.every_minutes else "",
        f"{task.save.every_steps} steps" if task.save.every_steps else "",
    ]
    every = [e for e in every if e]
    return f"every {' or '.join(every)}, keep {task.save.keep}" if every else "none: an interrupted run starts over"


def _adapter_text(task: TrainingTask) -> str:
    a = task.adapter
    return "full" if a.type == "none" else f"{a.type} r={a.r} alpha={a.alpha} dropout={a.dropout}"


def _packing(task: TrainingTask) -> bool:
    if task.packing is not None:
        return task.packing
    return task_kind(task.kind).packing


def _expand_deploy(
    loaded: LoadedRecipe, steps: StepList, final: Step, train: Step, base: StepInput, data: Step, evaluate: Step
) -> None:
    recipe = loaded.recipe
    deploy = recipe.deploy
    model_out = output_of(final, "model")
    if deploy.target == "hf":
        steps.add(
            "model-card",
            "The merged model with a model card, ready for vLLM or TGI",
            params=HfModelCard(name=recipe.name, description=recipe.description, task=recipe.task.kind,
                               base=_base_text(recipe.model.base)),
            inputs=[
                model_out,
                output_of(evaluate, "metrics.json", "evaluation.json"),
                output_of(train, "metrics.json", "training.json"),
                output_of(data, "stats.json"),
                StepInput("recipe.yaml", path=str(loaded.path)),
            ],
            outputs=["model"],
        )
        return
    if deploy.target not in ("ollama", "llama-cpp"):
        return
    merged = final is not train or "model" in train.outputs
    metadata = deploy.gguf.metadata.model_copy(update={
        "name": deploy.gguf.metadata.name or recipe.name,
        "description": deploy.gguf.metadata.description or recipe.description,
    })
    outtype = deploy.gguf.outtype
    gguf = steps.add(
        "gguf",
        f"Convert to GGUF ({outtype}) with llama.cpp's converter",
        params=GgufConvert(outtype=outtype, metadata=metadata),
        inputs=[model_out if merged else base],
        outputs=[f"model-{outtype}.gguf"],
    )
    ggufs = {outtype: output_of(gguf, f"model-{outtype}.gguf", outtype)}
    adapter = None
    if not merged:
        adapter = steps.add(
            "gguf-adapter",
            "Convert the LoRA adapter to GGUF",
            params=GgufLoraConvert(outtype=outtype),
            inputs=[output_of(train, "adapter"), base],
            outputs=["adapter.gguf"],
        )
    for quant in deploy.quantize:
        q = steps.add(
            f"quantize-{quant}",
            f"Quantise to {quant} with llama.cpp",
            params=GgufQuantize(type=quant),
            inputs=[ggufs[outtype]],
            outputs=[f"model-{quant}.gguf"],
        )
        ggufs[quant] = output_of(q, f"model-{quant}.gguf", quant)
    parity_inputs = [
        output_of(final, "model" if merged else "adapter", "reference"),
        output_of(data, "validation.jsonl"),
    ]
    parity_inputs += [] if merged else [base]
    steps.add(
        "parity",
        "Next-token agreement, KL divergence and perplexity of each GGUF vs the HF model",
        params=GgufParity(min_top1=deploy.parity.min_top1, prompts=deploy.parity.prompts),
        inputs=parity_inputs + list(ggufs.values()) + ([output_of(adapter, "adapter.gguf")] if adapter else []),
        outputs=["parity.json"],
    )
    if recipe.benchmark is not None:
        section = recipe.benchmark
        named, folders = _harness_tasks(loaded)
        steps.add(
            "benchmark-gguf",
            f"Score each GGUF on the benchmark with llama.cpp ({', '.join(ggufs)}): what quantisation costs",
            params=GgufBenchmark(tasks=named, limit=section.limit, num_fewshot=section.num_fewshot,
                                 chat_template=section.chat_template, seed=recipe.seed, n_ctx=deploy.serve.n_ctx),
            inputs=[*ggufs.values(), model_out if merged else base, *folders]
            + ([output_of(adapter, "adapter.gguf")] if adapter else []),
            outputs=["metrics.json", "results.json"],
        )
    chosen_name = deploy.ollama.quantization or (deploy.quantize[0] if deploy.quantize else outtype)
    chosen = StepInput("gguf", step=ggufs[chosen_name].step, output=ggufs[chosen_name].output)
    if deploy.target == "ollama":
        modelfile = steps.add(
            "modelfile",
            "Render the Ollama Modelfile (TEMPLATE checked against the chat template, stops, SYSTEM, PARAMETERs; "
            "the GGUF's own chat template, which Ollama 0.30+ prompts with for tools and thinking, checked)",
            params=OllamaModelfile(**dict(deploy.ollama) | {"name": deploy.ollama.name or recipe.name},
                                   gguf=chosen_name),
            inputs=[chosen, model_out if merged else base, output_of(data, "validation.jsonl")]
            + ([output_of(adapter, "adapter.gguf")] if adapter else []),
            outputs=["Modelfile", "modelfile.json"],
        )
        steps.add(
            "ollama",
            "Create the model on an Ollama server, or write a deployable bundle",
            params=OllamaCreate(name=deploy.ollama.name or recipe.name, host=deploy.ollama.host,
                                require=deploy.ollama.require),
            inputs=[output_of(modelfile, "Modelfile"), output_of(modelfile, "modelfile.json"), chosen]
            + ([output_of(adapter, "adapter.gguf")] if adapter else []),
            outputs=["bundle", "create.json"],
        )
    steps.add(
        "smoke",
        "Serve the GGUF with llama_cpp.server and send chat requests",
        params=LlamaServerSmoke(**dict(deploy.serve)),
        inputs=[chosen, output_of(data, "validation.jsonl")]
        + ([output_of(adapter, "adapter.gguf")] if adapter else []),
        outputs=["smoke.json"],
    )
