"""Read a recipe's YAML into plain data, keeping the line and column of every key and value.

The node tree is walked by hand (instead of letting a constructor build objects) so that
tags can be refused, duplicate keys reported with both positions, `${ENV}` references
expanded with their position known, and every node's place remembered for later errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.tokens import (
    BlockEndToken,
    BlockMappingStartToken,
    BlockSequenceStartToken,
    FlowMappingEndToken,
    FlowMappingStartToken,
    FlowSequenceEndToken,
    FlowSequenceStartToken,
)

from modelops.problems import Problem, RecipeError
from modelops.recipe.env import ALLOWED, ENV_KEYS, names, unset

KeyPath = tuple  # of str keys and int indexes

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")}


@dataclass
class Positions:
    """1-based (line, column) of each key and each value, by key path."""

    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def of_key(self, path: KeyPath) -> tuple[int, int]:
        """Where the key at `path` is written, or its nearest written ancestor."""
        for cut in range(len(path), -1, -1):
            hit = self.keys.get(tuple(path[:cut])) or self.values.get(tuple(path[:cut]))
            if hit:
                return hit
        return (1, 1)

    def of_value(self, path: KeyPath) -> tuple[int, int]:
        """Where the value at `path` starts, falling back to its key."""
        return self.values.get(tuple(path)) or self.of_key(path)


@dataclass
class Source:
    """A recipe file's plain data and the positions of everything in it."""

    file: str
    data: Any
    positions: Positions
    overridden: dict[KeyPath, tuple[str, int]] = field(default_factory=dict)   # `--set` key path → (label, column)

    def problem(self, path: KeyPath, message: str, hint: str = "", *, at: str = "value",
                severity: str = "error") -> Problem:
        for cut in range(len(path), 0, -1):          # a value set on the command line: point at the override
            if tuple(path[:cut]) in self.overridden:
                label, column = self.overridden[tuple(path[:cut])]
                return Problem(label, 1, column, dotted(path), message, hint, severity)  # type: ignore[arg-type]
        line, col = self.positions.of_value(path) if at == "value" else self.positions.of_key(path)
        return Problem(self.file, line, col, dotted(path), message, hint, severity)  # type: ignore[arg-type]


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


INDENTATION_SIGNS = ("mapping values are not allowed here", "expected <block end>", "did not find expected key",
                     "could not find expected ':'")
INDENTATION_HINT = ("check the indentation around this line: keys of one section start in the same column, "
                    "a section's keys are indented more than the section, and values follow `key: ` on the same line")


def parse_yaml(text: str, file: str, env: Mapping[str, str] | None = None) -> Source:
    """Parse recipe text; raise RecipeError listing every problem found while reading it."""
    env = os.environ if env is None else env
    yaml = YAML(typ="safe")
    try:
        _refuse_deep_nesting(yaml, text, file)
        root = yaml.compose(text)
    except RecursionError:                # the last guard, behind _refuse_deep_nesting
        raise RecipeError([Problem(file, 1, 1, "", "the recipe nests deeper than YAML can be read here",
                                   f"a recipe needs no more than {MAX_DEPTH} levels")]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = _yaml_message(exc)
        hint = "indent with spaces; YAML does not allow tabs" if "'\\t'" in message else \
            INDENTATION_HINT if any(sign in message for sign in INDENTATION_SIGNS) else ""
        raise RecipeError([Problem(file, line, col, "", message, hint)]) from None
    reader = NodeReader(file, yaml, env)
    try:
        data = reader.read(root, ()) if root is not None else None
    except TooBig as exc:
        mark = exc.node.start_mark
        raise RecipeError(
            [
                Problem(
                    file,
                    mark.line + 1,
                    mark.column + 1,
                    dotted(exc.path),
                    exc.message,
                    "write the values out, without aliases that expand or refer to themselves",
                )
            ]
        ) from None
    if reader.problems:
        raise RecipeError(reader.problems)
    if not isinstance(data, dict):
        raise RecipeError(
            [
                Problem(
                    file, 1, 1, "", "a recipe must be a mapping of sections", "start with `version: 1` and `name: ...`"
                )
            ]
        )
    return Source(file, data, reader.positions)


def _yaml_message(exc: MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "YAML syntax error: " + "; ".join(parts) if parts else "YAML syntax error"


MAX_VALUES = 100_000  # values a recipe may expand to through aliases
MAX_DEPTH = 64  # nesting levels
MAX_SCALAR_DIGITS = 100  # characters of one number
_OPENING = (BlockMappingStartToken, BlockSequenceStartToken, FlowMappingStartToken, FlowSequenceStartToken)
_CLOSING = (BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken)


def _refuse_deep_nesting(yaml: YAML, text: str, file: str) -> None:
    """Nesting past MAX_DEPTH, found from the tokens before the (recursive) composer meets it. Only text with
    many brackets or deep indentation is scanned; the composer's own recursion limit is the last guard."""
    indents = (len(line) - len(line.lstrip(" ")) for line in text.splitlines())
    if text.count("[") + text.count("{") <= 2 * MAX_DEPTH and max(indents, default=0) <= 2 * MAX_DEPTH:
        return
    depth = 0
    for token in yaml.scan(text):
        if isinstance(token, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                mark = token.start_mark
                raise RecipeError(
                    [
                        Problem(
                            file,
                            mark.line + 1,
                            mark.column + 1,
                            "",
                            f"the recipe nests deeper than {MAX_DEPTH} levels",
                            "write it flatter; a recipe needs only a few levels",
                        )
                    ]
                )
        elif isinstance(token, _CLOSING):
            depth -= 1


class TooBig(Exception):
    def __init__(self, node: Node, path: KeyPath, message: str):
        self.node, self.path, self.message = node, path, message


class NodeReader:
    def __init__(self, file: str, yaml: YAML, env: Mapping[str, str]):
        self.file, self.yaml, self.env = file, yaml, env
        self.positions = Positions()
        self.problems: list[Problem] = []
        self.count = 0
        self.open: set[int] = set()  # the nodes being read: one met again is a cycle

    def _error(self, node: Node, path: KeyPath, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.file, mark.line + 1, mark.column + 1, dotted(path), message, hint))

    def read(self, node: Node, path: KeyPath) -> Any:
        """The node as plain data. Aliases are followed, within limits: a recipe that expands past MAX_VALUES
        (a "billion laughs"), nests deeper than MAX_DEPTH, or refers to itself is refused at that point."""
        self.count += 1
        if self.count > MAX_VALUES or len(path) > MAX_DEPTH or id(node) in self.open:
            why = (
                "refers to itself through an alias"
                if id(node) in self.open
                else f"nests deeper than {MAX_DEPTH} levels"
                if len(path) > MAX_DEPTH
                else f"expands to more than {MAX_VALUES:,} values (aliases of aliases?)"
            )
            raise TooBig(node, path, f"the recipe {why}")
        self.positions.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                if node.tag != _CORE + "seq":
                    return self._bad_tag(node, path)
                return [self.read(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._scalar(node, path)
        finally:
            self.open.discard(id(node))

    def _bad_tag(self, node: Node, path: KeyPath) -> None:
        tag = node.tag.replace(_CORE, "!!")
        self._error(
            node,
            path,
            f"the YAML tag `{tag}` is not allowed in a recipe",
            "recipes are loaded safely: remove the tag and write a plain value",
        )
        return None

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict | None:
        if node.tag != _CORE + "map":
            return self._bad_tag(node, path)
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        for key_node, value_node in self._pairs(node):
            if not isinstance(key_node, ScalarNode):
                self._error(key_node, path, "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            if key in seen:
                first = seen[key].start_mark
                self._error(
                    key_node,
                    path + (key,),
                    f"duplicate key `{key}` (first written at line {first.line + 1})",
                    "remove one of the two; YAML keeps only one and it is easy to edit the wrong one",
                )
                continue
            seen[key] = key_node
            self.positions.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.read(value_node, path + (key,))
        return out

    def _pairs(self, node: MappingNode, merging: frozenset[int] = frozenset()) -> list[tuple[Node, Node]]:
        """The mapping's pairs, with YAML merge keys (`<<: *base`) expanded; own keys win. A merge that comes
        back to a mapping it is merging is refused."""
        if id(node) in merging:
            raise TooBig(node, (), "the recipe merges a mapping into itself (`<<:` loop)")
        merging = merging | {id(node)}
        own = [(k, v) for k, v in node.value if k.tag != _CORE + "merge"]
        names = {k.value for k, _ in own}
        merged: list[tuple[Node, Node]] = []
        for key, value in node.value:
            if key.tag != _CORE + "merge":
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    for k, v in self._pairs(source, merging):
                        if k.value not in names:
                            names.add(k.value)
                            merged.append((k, v))
        return own + merged

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            return self._bad_tag(node, path)
        if node.tag in (_CORE + "str", _CORE + "timestamp"):
            return self._interpolate(node, path)
        if len(str(node.value)) > MAX_SCALAR_DIGITS and node.tag in (_CORE + "int", _CORE + "float"):
            self._error(node, path, f"a number of {len(str(node.value)):,} characters", "write a smaller number")
            return None
        try:
            return self.yaml.constructor.construct_object(node, deep=True)
        except (ValueError, TypeError, MarkedYAMLError) as exc:
            tag = node.tag.replace(_CORE, "!!")
            self._error(node, path, f"not a valid {tag} value", str(exc).splitlines()[0][:120])
            return None

    def _interpolate(self, node: ScalarNode, path: KeyPath) -> str:
        """Keys of ENV_KEYS keep `${VAR}` as written (checked to be set); elsewhere a reference is an error
        and `$$` writes `$` (see recipe/env.py)."""
        text = str(node.value)
        if tuple(path) in ENV_KEYS:
            for name in unset(text, self.env):
                self._error(
                    node,
                    path,
                    f"environment variable `{name}` is not set",
                    f"export {name}=... or write `${{{name}:-default}}`",
                )
            return text
        for name in names(text):
            self._error(
                node,
                path,
                f"`${{{name}}}`: environment variables are read only in {ALLOWED}",
                "write the value itself; plans are shared (pull-request comments) and never carry "
                "values of the environment",
            )
        return text.replace("$$", "$")
