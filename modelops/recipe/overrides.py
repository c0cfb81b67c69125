"""`--set KEY=VALUE` overrides of a recipe on the command line (as LLaMA-Factory and Hydra take them): the key is
a dotted path (`task.learning_rate`, `deploy.quantize[0]`), the value YAML (`1e-4`, `a10x2`, `[q4_k_m]`,
`{type: lora, r: 8}`), read by the same reader as recipe files — the same tags refused, the same rules for
`${VAR}` — and validated by the same schema. An error in an overridden value points at the override."""

from __future__ import annotations

import re
from typing import Any, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from modelops.problems import Problem, RecipeError
from modelops.recipe.yaml_source import KeyPath, NodeReader, Source, TooBig, dotted

KEY_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")
HINT = "write KEY=VALUE with a dotted key, e.g. --set task.learning_rate=1e-4 or --set deploy.quantize[0]=q8_0"


def key_path(key: str) -> KeyPath | None:
    """`deploy.quantize[0]` as ("deploy", "quantize", 0); None when it is not a key path."""
    path: list[str | int] = []
    for part in key.split("."):
        match = KEY_PART.fullmatch(part)
        if match is None:
            return None
        path.append(match.group(1))
        path += [int(index) for index in re.findall(r"\[(\d+)\]", match.group(2))]
    return tuple(path)


def with_overrides(source: Source, overrides: list[str], env: Mapping[str, str]) -> Source:
    """The recipe's data with every override applied in order; RecipeError lists every bad override."""
    problems: list[Problem] = []
    for text in overrides:
        label = f"--set {text}"
        key, sep, value = text.partition("=")
        path = key_path(key.strip()) if sep else None
        if path is None:
            problems.append(Problem(label, 1, 1, "", "not an override", HINT))
            continue
        column = len("--set ") + len(key) + 2
        try:
            data = _read_value(value, label, path, env, column)
        except RecipeError as exc:
            problems += exc.problems
            continue
        where = _place(source.data, path)
        if where is None:
            problems.append(Problem(label, 1, 1, dotted(path), "no such place in the recipe",
                                    "an index must name an existing list item; a key's parent must be a mapping"))
            continue
        parent, last = where
        parent[last] = data
        source.overridden[path] = (label, column)
    if problems:
        raise RecipeError(problems)
    return source


def _read_value(value: str, label: str, path: KeyPath, env: Mapping[str, str], column: int) -> Any:
    yaml = YAML(typ="safe")
    try:
        node = yaml.compose(value)
    except MarkedYAMLError as exc:
        raise RecipeError([Problem(label, 1, column, dotted(path), "not a YAML value",
                                   str(exc.problem or exc).splitlines()[0])]) from None
    if node is None:
        return None
    reader = NodeReader(label, yaml, env)
    try:
        data = reader.read(node, path)
    except TooBig as exc:
        raise RecipeError([Problem(label, 1, column, "", exc.message)]) from None
    if reader.problems:
        raise RecipeError([Problem(p.file, 1, column, p.key, p.message, p.hint) for p in reader.problems])
    return data


def _place(data: Any, path: KeyPath) -> tuple[Any, str | int] | None:
    """The container and key to assign at `path`, making missing mappings on the way."""
    node = data
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict):
                return None
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
    last = path[-1]
    if isinstance(last, int):
        return (node, last) if isinstance(node, list) and last < len(node) else None
    return (node, last) if isinstance(node, dict) else None
