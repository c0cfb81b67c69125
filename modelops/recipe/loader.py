"""Load a recipe file into a validated `Recipe`, turning pydantic errors into positioned problems."""

from __future__ import annotations

import copy
import difflib
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, ValidationError

from modelops.problems import Problem, RecipeError, display_path
from modelops.recipe.overrides import with_overrides
from modelops.recipe.schema import Recipe
from modelops.recipe.yaml_source import KeyPath, Source, dotted, parse_yaml
from modelops.task_kinds import TASK_KINDS


@dataclass(frozen=True)
class LoadedRecipe:
    """A valid recipe with where it came from, so later checks can point into the file."""

    recipe: Recipe
    path: Path
    source: Source

    @property
    def root(self) -> Path:
        """Directory that relative paths in the recipe are resolved against."""
        return self.path.parent

    def problem(self, path: KeyPath, message: str, hint: str = "", **kw: Any) -> Problem:
        return self.source.problem(path, message, hint, **kw)


def load_recipe(path: str | Path, env: Mapping[str, str] | None = None, overrides: Sequence[str] = ()) -> LoadedRecipe:
    """Read, parse and validate one recipe (with `--set` overrides applied); raise RecipeError with every
    problem at once."""
    path = Path(path)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError([Problem(shown, 1, 1, "", "recipe file not found", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError([Problem(shown, 1, 1, "", f"cannot read the recipe: {exc}")]) from None
    source = parse_yaml(text, shown, env)
    if overrides:
        source = with_overrides(source, list(overrides), os.environ if env is None else env)
    try:
        recipe = Recipe.model_validate(source.data)
    except ValidationError as exc:
        problems = [_problem(source, error) for error in exc.errors()]
        partial, left_out = _without_invalid_keys(source, path, exc)
        raise RecipeError(problems, partial, left_out) from None
    return LoadedRecipe(recipe, path, source)


def _without_invalid_keys(source: Source, path: Path, exc: ValidationError) -> tuple[LoadedRecipe | None, list[str]]:
    """The recipe with every key that failed validation left out, when that is a valid recipe (a misspelt
    key, a bad value where a default exists), so that the semantic checks can still run on the rest."""
    data = copy.deepcopy(source.data)
    left_out = []
    for error in exc.errors():
        walk = _walk(source.data, tuple(error["loc"]))
        if not walk.present or not walk.path:
            return None, []
        parent = data
        for part in walk.path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):
            parent.pop(walk.path[-1], None)
        elif isinstance(parent, list):
            return None, []
        left_out.append(dotted(walk.path))
    try:
        partial = Source(source.file, data, source.positions, source.overridden)
        return LoadedRecipe(Recipe.model_validate(data), path, partial), left_out
    except ValidationError:
        return None, []


# ------------------------------------------------------------------ error mapping

@dataclass
class _Walk:
    path: KeyPath          # the error's place in the file, tags removed
    parent: type | None    # the section model holding the last key
    value: Any             # the offending value, when present in the file
    present: bool          # whether the last key exists in the file


def _problem(source: Source, error: Mapping[str, Any]) -> Problem:
    walk = _walk(source.data, tuple(error["loc"]))
    kind, ctx = error["type"], error.get("ctx") or {}
    key = walk.path[-1] if walk.path else ""
    if kind == "extra_forbidden":
        allowed = _field_names(walk.parent)
        return source.problem(
            walk.path, f"unknown key `{key}`", _did_you_mean(str(key), allowed, "allowed keys"), at="key"
        )
    if kind == "missing":
        return source.problem(
            walk.path[:-1], f"required key `{key}` is missing", _field_doc(walk.parent, str(key)), at="key"
        )
    if kind == "union_tag_not_found":
        return source.problem(
            walk.path, "`kind` is missing", "add `kind:` with one of: " + ", ".join(TASK_KINDS), at="key"
        )
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        return source.problem(
            walk.path + ("kind",), f"unknown task kind `{tag}`", _did_you_mean(tag, TASK_KINDS, "task kinds")
        )
    if kind in ("literal_error", "enum"):
        expected = [e.strip().strip("'") for e in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        return source.problem(
            walk.path,
            f"`{walk.value}` is not allowed here",
            _did_you_mean(str(walk.value), expected, "expected one of"),
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    if walk.present and not isinstance(walk.value, (dict, list)) and kind != "value_error":
        message += f" (got `{walk.value}`)"
    at = "key" if isinstance(walk.value, (dict, list)) else "value"
    return source.problem(walk.path, message, _field_doc(walk.parent, str(key)) if walk.present else "", at=at)


def _walk(data: Any, loc: tuple) -> _Walk:
    """Follow a pydantic error location through the data and the schema together.

    Pydantic puts union tags (`sft`, `spec`) into locations; they are not keys in the
    file, so they are dropped here while the schema walk picks the union member."""
    node: Any = data
    tp: Any = Recipe
    parent: type | None = None
    path: list = []
    present = True
    for part in loc:
        member = _union_member(tp, part)
        if member is not None:
            tp = member
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            present = False
            node = None
        model = _as_model(tp)
        parent = model if model is not None else parent
        tp = _child_type(tp, part)
        path.append(part)
    return _Walk(tuple(path), parent, node, present)


def _strip(tp: Any) -> Any:
    """Remove Annotated and Optional wrappers."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        args = typing.get_args(tp)
        if _is_union(tp) and type(None) in args:
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    import types

    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _union_member(tp: Any, part: Any) -> Any:
    """The member of a union that the location part `part` names as its tag, if any."""
    tp = _strip(tp)
    if not _is_union(tp) or not isinstance(part, str):
        return None
    for member in typing.get_args(tp):
        if typing.get_origin(member) is typing.Annotated:
            tags = [getattr(m, "tag", None) for m in typing.get_args(member)[1:]]
            if part in tags:
                return typing.get_args(member)[0]
        model = _as_model(member)
        kind = model.model_fields.get("kind") if model else None
        if kind is not None and part in typing.get_args(kind.annotation):
            return model
    return None


def _as_model(tp: Any) -> type[BaseModel] | None:
    tp = _strip(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _child_type(tp: Any, part: Any) -> Any:
    model = _as_model(tp)
    if model is not None:
        field = _field(model, str(part))
        return field.annotation if field else None
    tp = _strip(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _field(model: type[BaseModel], key: str):
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _field_doc(model: type[BaseModel] | None, key: str) -> str:
    field = _field(model, key) if model else None
    return f"{key}: {field.description}" if field and field.description else ""


SYNONYMS = {  # names other tools use for an allowed value
    "weekday": "dayofweek",
    "day_of_week": "dayofweek",
    "dow": "dayofweek",
    "week": "weekofyear",
    "week_of_year": "weekofyear",
    "day_of_year": "dayofyear",
    "doy": "dayofyear",
    "hour_of_day": "hour",
}


def _did_you_mean(word: str, choices: typing.Sequence[str], label: str) -> str:
    choices = [c for c in choices if c]
    close = (
        [SYNONYMS[word.lower()]]
        if SYNONYMS.get(word.lower()) in choices
        else difflib.get_close_matches(word, choices, n=2, cutoff=0.6)
    )
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return f"{label}: {', '.join(choices)}" if choices else ""
