"""`plan_recipe`: a pure function from a recipe file (and the files it names) to a Plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from modelops import __version__
from modelops.gates import GateError
from modelops.gates import parse as parse_gate
from modelops.hashing import fingerprint, hash_path
from modelops.plan.checks import check_recipe
from modelops.plan.expand import ModelRef, expand_language_model, expand_regression, train_file_rows
from modelops.plan.hardware import HardwareError, ResolvedHardware, resolve_hardware
from modelops.plan.launch import launch_commands, launch_files
from modelops.plan.model import Plan, RecipePlan, Step, StepInput
from modelops.plan.network import destinations
from modelops.plan.shapes import ModelShape, shape_from_catalog, shape_from_config, shape_from_init
from modelops.plan.sources import locate, relative
from modelops.plan.training import SetupError, TrainingSetup, choose_setup, estimate_run, estimate_step_seconds
from modelops.problems import Problem, RecipeError, errors_only
from modelops.recipe.loader import LoadedRecipe, load_recipe
from modelops.recipe.model import FromRecipe
from modelops.recipe.tasks import GrpoTask, RegressionTask, TrainingTask
from modelops.step_kinds import step_kind
from modelops.task_kinds import task_kind

DEFAULT_TOKENIZER_VOCAB = 32000


@dataclass
class _Upstream:
    kind: str
    final: Step | None
    shape: ModelShape | None


def plan_recipe(path: str | Path, env: Mapping[str, str] | None = None, overrides: Sequence[str] = ()) -> Plan:
    """Plan a recipe (with `--set` overrides) and every recipe it builds on (upstream first).

    Raises RecipeError carrying every error (and warning) when any recipe is invalid."""
    try:
        chain = load_chain(Path(path), env, overrides)
    except RecipeError as exc:
        raise RecipeError(exc.problems + _checks_of_the_rest(exc)) from None
    problems: list[Problem] = []
    recipes: list[RecipePlan] = []
    upstream: dict[Path, _Upstream] = {}
    fingerprints: dict[str, str] = {}
    for loaded in chain:
        recipe_plan, found = _plan_one(loaded, upstream, fingerprints)
        problems += found
        if recipe_plan is not None:
            recipes.append(recipe_plan)
    if recipes and recipes[-1].file == relative(chain[-1].path):
        recipes[-1].overrides = list(overrides)
    _check_unique_workdirs(chain, problems)
    if errors_only(problems):
        raise RecipeError(problems)
    return Plan(modelops=__version__, recipes=recipes, warnings=sorted(set(problems), key=lambda p: (p.file, p.line)))


def _checks_of_the_rest(exc: RecipeError) -> list[Problem]:
    """The semantic problems of a recipe whose invalid keys were left out (a typo must not hide the rest),
    except those about the keys left out."""
    if exc.partial is None:
        return []
    found, _ = check_recipe(exc.partial)
    return [p for p in found if not any(p.key == key or p.key.startswith((key + ".", key + "["))
                                        for key in exc.left_out)]


def load_chain(path: Path, env: Mapping[str, str] | None = None, overrides: Sequence[str] = ()) -> list[LoadedRecipe]:
    """The recipe (with the overrides) and its `from:` ancestors, upstream first; cycles are positioned errors."""
    order: list[LoadedRecipe] = []
    done: set[Path] = set()

    def visit(file: Path, stack: list[Path]) -> None:
        loaded = load_recipe(file, env, overrides if not stack else ())
        for key, path in _references(loaded):
            upstream = (loaded.root / path).resolve()
            if upstream in stack or upstream == file.resolve():
                cycle = " → ".join(p.name for p in stack + [file.resolve(), upstream])
                raise RecipeError(
                    [loaded.problem(key, f"recipes form a cycle: {cycle}", "one of them must start from a model")]
                )
            if not upstream.is_file():
                hint = f"paths are relative to {loaded.root}"
                raise RecipeError([loaded.problem(key, f"recipe not found: {path}", hint)])
            if upstream not in done:
                visit(upstream, stack + [file.resolve()])
        done.add(file.resolve())
        order.append(loaded)

    visit(path, [])
    return order


def _references(loaded: LoadedRecipe) -> list[tuple[tuple, str]]:
    """(key, path) of every recipe this one builds on: its base model's, and its reward models' (GRPO)."""
    model, task = loaded.recipe.model, loaded.recipe.task
    found = []
    if model is not None and isinstance(model.base, FromRecipe):
        found.append((("model", "base", "from"), model.base.from_))
    if isinstance(task, GrpoTask):
        found += [(("task", "rewards", i, "from"), path) for i, path in task.reward_recipes()]
    return found


def _plan_one(
    loaded: LoadedRecipe, upstream: dict[Path, _Upstream], fingerprints: dict[str, str]
) -> tuple[RecipePlan | None, list[Problem]]:
    problems, notes = check_recipe(loaded)
    recipe = loaded.recipe
    try:
        hw = resolve_hardware(recipe.hardware)
    except HardwareError as exc:
        return None, problems + [loaded.problem(("hardware",), str(exc), exc.hint)]
    workdir = _workdir(loaded)
    hardware_info = asdict(hw) | {"devices": hw.devices}
    if isinstance(recipe.task, RegressionTask):
        if errors_only(problems):
            return None, problems
        steps = expand_regression(loaded, hardware_info)
        upstream[loaded.path.resolve()] = _Upstream("regression", None, None)
        model_info, training, setup = None, None, None
    else:
        result = _plan_language_model(loaded, hw, upstream, problems, notes)
        if result is None:
            return None, problems
        steps, final, shape, setup = result
        upstream[loaded.path.resolve()] = _Upstream(recipe.task.kind, final, shape)
        model_info = _model_summary(loaded, shape)
        training = setup.summary()
        seconds = estimate_step_seconds(setup, hw, recipe.task.max_length)
        if seconds is not None:
            training["seconds_per_step_estimate"] = round(seconds, 3)
        training |= estimate_run(recipe.task, setup, seconds, _train_rows(loaded))
    problems += _check_gates(loaded, steps)
    if errors_only(problems):
        return None, problems
    _finish_steps(steps, workdir, hw, setup, fingerprints)
    _tracking(loaded, steps)
    return RecipePlan(
        name=recipe.name,
        file=relative(loaded.path),
        task=recipe.task.kind,
        workdir=workdir,
        hardware=hardware_info,
        model=model_info,
        training=training,
        steps=steps,
        notes=sorted(set(notes)),
        network=destinations(loaded),
        gates=list(recipe.gates),
        cache=_cache(loaded),
    ), problems


def _cache(loaded: LoadedRecipe) -> dict[str, Any] | None:
    """The shared cache, a local folder resolved against the recipe's directory."""
    cache = loaded.recipe.cache
    if cache is None:
        return None
    url = cache.url if "://" in cache.url else str((loaded.root / Path(cache.url).expanduser()).resolve())
    return {"url": url, "pull": cache.pull, "push": cache.push}


def _check_gates(loaded: LoadedRecipe, steps: list[Step]) -> list[Problem]:
    """Every gate parses and names steps of this recipe."""
    names = [step.short_id for step in steps]
    problems = []
    for i, text in enumerate(loaded.recipe.gates):
        try:
            gate = parse_gate(text)
        except GateError as exc:
            problems.append(loaded.problem(("gates", i), f"not a gate: {exc} (column {exc.column})",
                                           "compare metrics and numbers: `evaluate.perplexity < 20`"))
            continue
        for name in sorted(gate.steps - set(names)):
            problems.append(loaded.problem(("gates", i), f"`{name}` is not a step of this recipe",
                                           "its steps: " + ", ".join(names)))
    return problems


def _train_rows(loaded: LoadedRecipe) -> int | None:
    """Training rows after the validation fraction is held out, when the training file is local."""
    rows = train_file_rows(loaded)
    validation = loaded.recipe.data.validation
    if rows is None or validation is None or validation.fraction is None:
        return rows
    return rows - round(rows * validation.fraction)


def _plan_language_model(
    loaded: LoadedRecipe,
    hw: ResolvedHardware,
    upstream: dict[Path, _Upstream],
    problems: list[Problem],
    notes: list[str],
):
    recipe, task = loaded.recipe, loaded.recipe.task
    assert isinstance(task, TrainingTask)
    if recipe.model is None:
        return None
    model_ref, shape = _resolve_model(loaded, upstream, problems, notes)
    reward_models, scorer_params = _reward_models(loaded, upstream, problems)
    try:
        setup = choose_setup(task, hw, shape, recipe.model.attn_implementation, scorer_params)
    except SetupError as exc:
        problems.append(loaded.problem(exc.key, str(exc), exc.hint))
        return None
    for key, message, hint in setup.errors:
        problems.append(loaded.problem(key, message, hint))
    for key, message, hint in setup.warnings:
        problems.append(loaded.problem(key, message, hint, severity="warning"))
    if errors_only(problems) or model_ref is None:
        return None
    steps, final = expand_language_model(loaded, model_ref, setup, reward_models)
    return steps, final, shape, setup


def _reward_models(
    loaded: LoadedRecipe, upstream: dict[Path, _Upstream], problems: list[Problem]
) -> tuple[list[StepInput], int]:
    """The trained reward models a GRPO recipe scores with, as inputs `reward-model-<i>` of its training step,
    and their parameters together (held in memory beside the policy)."""
    task = loaded.recipe.task
    found, params = [], 0
    for i, path in task.reward_recipes() if isinstance(task, GrpoTask) else []:
        up = upstream.get((loaded.root / path).resolve())
        key = ("task", "rewards", i, "from")
        if up is None:
            problems.append(loaded.problem(key, "the reward recipe could not be planned", "fix its errors first"))
        elif up.kind != "reward":
            problems.append(loaded.problem(key, f"`{path}` is a {up.kind} task, not a reward model",
                                           "point at a recipe with `task.kind: reward`"))
        elif "model" not in up.final.outputs:
            problems.append(loaded.problem(key, "the reward recipe does not produce a full model",
                                           "set `deploy.merge: true` (or no deploy section) there"))
        else:
            found.append(StepInput(f"reward-model-{i}", step=up.final.id, output="model"))
            params += up.shape.params if up.shape is not None else 0
    return found, params


def _resolve_model(
    loaded: LoadedRecipe, upstream: dict[Path, _Upstream], problems: list[Problem], notes: list[str]
) -> tuple[ModelRef | None, ModelShape | None]:
    model = loaded.recipe.model
    key = ("model", "base")
    if model.init is not None:
        train = model.tokenizer.train
        vocab = train.vocab_size if train else DEFAULT_TOKENIZER_VOCAB
        return ModelRef(input=None), shape_from_init(model.init, vocab)
    if isinstance(model.base, FromRecipe):
        up = upstream.get((loaded.root / model.base.from_).resolve())
        if up is None:
            problems.append(
                loaded.problem(
                    key + ("from",), "the upstream recipe could not be planned", "fix the errors reported for it"
                )
            )
            return None, None
        if up.final is None or (task_kind(up.kind).scores and not task_kind(loaded.recipe.task.kind).scores):
            problems.append(
                loaded.problem(
                    key + ("from",),
                    f"the upstream recipe is a {up.kind} task; it produces no language model",
                    "start from a pretrain, sft, dpo, kto or grpo recipe (a reward model is for `task.rewards`)",
                )
            )
            return None, None
        if "model" not in up.final.outputs:
            problems.append(
                loaded.problem(
                    key + ("from",),
                    "the upstream recipe does not produce a full model",
                    "set `deploy.merge: true` (or no deploy section) upstream",
                )
            )
            return None, None
        return ModelRef(input=StepInput("base", step=up.final.id, output="model")), up.shape
    location = locate(model.base, loaded.root)
    if location.is_local:
        if not location.path.is_dir():
            problems.append(
                loaded.problem(
                    key,
                    f"model folder not found: {model.base}",
                    "give a hub id (`org/name`), `modelscope://org/name`, or an existing folder",
                )
            )
            return None, None
        try:
            shape = shape_from_config(location.path)
        except ValueError as exc:
            problems.append(loaded.problem(key, str(exc)))
            return None, None
        return ModelRef(input=StepInput("base", path=str(location.path))), shape
    shape = shape_from_catalog(model.base)
    if shape is None:
        problems.append(
            loaded.problem(
                key,
                f"`{model.base}` is not in the built-in catalog: no memory estimate",
                "plan with a local copy (its config.json is read) to get one",
                severity="warning",
            )
        )
    return ModelRef(input=None, remote=location), shape


def _model_summary(loaded: LoadedRecipe, shape: ModelShape | None) -> dict:
    model = loaded.recipe.model
    base = model.base.from_ if isinstance(model.base, FromRecipe) else model.base
    out = {
        "base": f"from {base}" if isinstance(model.base, FromRecipe) else base or "fresh " + model.init.architecture,
        "trust_remote_code": model.trust_remote_code,
    }
    if shape is not None:
        out |= {
            "params": shape.params,
            "layers": shape.layers,
            "hidden": shape.hidden,
            "vocab": shape.vocab,
            "shape_source": shape.source,
        }
    return out


def _finish_steps(
    steps: list[Step], workdir: str, hw: ResolvedHardware, setup: TrainingSetup | None, fingerprints: dict[str, str]
) -> None:
    """Fingerprints (inputs first), step directories, commands and launch files."""
    for step in steps:
        for item in step.inputs:
            item.digest = f"{fingerprints[item.step]}:{item.output}" if item.step else hash_path(Path(item.path))
            if item.step is None:
                item.path = relative(Path(item.path))
        step.fingerprint = fingerprint(step.kind, step.params, {i.name: i.digest for i in step.inputs})
        fingerprints[step.id] = step.fingerprint
        step.directory = f"{workdir}/{step.short_id}-{step.fingerprint[:12]}"
        module = f"modelops.steps.{step.kind}"
        if step_kind(step.kind).accelerate and setup is not None:
            step.files = launch_files(step.id, step.directory, setup, hw)
            step.command, step.node_commands = launch_commands(step.directory, module, hw)
        else:
            step.command = ["python", "-m", module, f"{step.directory}/step.json"]


def _tracking(loaded: LoadedRecipe, steps: list[Step]) -> None:
    """Where each tracked step reports: TensorBoard files in its output, an MLflow and a W&B run named after
    the step and its fingerprint. Not part of the fingerprint: changing a tracker reruns nothing."""
    tracking, recipe = loaded.recipe.tracking, loaded.recipe
    for step in steps:
        if not step_kind(step.kind).tracked:
            continue
        step.tracking = {"tensorboard": tracking.tensorboard, "recipe": relative(loaded.path)}
        if tracking.mlflow is not None:
            step.tracking["mlflow"] = {"uri": tracking.mlflow.uri, "experiment": tracking.mlflow.experiment
                                       or recipe.name, "run_name": f"{step.id} {step.fingerprint[:12]}"}
        if tracking.wandb is not None:
            step.tracking["wandb"] = {"project": tracking.wandb.project or recipe.name, "mode": tracking.wandb.mode,
                                      "run_name": f"{step.id} {step.fingerprint[:12]}",
                                      "run_id": step.fingerprint[:32]}


def _workdir(loaded: LoadedRecipe) -> str:
    return loaded.recipe.workdir or f"runs/{loaded.recipe.name}"


def _check_unique_workdirs(chain: list[LoadedRecipe], problems: list[Problem]) -> None:
    seen: dict[str, LoadedRecipe] = {}
    for loaded in chain:
        workdir = _workdir(loaded)
        if workdir in seen:
            problems.append(
                loaded.problem(
                    ("name",),
                    f"run directory {workdir} is also used by {seen[workdir].path.name}",
                    "give each recipe its own `name` or `workdir`",
                )
            )
        seen[workdir] = loaded
