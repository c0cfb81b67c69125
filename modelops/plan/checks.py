"""Semantic checks that need no heavy imports, each pointing at the recipe key at fault."""

from __future__ import annotations

import difflib
import os
import re
import stat
from pathlib import Path

from modelops.deploy.modelfile_values import ends_block_early, ends_parameter_line
from modelops.forecast.history import history, required_length
from modelops.plan.rewards import check_rewards
from modelops.plan.sources import Location, locate
from modelops.plan.table import table_facts
from modelops.problems import Problem
from modelops.recipe.data import DataSource
from modelops.recipe.deploy import OLLAMA_PARAMETERS
from modelops.recipe.loader import LoadedRecipe
from modelops.recipe.tasks import GrpoTask, PretrainTask, RegressionTask
from modelops.task_kinds import task_kind

LM_TARGETS = ("ollama", "llama-cpp", "hf")


def check_recipe(loaded: LoadedRecipe) -> tuple[list[Problem], list[str]]:
    """All semantic problems of one recipe, and notes for the plan (remote data, ...)."""
    problems: list[Problem] = []
    notes: list[str] = []
    problems += _check_data(loaded, notes)
    problems += _check_workdir(loaded)
    if isinstance(loaded.recipe.task, RegressionTask):
        problems += _check_regression(loaded)
    else:
        problems += _check_language_model(loaded)
    problems += _check_deploy(loaded)
    problems += _check_tracking(loaded)
    problems += _check_benchmark(loaded)
    return problems, notes


def benchmark_folders(loaded: LoadedRecipe) -> dict[str, Path]:
    """The recipe's benchmark tasks that are folders of its own (by name), the rest being harness task names."""
    tasks = loaded.recipe.benchmark.tasks if loaded.recipe.benchmark else []
    return {Path(t).name: (loaded.root / t).resolve() for t in tasks if (loaded.root / t).is_dir()}


def _check_benchmark(loaded: LoadedRecipe) -> list[Problem]:
    """Benchmarks score language models; a task folder must hold the harness's task YAML."""
    import importlib.util

    benchmark = loaded.recipe.benchmark
    if benchmark is None:
        return []
    if isinstance(loaded.recipe.task, RegressionTask):
        return [loaded.problem(("benchmark",), "lm-evaluation-harness scores language models, not forecasts",
                               "remove `benchmark` (the fit step reports the forecast's own metrics)", at="key")]
    problems = []
    for index, task in enumerate(benchmark.tasks):
        folder = loaded.root / task
        if folder.is_dir() and not any(folder.glob("*.yaml")):
            problems.append(loaded.problem(("benchmark", "tasks", index), f"the folder {task} holds no task YAML",
                                           "put the harness's task file (`task: NAME`, its data files) in it"))
        elif not folder.is_dir() and ("/" in task or task.startswith(".")):
            problems.append(loaded.problem(("benchmark", "tasks", index), f"no task folder {task}",
                                           "give a folder beside the recipe, or a harness task name"))
    if importlib.util.find_spec("lm_eval") is None:
        problems.append(loaded.problem(("benchmark",), "lm-evaluation-harness is not installed here",
                                       "pip install 'modelops[benchmark]'", at="key", severity="warning"))
    return problems


def _check_tracking(loaded: LoadedRecipe) -> list[Problem]:
    import importlib.util

    if loaded.recipe.tracking.mlflow is None or importlib.util.find_spec("mlflow") is not None:
        return []
    return [loaded.problem(("tracking", "mlflow"), "mlflow is not installed here: the runs will warn and go on "
                           "without it", "pip install 'modelops[mlflow]'", at="key", severity="warning")]


def data_format(loaded: LoadedRecipe, source: DataSource | None = None) -> str:
    source = source or loaded.recipe.data.train
    return source.format or loaded.recipe.data.train.format or task_kind(loaded.recipe.task.kind).default_format


def data_locations(loaded: LoadedRecipe) -> dict[tuple, Location]:
    """Every data path of the recipe by its key path."""
    data = loaded.recipe.data
    out = {("data", "train", "path"): locate(data.train.path, loaded.root)}
    if data.validation and data.validation.path:
        out[("data", "validation", "path")] = locate(data.validation.path, loaded.root)
    if data.test:
        out[("data", "test", "path")] = locate(data.test.path, loaded.root)
    return out


SYSTEM_FOLDERS = {"proc", "sys", "dev", "run", "etc", "usr", "bin", "sbin", "lib", "lib32", "lib64", "boot", "snap"}
TEXT_SUFFIXES = (".txt", ".md", ".jsonl", ".json")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
MAX_LISTED = 40
OLLAMA_NAME = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]{0,79}/){0,2}[A-Za-z0-9][A-Za-z0-9._-]{0,79}"
                         r"(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,79})?")     # Ollama's [host/][namespace/]model[:tag]


def _not_data(path: Path) -> str | None:
    """Why a local path cannot be a data source (system files, devices, FIFOs, the filesystem's own folders),
    or None. Recipes come from strangers: reading `/proc/self/environ` or hashing `/usr` must not happen."""
    def system(candidate: Path) -> bool:
        return len(candidate.parts) < 2 or candidate.parts[1] in SYSTEM_FOLDERS

    if system(Path(os.path.abspath(path))):           # before anything stats it
        return "is a system path, not a data file"
    try:
        resolved = path.resolve()
        if system(resolved):                          # a link into one
            return "is a system path, not a data file"
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        return None                       # reported as not found
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        if not any(p.suffix in TEXT_SUFFIXES for p in resolved.iterdir()):
            return "is a folder without text data files (.txt, .md, .jsonl, .json) at its top"
        return None
    return None if stat.S_ISREG(mode) else "is not a regular file (a device, FIFO or socket)"


def _check_workdir(loaded: LoadedRecipe) -> list[Problem]:
    """A relative run directory stays inside the working directory (a recipe from a pull request must not
    write elsewhere by `../`); an absolute one is the author's explicit choice, and the plan shows it."""
    workdir = loaded.recipe.workdir
    if workdir is None or os.path.isabs(workdir):
        return []
    if os.path.normpath(workdir).split(os.sep)[0] == os.pardir:
        return [loaded.problem(("workdir",), f"`{workdir}` leaves the working directory",
                               "use a path inside it, or an absolute path if the runs must live elsewhere")]
    return []


def _check_data(loaded: LoadedRecipe, notes: list[str]) -> list[Problem]:
    problems = []
    for key, location in data_locations(loaded).items():
        if location.is_local and (why := _not_data(location.path)):
            problems.append(
                loaded.problem(key, f"{location.raw} {why}", "point at a data file (or a folder of text files)")
            )
        elif location.is_local and not location.path.exists():
            problems.append(
                loaded.problem(
                    key,
                    f"data file not found: {location.raw}",
                    f"paths are relative to the recipe's folder ({loaded.root})",
                )
            )
        elif not location.is_local:
            notes.append(f"{'.'.join(key)} `{location.raw}` is remote ({location.kind}); it is fetched when applied")
    kind = loaded.recipe.task.kind
    for key, source in (("train", loaded.recipe.data.train), ("test", loaded.recipe.data.test)):
        if source is None:
            continue
        fmt = data_format(loaded, source)
        if fmt not in task_kind(kind).formats:
            accepted = ", ".join(task_kind(kind).formats)
            problems.append(
                loaded.problem(
                    ("data", key, "format"), f"a `{kind}` task cannot train on `{fmt}` data", f"use one of: {accepted}"
                )
            )
    return problems


SHARED_ROLES = ({"groups", "static_features"}, {"features", "known_features"})  # one column, two uses: fine


def _check_names(loaded: LoadedRecipe, task: RegressionTask) -> list[Problem]:
    """Columns that would collide in the model's inputs: bookkeeping names (`__…`), calendar features, the
    lag columns built from the target and features, or one column in two input roles."""
    problems = []
    generated = {name: "a calendar feature" for name in task.calendar}
    generated |= {f"{name}_lag{k}": "a lag feature" for name in [task.target, *task.features] for k in task.lag_list}
    roles = [
        ("groups", task.groups),
        ("features", task.features),
        ("static_features", task.static_features),
        ("known_features", task.known_features),
    ]
    seen: dict[str, str] = {}
    for key, names in [("target", [task.target]), *roles]:
        for index, name in enumerate(names):
            path = ("task", key) if key == "target" else ("task", key, index)
            if name.startswith("__"):
                problems.append(
                    loaded.problem(
                        path,
                        f"`{name}`: names starting with `__` are reserved for modelops' own columns",
                        "rename the column in the data",
                    )
                )
            elif name in generated and key != "groups":
                problems.append(
                    loaded.problem(
                        path,
                        f"`{name}` has the name of {generated[name]} that modelops builds",
                        "rename the column, or leave that feature out",
                    )
                )
            elif (
                name in seen
                and {seen[name], key} & {"static_features", "known_features"}
                and {seen[name], key} not in SHARED_ROLES
            ):
                problems.append(
                    loaded.problem(path, f"`{name}` is also in `task.{seen[name]}`", "give each column one role")
                )
            seen.setdefault(name, key)
    return problems


def _check_regression(loaded: LoadedRecipe) -> list[Problem]:
    recipe, task = loaded.recipe, loaded.recipe.task
    assert isinstance(task, RegressionTask)
    problems = []
    if recipe.model is not None:
        problems.append(
            loaded.problem(
                ("model",), "a regression task has no `model` section", "put the regressor under `task.model`", at="key"
            )
        )
    if recipe.data.time is None:
        return problems + [
            loaded.problem(
                ("data",),
                "regression needs `data.time` (the time column)",
                "add `time: {column: period, format: '%Y-%m-%d'}`",
                at="key",
            )
        ]
    problems += _check_names(loaded, task)
    location = locate(recipe.data.train.path, loaded.root)
    if not location.is_local or _not_data(location.path) or not location.path.is_file():
        return problems
    if location.path.suffix.lower() not in TABLE_SUFFIXES:
        return problems + [
            loaded.problem(
                ("data", "train", "path"),
                f"{location.raw} is not a table file",
                f"regression reads {', '.join(TABLE_SUFFIXES)} files",
            )
        ]
    try:
        facts = table_facts(location.path, recipe.data.time.column, recipe.data.time.range_separator,
                            enough=max(_lengths_needed(task)) + 1)
    except ValueError as exc:
        return problems + [loaded.problem(("data", "train", "path"), str(exc))]
    problems += _check_columns(loaded, facts.columns)
    if facts.time_points is not None:
        problems += _check_lengths(loaded, task, facts.time_points)
    return problems


def _column_keys(loaded: LoadedRecipe, task: RegressionTask) -> list[tuple[tuple, str]]:
    keys: list[tuple[tuple, str]] = [
        (("data", "time", "column"), loaded.recipe.data.time.column),
        (("task", "target"), task.target),
    ]
    for field in ("features", "groups", "static_features", "known_features"):
        keys += [(("task", field, i), name) for i, name in enumerate(getattr(task, field))]
    for i, transform in enumerate(task.lag_transforms):
        keys += [
            (("task", "lag_transforms", i, "features", j), name) for j, name in enumerate(transform.features or [])
        ]
    return keys


def _check_columns(loaded: LoadedRecipe, columns: list[str]) -> list[Problem]:
    task = loaded.recipe.task
    assert isinstance(task, RegressionTask)
    problems = []
    for key, name in _column_keys(loaded, task):
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f"did you mean `{close[0]}`?" if close else _listed(columns)
            problems.append(
                loaded.problem(key, f"column `{name}` is not in {Path(loaded.recipe.data.train.path).name}", hint)
            )
    return problems


def _listed(columns: list[str]) -> str:
    """The header's names for a hint — only when they look like column names (short, printable)."""
    if len(columns) > MAX_LISTED or any(len(c) > 64 or not c.isprintable() for c in columns):
        return f"the file has {len(columns)} column(s); check its header"
    return "columns: " + ", ".join(columns)


def _lengths_needed(task: RegressionTask) -> tuple[int, int]:
    """Time points the lags, windows and horizon need, and with the validation windows' more than that."""
    needed = required_length(task.lag_list, [t.model_dump(mode="json") for t in task.lag_transforms], task.horizon)
    return needed, needed - 1 + task.validation.gap + task.validation.folds * (task.validation.window or task.horizon)


def _check_lengths(loaded: LoadedRecipe, task: RegressionTask, time_points: int) -> list[Problem]:
    """Lags, rolling windows and horizon must fit the series (the same rule as the features step's), and the
    validation windows must leave training data."""
    needed, with_folds = _lengths_needed(task)
    transforms = [t.model_dump(mode="json") for t in task.lag_transforms]
    lag_key = ("task", "window") if task.window is not None else ("task", "lags")
    if needed > time_points:
        return [
            loaded.problem(
                lag_key,
                f"lags and rolling windows reaching {history(task.lag_list, transforms)} steps back plus horizon "
                f"{task.horizon} need at least {needed} time points; the data has {time_points}",
                "use a smaller window or horizon, or more history",
            )
        ]
    window = task.validation.window or task.horizon
    if with_folds >= time_points:
        fitting = (time_points - needed - task.validation.gap) // window   # the most folds that leave training rows
        fewer = f"set `validation: {{folds: {fitting}}}` (the most that fit); or " if fitting >= 1 else ""
        return [
            loaded.problem(
                ("task", "validation", "folds"),
                f"{task.validation.folds} validation windows of {window} steps (gap {task.validation.gap}) "
                f"leave no training rows in {time_points} time points",
                f"{fewer}use a shorter validation window, or more history",
            )
        ]
    return []


def _check_language_model(loaded: LoadedRecipe) -> list[Problem]:
    recipe, task = loaded.recipe, loaded.recipe.task
    problems = []
    if recipe.model is None:
        return [
            loaded.problem(
                ("task", "kind"),
                f"a `{task.kind}` task needs a `model` section",
                "add `model: {base: Qwen/Qwen2.5-0.5B-Instruct}` (or a local folder)",
                at="key",
            )
        ]
    if recipe.data.time is not None:
        problems.append(loaded.problem(("data", "time"), "`data.time` applies to regression only", at="key"))
    if recipe.model.trust_remote_code:
        problems.append(
            loaded.problem(
                ("model", "trust_remote_code"),
                "trust_remote_code is on: code from the model repository will run on this machine",
                "keep it off unless you have read that code",
                severity="warning",
            )
        )
    if recipe.model.init is not None and not isinstance(task, PretrainTask):
        problems.append(
            loaded.problem(
                ("model", "init"),
                f"a fresh model cannot start a `{task.kind}` task",
                "pretrain it first and use `base: {from: pretrain.yaml}`",
                at="key",
            )
        )
    needs_template = task_kind(task.kind).chat or (
        recipe.deploy is not None and recipe.deploy.target == "ollama" and not recipe.deploy.ollama.template
    )
    if needs_template and isinstance(recipe.model.base, str):
        problems += _check_chat_template(loaded)
    if not isinstance(recipe.hardware, str) and recipe.hardware.engine == "dask":
        problems.append(loaded.problem(("hardware", "engine"), "the dask engine is for regression only"))
    if isinstance(task, GrpoTask):
        problems += check_rewards(loaded, task)
    return problems


def _check_chat_template(loaded: LoadedRecipe) -> list[Problem]:
    """A local base for conversations (or for an Ollama TEMPLATE) must carry a chat template, or the recipe
    must name one."""
    model = loaded.recipe.model
    location = locate(model.base, loaded.root)
    if not location.is_local or model.chat_template or not location.path.is_dir():
        return []
    if (location.path / "chat_template.jinja").exists():
        return []
    config = location.path / "tokenizer_config.json"
    if config.exists() and '"chat_template"' in config.read_text(encoding="utf-8", errors="replace"):
        return []
    return [
        loaded.problem(
            ("model", "base"),
            f"{location.raw} has no chat template",
            "set `model.chat_template` (chatml, llama3, qwen2, mistral, gemma, phi3)"
            + (
                " or `deploy.ollama.template`"
                if loaded.recipe.deploy and loaded.recipe.deploy.target == "ollama"
                else ""
            ),
        )
    ]


def _check_deploy(loaded: LoadedRecipe) -> list[Problem]:
    deploy, task = loaded.recipe.deploy, loaded.recipe.task
    if deploy is None:
        return []
    problems = []
    regression = isinstance(task, RegressionTask)
    if regression and deploy.target in LM_TARGETS:
        problems.append(
            loaded.problem(
                ("deploy", "target"),
                f"`{deploy.target}` deploys language models",
                "use `api` (or `none`) for regression",
            )
        )
    if not regression and deploy.target == "api":
        problems.append(
            loaded.problem(
                ("deploy", "target"),
                "`api` serves regression models",
                "use `ollama`, `llama-cpp` or `hf` for language models",
            )
        )
    if not regression and task_kind(task.kind).scores and deploy.target in ("ollama", "llama-cpp"):
        problems.append(
            loaded.problem(
                ("deploy", "target"),
                "a reward model scores answers and writes none: llama.cpp and Ollama cannot serve it",
                "use `hf` (a folder for transformers or vLLM) or no deploy section; `grpo` recipes use it as it is",
            )
        )
    if deploy.quantize and deploy.target not in ("ollama", "llama-cpp"):
        problems.append(
            loaded.problem(
                ("deploy", "quantize"),
                f"quantised GGUFs are not used by target `{deploy.target}`",
                "remove `quantize` or deploy to `ollama` / `llama-cpp`",
            )
        )
    if deploy.target == "ollama":
        problems += _check_ollama(loaded)
    return problems


def _check_ollama(loaded: LoadedRecipe) -> list[Problem]:
    deploy = loaded.recipe.deploy
    ollama = deploy.ollama
    problems = []
    for name, value in ollama.parameters.items():
        key = ("deploy", "ollama", "parameters", name)
        expected = OLLAMA_PARAMETERS.get(name)
        if expected is None:
            close = difflib.get_close_matches(name, list(OLLAMA_PARAMETERS), n=1)
            hint = f"did you mean `{close[0]}`?" if close else "known: " + ", ".join(sorted(OLLAMA_PARAMETERS))
            problems.append(loaded.problem(key, f"Ollama has no parameter `{name}`", hint, at="key"))
        elif not _fits_type(value, expected, name):
            problems.append(
                loaded.problem(
                    key,
                    f"`{name}` must be {expected.__name__}" + (" or a list of strings" if name == "stop" else ""),
                    f"got `{value}`",
                )
            )
    model_name = ollama.name or loaded.recipe.name
    if not OLLAMA_NAME.fullmatch(model_name):
        problems.append(
            loaded.problem(
                ("deploy", "ollama", "name") if ollama.name else ("name",),
                f"`{model_name}` is not an Ollama model name",
                "letters, digits, `.`, `_` and `-`, as `[namespace/]model[:tag]` (e.g. `zh-assistant:0.1`)",
            )
        )
    for name, value in ollama.parameters.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and ends_parameter_line(item):
                problems.append(
                    loaded.problem(
                        ("deploy", "ollama", "parameters", name),
                        "contains a double quote, a newline or another control character, "
                        "which would end the PARAMETER line",
                        "remove them from the value",
                    )
                )
    texts = [
        (("deploy", "ollama", "system"), ollama.system),
        (("deploy", "ollama", "template"), ollama.template),
        (("deploy", "ollama", "license"), ollama.license),
    ]
    texts += [(("deploy", "ollama", "messages", i, "content"), m.content) for i, m in enumerate(ollama.messages)]
    for key, text in texts:
        if text and ends_block_early(text):
            problems.append(
                loaded.problem(
                    key,
                    'contains `"""` or starts or ends with `"`, which would end its '
                    'Modelfile value (`"""…"""`) early; it cannot be escaped',
                    "rephrase, or keep double quotes away from the ends",
                )
            )
    choices = list(deploy.quantize) + [deploy.gguf.outtype]
    if ollama.quantization and ollama.quantization not in choices:
        problems.append(
            loaded.problem(
                ("deploy", "ollama", "quantization"),
                f"`{ollama.quantization}` is not produced",
                "one of: " + ", ".join(choices),
            )
        )
    return problems


def _fits_type(value: object, expected: type, name: str) -> bool:
    if name == "stop":
        return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, expected) and not isinstance(value, bool)
