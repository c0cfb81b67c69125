"""The `modelops` command line. Heavy libraries are imported only by the commands that run steps."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from modelops.task_kinds import TASK_KINDS

app = typer.Typer(
    name="modelops", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    help="Declarative model ops: recipes (YAML) validated, planned into reviewable steps, and applied.",
    epilog="Exit codes: 0 ok, 1 failure while running, 2 invalid recipe or usage.",
)

EXIT_INVALID = 2


def _print_version(value: bool) -> None:
    if value:
        from modelops import __version__

        print(f"modelops {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    no_color: bool = typer.Option(False, "--no-color", help="Plain output without colours (also NO_COLOR=1; output "
                                  "that is not a terminal is always plain). Accepted before or after the command."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    if no_color:
        import os

        os.environ["NO_COLOR"] = "1"


class ProblemFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class PlanFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _recipe_files(paths: List[Path]) -> List[Path]:
    """Files as given, and the *.yaml / *.yml recipes inside folders (sorted); a folder without recipes exits 2."""
    found: List[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:
                print(f"{path}: no *.yaml recipes in this folder", file=sys.stderr)
                raise typer.Exit(EXIT_INVALID)
            found += inside
        else:
            found.append(path)
    return found


def _emit_problems(problems: list, fmt: str) -> None:
    from modelops.problems import render_problems

    if problems or fmt == "json":
        print(render_problems(problems, fmt), file=sys.stdout if fmt != "text" else sys.stderr)


SET_HELP = ("Override a recipe value: KEY=VALUE with a dotted key and a YAML value "
            "(`task.learning_rate=1e-4`, `hardware=a10x2`, `deploy.quantize=[q8_0]`); repeatable.")


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., help="Recipe files, or folders of recipes."),
    format: ProblemFormat = typer.Option(
        ProblemFormat.text, "--format", "-f", help="text, json, or github annotations."
    ),
    overrides: List[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Check recipes and report every problem with file:line:col, key and a hint.

    Example: modelops validate recipes/ examples/tiny-zh/dpo.yaml --format github
    """
    from modelops.plan.planner import plan_recipe
    from modelops.problems import RecipeError, errors_only

    files = _recipe_files(files)
    problems: list = []
    for file in files:
        try:
            problems += plan_recipe(file, overrides=overrides).warnings
        except RecipeError as exc:
            problems += exc.problems
    _emit_problems(problems, format.value)
    if errors_only(problems):
        raise typer.Exit(EXIT_INVALID)
    if format == ProblemFormat.text:
        print(f"{len(files)} recipe(s) valid", file=sys.stderr)


@app.command()
def plan(
    files: List[Path] = typer.Argument(..., help="Recipe files, or folders of recipes."),
    format: PlanFormat = typer.Option(
        PlanFormat.text, "--format", "-f", help="text, json (stable, diffable) or markdown."
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also save the plan as JSON for a later `apply`."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode",
        help="Exit 0 when nothing would run (steps the recipe's shared cache holds are pulled, not run), 2 when steps "
        "are pending, 1 on error."
    ),
    against: Optional[str] = typer.Option(
        None,
        "--against",
        help="Also show the difference from the recipe at a git "
        "revision (`origin/main`) or from a saved plan.json: steps added, removed, "
        "changed and why, cost estimates.",
    ),
    overrides: List[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Dry run: the steps a recipe expands into, the resolved hardware and memory, the exact commands, and
    (text format) what `apply` would rerun against the run directory's state.

    Example: modelops plan recipes/qwen-sft.yaml --format markdown --against origin/main
    """
    files = _recipe_files(files)
    if len(files) > 1 and (format == PlanFormat.json or out is not None):
        print("--format json and --out take one recipe (a plan is one JSON document)", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID)
    pending = False
    for file in files:
        if len(files) > 1 and format == PlanFormat.text:
            print(f"== {file}")
        pending |= _plan_one(file, format, out, detailed_exitcode, against, overrides)
    if detailed_exitcode and pending:
        raise typer.Exit(2)


def _plan_one(
    file: Path, format: PlanFormat, out: Optional[Path], detailed_exitcode: bool, against: Optional[str],
    overrides: List[str],
) -> bool:
    """Print one recipe's plan; whether steps are pending."""
    from modelops.fsutil import write_atomically
    from modelops.plan.render import plan_json, plan_markdown, plan_text

    result = _plan_or_exit(file, 1 if detailed_exitcode else EXIT_INVALID, overrides)  # 2 means "pending" there
    if out is not None:
        write_atomically(out, plan_json(result))
    render = {PlanFormat.text: plan_text, PlanFormat.json: plan_json, PlanFormat.markdown: plan_markdown}[format]
    sys.stdout.write(render(result))
    if against is not None:
        sys.stdout.write(("\n" if format != PlanFormat.json else "") + _plan_diff(file, result, against, format))
    if format != PlanFormat.text:
        _emit_problems(result.warnings, "text")
    changes = _changes_or_exit(result, set())
    if format == PlanFormat.text or detailed_exitcode:
        from modelops.apply.executor import mark_cached
        from modelops.escape import one_line

        for problem in mark_cached(result, changes):
            print(f"warning: {one_line(problem)}", file=sys.stderr)
    if format == PlanFormat.text:
        from modelops.apply.session import print_changes

        print("\nchanges against the run directory:")
        print_changes(changes)
    return any(c.status != "up-to-date" and not c.cached for c in changes)


def _plan_diff(file: Path, result, against: str, format: "PlanFormat") -> str:
    """The plan diff for `plan --against`, rendered for the output format (json: an object on its own line)."""
    import json
    import subprocess

    from modelops.plan import compare
    from modelops.plan.planner import plan_recipe
    from modelops.problems import RecipeError

    current = result.to_dict()
    try:
        if against.endswith(".json") and Path(against).is_file():
            old = compare.load_saved(Path(against))
        else:
            old = compare.plan_at_revision(file, against, lambda path: plan_recipe(path).to_dict())
    except subprocess.CalledProcessError as exc:
        print(f"cannot check out {against}: {(exc.stderr or '').strip()}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except compare.RevisionError as exc:
        print(f"cannot check out {against}: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except (RecipeError, ValueError, OSError) as exc:
        print(f"cannot plan the recipe at {against}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    try:
        diff = compare.compare(old or {"recipes": []}, current, against)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        print(f"{against}: not a plan saved by `modelops plan --out` (no {exc})", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    if format == PlanFormat.json:
        return (
            json.dumps(
                {"against": against, "steps": [vars(s) for s in diff.steps], "costs": diff.costs},
                sort_keys=True,
                ensure_ascii=False,
            )
            + "\n"
        )
    return compare.diff_markdown(diff) if format == PlanFormat.markdown else compare.diff_text(diff)


@app.command()
def apply(
    files: List[Path] = typer.Argument(
        ...,
        help="Recipe files, folders of recipes, or a plan saved with "
        "`plan --out plan.json`; applied in order, stopping at the first failure.",
    ),
    force: List[str] = typer.Option(
        [], "--force", help="Rerun this step (`recipe/step` or `step`) and everything downstream."
    ),
    until: Optional[str] = typer.Option(None, "--until", help="Stop after this step."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would run (same as `plan`)."),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also show the steps' output (it is always in each step's log.txt: `modelops logs FILE STEP`).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live progress: only the summary, warnings and errors."),
    verify: bool = typer.Option(
        False,
        "--verify",
        help="Re-hash every finished output in full before trusting it "
        "(by default only outputs whose size or mtime moved are re-hashed).",
    ),
    overrides: List[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Run the plan: skip finished steps, run the rest in order, record each in the run directory's state,
    and write report.md / report.html there.

    Example: modelops apply recipes/activations-forecast.yaml --force fit
    """
    for file in _recipe_files(files):
        _apply_one(file, force, until, dry_run, verbose, quiet, verify, overrides)


def _apply_one(
    file: Path, force: List[str], until: Optional[str], dry_run: bool, verbose: bool, quiet: bool, verify: bool,
    overrides: List[str],
) -> None:
    from modelops.apply.executor import downstream_of
    from modelops.apply.session import Options, apply_plan

    if file.suffix == ".json" and overrides:
        print(f"{file} is a saved plan: its overrides are the ones it was planned with; --set applies to recipes",
              file=sys.stderr)
        raise typer.Exit(EXIT_INVALID)
    result = _saved_plan_or_exit(file) if file.suffix == ".json" else _plan_or_exit(file, overrides=overrides)
    _emit_problems(result.warnings, "text")
    forced = {_step_or_exit(name, result) for name in force}
    until_id = _step_or_exit(until, result) if until else None
    changes = _changes_or_exit(result, downstream_of(result, forced), verify)
    code = apply_plan(result, changes, Options(until_id, dry_run, verbose, quiet), file)
    if code:
        raise typer.Exit(code)


def _saved_plan_or_exit(path: Path):
    """A saved plan, re-planned from its recipe; refused when the recipe or its inputs changed since."""
    import json

    from modelops.plan.render import plan_json

    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        recipe_file = Path(saved["recipes"][-1]["file"])
        overrides = [str(o) for o in saved["recipes"][-1].get("overrides", [])]
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        print(f"{path}: not a plan saved by `modelops plan --out` ({exc})", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    current = _plan_or_exit(recipe_file, overrides=overrides)
    if plan_json(current) != path.read_text(encoding="utf-8"):
        was = {s["id"]: s["fingerprint"] for r in saved["recipes"] for s in r["steps"]}
        moved = [s.id for s in current.steps if was.get(s.id) != s.fingerprint] or ["the plan's layout"]
        print(
            f"{path} is stale: {recipe_file} or its inputs changed since it was saved ({', '.join(moved)} differ). "
            f"Review a fresh plan: modelops plan {recipe_file} --out {path}",
            file=sys.stderr,
        )
        raise typer.Exit(1)
    return current


def _finished_or_exit(result, kind: str) -> Path:
    """The output folder of the recipe's finished step of this kind, or why not and exit code 1."""
    from modelops.apply.state import finished_output

    try:
        return finished_output(result, kind)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from None


def _changes_or_exit(result, rerun: set[str], complete: bool = False) -> list:
    from modelops.apply.executor import changes_for

    try:
        return changes_for(result, rerun, complete)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from None


def _plan_or_exit(file: Path, invalid_code: int = EXIT_INVALID, overrides: List[str] = ()):
    """The plan of a recipe (with `--set` overrides), or its problems printed and exit code 2 (`invalid_code`)."""
    from modelops.plan.planner import plan_recipe
    from modelops.problems import RecipeError

    try:
        return plan_recipe(file, overrides=overrides)
    except RecipeError as exc:
        _emit_problems(exc.problems, "text")
        raise typer.Exit(invalid_code) from None


def _step_or_exit(name: str, plan) -> str:
    """The full id of a step named `recipe/step` or `step`; unknown names exit 2 with the closest ones."""
    import difflib

    found = _step_id(name, plan)
    if found is None:
        names = [s.id for s in plan.steps] + [s.short_id for s in plan.steps]
        close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
        hint = f"did you mean {' or '.join(f'`{c}`' for c in close)}? " if close else ""
        print(f"unknown step `{name}`; {hint}steps are: {', '.join(s.id for s in plan.steps)}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID)
    return found


def _step_id(name: str, plan) -> str | None:
    ids = [s.id for s in plan.steps]
    if name in ids:
        return name
    matches = [i for i in ids if i.split("/", 1)[1] == name]
    return matches[-1] if matches else None


@app.command()
def status(file: Path = typer.Argument(..., help="Recipe file.")) -> None:
    """Each step's state: up to date or pending, when it ran, its outputs and metrics.

    Example: modelops status recipes/activations-forecast.yaml
    """
    import datetime

    from modelops.apply.progress import scalar_metrics
    from modelops.apply.state import RunState

    result = _plan_or_exit(file)
    changes = _changes_or_exit(result, set())
    states = {r.name: RunState.load(Path(r.workdir)) for r in result.recipes}
    for change in changes:
        recipe, short = change.step.id.split("/", 1)
        entry = states[recipe].steps.get(short, {})
        when = datetime.datetime.fromtimestamp(entry["ended"]).isoformat(timespec="seconds") if entry else "-"
        failure = states[recipe].failure(short, change.step.fingerprint) if change.status != "up-to-date" else None
        if failure:
            failed_at = datetime.datetime.fromtimestamp(failure["at"]).isoformat(timespec="seconds")
            print(f"{change.step.id:32} {'failed':10} {failed_at} ({failure['how']}); log: {failure['log']}")
            continue
        print(f"{change.step.id:32} {change.status:10} {when}")
        for reason in change.reasons:
            if reason.startswith("!"):
                print(f"    {reason}")
        if entry and change.status == "up-to-date":
            print(f"    outputs: {', '.join(entry['outputs'])} in {entry['directory']}/out")
            if entry.get("metrics"):
                print(f"    metrics: {scalar_metrics(entry['metrics'], limit=8)}")


@app.command()
def verify(files: List[Path] = typer.Argument(..., help="Recipe files, or folders of recipes.")) -> None:
    """Re-hash every finished step's outputs in full and compare them with what the step wrote; exit 1 when
    any changed (`apply` then runs those steps again).

    Example: modelops verify recipes/
    """
    moved = False
    for file in _recipe_files(files):
        result = _plan_or_exit(file)
        for recipe in result.recipes:
            state = _state_or_exit(Path(recipe.workdir))
            for short, entry in sorted(state.steps.items()):
                changed = state.changed_outputs(short, Path(entry["directory"]), complete=True)
                moved |= bool(changed)
                print(
                    f"! {recipe.name}/{short}: " + ", ".join(map(str, changed))
                    if changed
                    else f"= {recipe.name}/{short}: {len(entry['outputs'])} output(s) as written"
                )
    if moved:
        print("outputs changed since their steps ran; `modelops apply` runs those steps again", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def push(file: Path = typer.Argument(..., help="Recipe file.")) -> None:
    """Store every finished step of the recipe (and of its upstream recipes) in the shared cache of its
    `cache.url`; steps already there are left as they are, steps whose outputs changed are not sent.

    Example: modelops push recipes/qwen2.5-0.5b-sft-ollama.yaml
    """
    _share(file, push=True)


@app.command()
def pull(file: Path = typer.Argument(..., help="Recipe file.")) -> None:
    """Take every step the run directory lacks from the shared cache of the recipe's `cache.url` (each
    output checked against the hash it was stored with), so that `apply` finds them finished.

    Example: modelops pull recipes/qwen2.5-0.5b-sft-ollama.yaml
    """
    _share(file, push=False)


def _share(file: Path, push: bool) -> None:
    from modelops.apply.executor import pull_step, shared_cache
    from modelops.apply.lock import LockedError, RunLock
    from modelops.apply.remote_cache import CacheError
    from modelops.escape import one_line

    failed = False
    for recipe in _plan_or_exit(file).recipes:
        cache, problem = shared_cache(recipe.cache)
        if cache is None:
            print(problem or f"{recipe.file} has no `cache` section: nothing to share", file=sys.stderr)
            failed = True
            continue
        workdir = Path(recipe.workdir)
        try:
            with RunLock(workdir):
                state = _state_or_exit(workdir)
                for step in recipe.steps:
                    directory = Path(step.directory)
                    finished = state.ran(step.short_id, step.fingerprint, directory)
                    if push and finished and not state.changed_outputs(step.short_id, directory):
                        stored = cache.store.push(step.fingerprint, directory / "out", state.steps[step.short_id])
                        where = one_line(cache.store.url)
                        print(f"{'↑' if stored else '='} {step.id}: {'now' if stored else 'already'} in {where}")
                    elif not push and not finished:
                        pulled, why = pull_step(step, state, cache.store, lambda *_: None)
                        why = one_line(why) or "not in the cache"
                        print(f"↓ {step.id}: pulled" if pulled else f"- {step.id}: {why}")
        except (CacheError, LockedError) as exc:
            print(str(exc), file=sys.stderr)
            failed = True
    if failed:
        raise typer.Exit(1)


def _state_or_exit(workdir: Path):
    from modelops.apply.state import RunState, StateError

    try:
        return RunState.load(workdir)
    except StateError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from None


@app.command()
def logs(
    file: Path = typer.Argument(..., help="Recipe file."),
    step: str = typer.Argument(..., help="Step name (`fit`, `train`, or `recipe/step`)."),
    lines: Optional[int] = typer.Option(None, "--tail", "-n", help="Only the last N lines."),
) -> None:
    """A step's log: everything it printed, library progress bars and warnings included.

    Example: modelops logs recipes/activations-forecast.yaml fit --tail 40
    """
    result = _plan_or_exit(file)
    step_id = _step_or_exit(step, result)
    directory = Path(next(s.directory for s in result.steps if s.id == step_id))
    log = directory / "log.txt"
    if not log.is_file():
        print(f"step {step_id} has not run for the recipe as it is now (no {log})", file=sys.stderr)
        raise typer.Exit(1)
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    print("\n".join(text[-lines:] if lines else text))


@app.command()
def gc(
    root: Path = typer.Argument(Path("runs"), help="Folder holding run directories."),
    yes: bool = typer.Option(False, "--yes", help="Remove them (without it, only list what would go)."),
) -> None:
    """Step folders that no run's state references (outputs of earlier versions of a step), with their
    sizes; `--yes` removes them. Runs being applied are skipped.

    Example: modelops gc runs --yes
    """
    from modelops.apply.gc import collect
    from modelops.apply.state import StateError

    try:
        found, skipped = collect(root, remove=yes)
    except StateError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from None
    for item in found:
        print(f"{'removed' if yes else 'would remove'} {item.path}  ({item.bytes / 2**20:.1f} MiB)")
    for reason in skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    total = sum(item.bytes for item in found) / 2**20
    print(
        f"{len(found)} unreferenced step folder(s), {total:.1f} MiB"
        + ("" if yes or not found else "; run again with --yes to remove them")
    )


@app.command()
def runs(
    root: Path = typer.Argument(Path("runs"), help="Folder holding run directories."),
    compare: bool = typer.Option(False, "--compare", help="Also the headline metrics of every run, side by side."),
) -> None:
    """List run directories and how many steps each has finished.

    Example: modelops runs --compare
    """
    from modelops.apply.state import RunState, StateError

    found = sorted(p.parent for p in root.glob("*/state.json"))
    if not found:
        print(f"no runs under {root}/")
    for workdir in found:
        try:
            steps = RunState.load(workdir).steps
        except StateError as exc:
            print(f"{workdir}  unreadable: {exc}")
            continue
        headline = [f"{step}.{name} {value:.4g}" for step, entry in steps.items()
                    for name, value in entry.get("metrics", {}).items() if name in HEADLINE_METRICS
                    and isinstance(value, (int, float)) and not isinstance(value, bool)] if compare else []
        print(f"{workdir}  {len(steps)} finished step(s)" + ("  " + ", ".join(headline) if headline else ""))


HEADLINE_METRICS = {"mae", "naive_mae", "r2", "eval_loss", "eval_reward", "eval_accuracy", "perplexity",
                    "preference_win_rate", "pair_accuracy", "top1_q4_k_m", "top1_q8_0"}


@app.command()
def diff(
    a: str = typer.Argument(..., metavar="A", help=(
        "A run directory (runs/<name>), a step folder (runs/<name>/<step>-<fingerprint>), a recipe file, or "
        "REV:RECIPE (the recipe at a git revision, e.g. main:recipes/sft.yaml).")),
    b: str = typer.Argument(..., help="The other side, spelled the same ways.", metavar="B"),
    format: PlanFormat = typer.Option(PlanFormat.text, "--format", "-f", help="text, json or markdown."),
    changed: bool = typer.Option(False, "--changed", help="Only metrics that differ and steps with a difference."),
) -> None:
    """Two runs side by side: every step's metrics in A and B with the change, and the parameters that differ
    (like `dvc metrics diff`); markdown for a pull request. A recipe side is planned (at its revision) and its
    steps' metrics read from the step folders of their fingerprints in the run directory, else from the
    recipe's shared cache.

    Example: modelops diff main:recipes/qwen-sft.yaml recipes/qwen-sft.yaml --format markdown
    """
    import subprocess

    from modelops.apply import run_diff
    from modelops.apply.state import StateError
    from modelops.problems import RecipeError

    try:
        diffs = run_diff.run_diff(run_diff.side(a), run_diff.side(b))
    except RecipeError as exc:
        _emit_problems(exc.problems, "text")
        raise typer.Exit(EXIT_INVALID) from None
    except subprocess.CalledProcessError as exc:
        print(f"cannot check out the recipe: {(exc.stderr or '').strip()}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except (StateError, ValueError) as exc:                     # RevisionError is a ValueError
        print(str(exc), file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    if format == PlanFormat.json:
        sys.stdout.write(run_diff.diff_json(diffs, a, b))
    else:
        render = run_diff.diff_markdown if format == PlanFormat.markdown else run_diff.diff_text
        sys.stdout.write(render(diffs, a, b, changed))


@app.command()
def predict(
    file: Path = typer.Argument(..., help="Regression recipe (applied)."),
    input: Optional[Path] = typer.Option(
        None,
        "--input",
        "-i",
        help="CSV or Parquet of recent rows, shaped like the "
        "training data; defaults to the training data's latest rows.",
    ),
    future: Optional[Path] = typer.Option(
        None, "--future", help="CSV or Parquet of the known-in-advance features over the horizon: the groups, the "
        "time and each of `task.known_features`, a row per series and future time.",
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write forecasts to this CSV instead of stdout."
    ),
) -> None:
    """Forecast the next `horizon` steps of every series from its latest observations.

    Example: modelops predict recipes/activations-forecast.yaml --input recent.csv --future promos.csv -o forecasts.csv
    """
    from modelops.forecast.frame import PanelError, read_table
    from modelops.forecast.predictor import Forecaster, StaleForecaster
    from modelops.fsutil import write_atomically

    result = _plan_or_exit(file)
    models = _finished_or_exit(result, "lightgbm_fit") / "models"
    features = _finished_or_exit(result, "table_features")
    try:
        forecaster = Forecaster(models)
    except StaleForecaster as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from None
    source = input or features / "recent.csv"
    try:
        rows = read_table(source, list(forecaster.input_columns))
        if future is not None:
            rows = forecaster.with_future(rows, read_table(future), str(future))     # it names missing columns
        forecasts, refused = forecaster.predict(rows, str(source))
    except PanelError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except OSError as exc:
        print(f"{exc.filename or source}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    for item in refused:
        print(f"refused {item['series']}: {item['reason']}", file=sys.stderr)
    if forecasts.empty:
        print("no series has enough history to forecast", file=sys.stderr)
        raise typer.Exit(1)
    text = forecasts.to_csv(index=False)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text)
        print(f"{len(forecasts)} forecasts written to {output}", file=sys.stderr)


@app.command()
def serve(
    file: Path = typer.Argument(
        ..., help="A GGUF file, or an applied recipe (`deploy.target: api`, `ollama` or `llama-cpp`)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    n_ctx: int = typer.Option(2048, "--n-ctx", help="Context length (language models)."),
) -> None:
    """Serve a model over HTTP in the foreground: a regression recipe's API (POST /predict, GET /health,
    GET /metadata), or a GGUF through llama.cpp's OpenAI-compatible server (/v1/chat/completions).

    Examples: modelops serve recipes/activations-forecast.yaml --port 8000;
    modelops serve runs/zh-assistant/.../model-q4_k_m.gguf; modelops serve recipes/qwen2.5-0.5b-sft-ollama.yaml
    """
    result = None if file.suffix == ".gguf" else _plan_or_exit(file)
    if result is not None and _is_regression(result):
        return _serve_api(result, host, port)
    import os

    from modelops.deploy.llama_server import server_command

    gguf, adapter = _gguf_or_exit(file, result)
    print(
        f"serving {gguf} on http://{host}:{port}/v1 (OpenAI-compatible; `modelops chat {file}` talks to it)",
        file=sys.stderr,
    )
    command = server_command(gguf, host, port, n_ctx, adapter)
    os.execv(command[0], command)


def _is_regression(result) -> bool:
    from modelops.task_kinds import task_kind

    return not task_kind(result.recipes[-1].task).trains_language_model


def _serve_api(result, host: str, port: int) -> None:
    bundle = _finished_or_exit(result, "api_bundle") / "bundle"
    import uvicorn

    from modelops.forecast.server import create_app

    print(
        f"serving {bundle} on http://{host}:{port} "
        "(POST /predict, GET /health, GET /metadata, OpenAPI schema at /openapi.json)",
        file=sys.stderr,
    )
    uvicorn.run(create_app(bundle), host=host, port=port, log_level="info")


def _gguf_or_exit(file: Path, result=None) -> tuple[Path, Optional[Path]]:
    """The GGUF to serve (and its LoRA GGUF): the file itself, or the one a recipe's smoke test served."""
    if file.suffix == ".gguf":
        if not file.is_file():
            print(f"{file}: no such GGUF file", file=sys.stderr)
            raise typer.Exit(EXIT_INVALID)
        return file, None
    from modelops.step_kinds import served_gguf

    return served_gguf(_finished_or_exit(result or _plan_or_exit(file), "llama_server_smoke"))


@app.command()
def chat(
    file: Path = typer.Argument(..., help="A GGUF file, or an applied language-model recipe with a GGUF deploy."),
    url: Optional[str] = typer.Option(None, "--url", help="Talk to a running OpenAI-compatible server instead."),
    system: Optional[str] = typer.Option(None, "--system", help="System prompt."),
    max_tokens: int = typer.Option(256, "--max-tokens", help="Longest reply, in tokens."),
) -> None:
    """A terminal chat with the model (llama.cpp's server started in the background); an empty line or
    Ctrl-D ends it. Lines can also be piped in.

    Example: modelops chat recipes/qwen2.5-0.5b-sft-ollama.yaml --system "Answer in one sentence."
    """
    import contextlib

    import httpx

    from modelops.deploy.llama_server import BackgroundLlamaServer

    messages = [{"role": "system", "content": system}] if system else []
    if url:
        server = contextlib.nullcontext(url)
    else:
        gguf, adapter = _gguf_or_exit(file)
        server = BackgroundLlamaServer(gguf, lora=adapter)
    with server as base:
        while True:
            try:
                line = input("you> " if sys.stdin.isatty() else "").strip()
            except EOFError:
                break
            if not line:
                break
            if not sys.stdin.isatty():
                print(f"you> {line}")
            messages.append({"role": "user", "content": line})
            try:
                response = httpx.post(
                    f"{base}/v1/chat/completions", timeout=300, json={"messages": messages, "max_tokens": max_tokens}
                )
                reply = response.json()["choices"][0]["message"]["content"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                died = server.ended() if isinstance(server, BackgroundLlamaServer) else None
                print(f"the llama.cpp server {died}" if died else f"no answer from {base}: {exc}", file=sys.stderr)
                raise typer.Exit(1) from None
            messages.append({"role": "assistant", "content": reply})
            print(f"model> {reply}")


StarterKind = Enum("StarterKind", {name: name for name in TASK_KINDS}, type=str)   # one per task kind


@app.command()
def init(
    kind: StarterKind = typer.Argument(..., help=", ".join(TASK_KINDS) + "."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Recipe file to write (default: KIND.yaml)."),
    name: Optional[str] = typer.Option(None, "--name", help="Recipe name (default: my-KIND)."),
    base: Optional[str] = typer.Option(
        None, "--base", help="Base model: hub id, local folder or modelscope://org/name."
    ),
    data: Optional[str] = typer.Option(None, "--data", help="Training data path, relative to the recipe."),
    hardware: str = typer.Option("cpu", "--hardware", help="Hardware profile (`modelops hardware` lists them)."),
    from_scratch: bool = typer.Option(
        False,
        "--from-scratch",
        help="pretrain: a new small model and tokenizer "
        "trained on your text instead of a hub base (no download; works offline).",
    ),
) -> None:
    """Write a commented starter recipe that validates and plans as written; sample data is written beside
    it when the data file does not exist yet.

    Example: modelops init sft --base Qwen/Qwen2.5-1.5B-Instruct --data data/chats.jsonl --hardware a10x2
    """
    from modelops.starter import write_starter

    target = out or Path(f"{kind.value}.yaml")
    try:
        written = write_starter(kind.value, target, name or f"my-{kind.value}", base, data, hardware, from_scratch)
    except FileExistsError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    for path in written:
        print(f"wrote {path}")
    print(f"next: modelops plan {target}")


@app.command()
def doctor() -> None:
    """One screen on this machine: Python, torch and CUDA, GPUs and their memory, bf16, llama-cpp-python and
    its converter, an Ollama server, disk space; what is missing and the command that fixes it. Exit 1 when
    something required is missing (an Ollama server and Go are optional).

    Example: modelops doctor
    """
    from rich.console import Console
    from rich.table import Table

    from modelops.doctor import checks

    table = Table(show_header=True, header_style="bold")
    for column in ("", "what", "found", "fix"):
        table.add_column(column)
    found = checks(Path.cwd())
    for check in found:
        table.add_row(check.mark, check.name, check.found, "" if check.ok else check.fix)
    Console(highlight=False).print(table)
    if not all(check.ok for check in found if check.required):
        raise typer.Exit(1)


@app.command()
def docs(
    out: Path = typer.Option(Path("docs/recipe-reference.md"), "--out", "-o", help="Where to write the reference."),
) -> None:
    """Write the recipe reference (every key, its type, default and meaning) from the recipe schema.

    Example: modelops docs -o docs/recipe-reference.md
    """
    from modelops.fsutil import write_atomically
    from modelops.recipe.reference import recipe_reference

    write_atomically(out, recipe_reference())
    print(f"wrote {out}")


@app.command()
def schema(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of standard output."),
) -> None:
    """The JSON Schema of a recipe, for editors (YAML language server) to complete and check recipes.

    Example: modelops schema -o recipe.schema.json, then start a recipe with
    `# yaml-language-server: $schema=recipe.schema.json`
    """
    import json

    from modelops.fsutil import write_atomically
    from modelops.recipe.schema import recipe_json_schema

    text = json.dumps(recipe_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomically(out, text)


@app.command()
def hardware() -> None:
    """The built-in hardware profiles (use them as `hardware: a10x2`, `h100x8`, or `{gpu:, gpus:, nodes:}`).

    Example: modelops hardware
    """
    from modelops.catalog import hardware_catalog
    from modelops.plan.hardware import shorthand_examples

    rows = [("profile", "memory GiB", "bf16", "fp16", "CUDA", "16-bit TFLOPS", "interconnect", "device")]
    for name, info in hardware_catalog().items():
        rows.append(
            (
                name,
                f"{info['memory_gb']:g}",
                _yes(info["bf16"]),
                _yes(info["fp16"]),
                _yes(info["cuda"]),
                f"{info['tflops']:g}",
                info["interconnect"],
                info["label"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print("\nshorthands: " + ", ".join(shorthand_examples()))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def main() -> None:
    if "--no-color" in sys.argv[2:]:  # after the command too, as users type it
        sys.argv.remove("--no-color")
        sys.argv.insert(1, "--no-color")
    app()


if __name__ == "__main__":
    main()
