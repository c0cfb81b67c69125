"""Positioned problems: the one shape in which bad input is reported to people."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

from modelops.escape import github_message, github_property, md_code, md_text, one_line

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something wrong (or worth a warning) at a place in a recipe file."""

    file: str
    line: int
    col: int
    key: str
    message: str
    hint: str = ""
    severity: Severity = "error"

    def text(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        label = "" if self.severity == "error" else "warning: "
        head = f"{where}: {label}{self.key or '<recipe>'}: {self.message}"
        return one_line(head) + (f"\n    hint: {one_line(self.hint)}" if self.hint else "")

    def github(self) -> str:
        """A GitHub Actions workflow command, so a pull request shows it on the line."""
        body = github_message(f"{self.key}: {self.message}" + (f" ({self.hint})" if self.hint else ""))
        return f"::{self.severity} file={github_property(self.file)},line={self.line},col={self.col}::{body}"

    def markdown(self) -> str:
        return f"- {md_code(f'{self.file}:{self.line}')} {md_code(self.key)}: {md_text(self.message)}"


class RecipeError(Exception):
    """Raised with every problem found, so that all of them reach the user at once."""

    def __init__(self, problems: Iterable[Problem], partial: Any = None, left_out: Iterable[str] = ()):
        self.problems = sorted(set(problems), key=_order)
        self.partial = partial                  # the recipe without the invalid keys, when that is valid
        self.left_out = tuple(left_out)         # the dotted keys left out of it
        super().__init__("\n".join(p.text() for p in self.problems))


def _order(p: Problem) -> tuple:
    return (p.file, p.line, p.col, p.key, p.message)


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def render_problems(problems: list[Problem], fmt: str) -> str:
    ordered = sorted(set(problems), key=_order)
    if fmt == "json":
        return json.dumps([asdict(p) for p in ordered], indent=2, ensure_ascii=False)
    if fmt == "github":
        return "\n".join(p.github() for p in ordered)
    return "\n".join(p.text() for p in ordered)


def display_path(path: Path) -> str:
    """A path as users typed it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
