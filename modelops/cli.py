"""The `modelops` command line. Heavy libraries are imported only by the commands that run steps."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    name="modelops", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    help="Declarative model ops: recipes (YAML) validated, planned into reviewable steps, and applied.",
    epilog="Exit codes: 0 ok, 1 failure while running, 2 invalid recipe or usage.",
)

EXIT_INVALID = 2


class ProblemFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class PlanFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _emit_problems(problems: list, fmt: str) -> None:
    from modelops.problems import render_problems

    if problems:
        print(render_problems(problems, fmt), file=sys.stdout if fmt != "text" else sys.stderr)


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., help="Recipe files to check."),
    format: ProblemFormat = typer.Option(ProblemFormat.text, "--format", "-f", help="text, json, or github annotations."),
) -> None:
    """Check recipes and report every problem with file:line:col, key and a hint.

    Example: modelops validate recipes/*.yaml --format github
    """
    from modelops.plan.planner import plan_recipe
    from modelops.problems import RecipeError, errors_only

    problems: list = []
    for file in files:
        try:
            problems += plan_recipe(file).warnings
        except RecipeError as exc:
            problems += exc.problems
    if format == ProblemFormat.json:
        from modelops.problems import render_problems

        print(render_problems(problems, "json"))
    else:
        _emit_problems(problems, format.value)
    if errors_only(problems):
        raise typer.Exit(EXIT_INVALID)
    if format == ProblemFormat.text:
        print(f"{len(files)} recipe(s) valid", file=sys.stderr)


@app.command()
def plan(
    file: Path = typer.Argument(..., help="Recipe file."),
    format: PlanFormat = typer.Option(PlanFormat.text, "--format", "-f", help="text, json (stable, diffable) or markdown."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also save the plan as JSON for a later `apply`."),
) -> None:
    """Dry run: the steps a recipe expands into, the resolved hardware and memory, and the exact commands.

    Example: modelops plan recipes/qwen-sft.yaml --format markdown
    """
    from modelops.plan.planner import plan_recipe
    from modelops.plan.render import plan_json, plan_markdown, plan_text
    from modelops.problems import RecipeError

    try:
        result = plan_recipe(file)
    except RecipeError as exc:
        _emit_problems(exc.problems, "text")
        raise typer.Exit(EXIT_INVALID)
    if out is not None:
        _write_atomically(out, plan_json(result))
    render = {PlanFormat.text: plan_text, PlanFormat.json: plan_json, PlanFormat.markdown: plan_markdown}[format]
    sys.stdout.write(render(result))
    if format != PlanFormat.text:
        _emit_problems(result.warnings, "text")


def _write_atomically(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command()
def schema(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of standard output."),
) -> None:
    """The JSON Schema of a recipe, for editors (YAML language server) to complete and check recipes.

    Example: modelops schema -o recipe.schema.json, then start a recipe with
    `# yaml-language-server: $schema=recipe.schema.json`
    """
    import json

    from modelops.recipe.schema import recipe_json_schema

    text = json.dumps(recipe_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        _write_atomically(out, text)


@app.command()
def hardware() -> None:
    """The built-in hardware profiles (use them as `hardware: a10x2`, `h100x8`, or `{gpu:, gpus:, nodes:}`).

    Example: modelops hardware
    """
    from modelops.catalog import hardware_catalog
    from modelops.plan.hardware import shorthand_examples

    rows = [("profile", "memory GiB", "bf16", "fp16", "CUDA", "16-bit TFLOPS", "interconnect", "device")]
    for name, info in hardware_catalog().items():
        rows.append((name, f"{info['memory_gb']:g}", _yes(info["bf16"]), _yes(info["fp16"]), _yes(info["cuda"]),
                     f"{info['tflops']:g}", info["interconnect"], info["label"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("\nshorthands: " + ", ".join(shorthand_examples()))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
