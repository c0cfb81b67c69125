"""Gates: conditions on the metrics steps record, declared in a recipe (`gates: ["evaluate.perplexity < 20",
"fit.mae <= 0.9 * fit.naive_mae"]`) and checked as soon as every step they name has finished, so that a
model that is not good enough stops the chain before it is deployed.

A gate compares two arithmetic expressions over numbers and metric paths — a step of the recipe, then keys
into its metrics.json (`parity.top1_q4_k_m`, `train.eval_rewards/accuracies`). Recipes come from strangers,
so gates are parsed here by a small grammar and computed by walking the parsed tree; recipe text is never
handed to Python's `eval`. Write `-` and `/` with spaces around them between names (`a - b`): inside a name
they belong to it (`quantize-q8_0`, `eval_rewards/margins`)."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

TOKEN = re.compile(r"""\s*(?:
    (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<path>[A-Za-z_][\w-]*(?:[./][\w-]+)*)
  | (?P<op><=|>=|==|!=|<|>|[-+*/()])
)""", re.VERBOSE)
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class GateError(ValueError):
    """A gate that does not parse; `column` is 1-based within the gate's text."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Metric:
    step: str
    keys: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.step, *self.keys))


@dataclass(frozen=True)
class Operation:
    op: str
    left: "Expression"
    right: "Expression"


Expression = Union[float, Metric, Operation]


@dataclass(frozen=True)
class Gate:
    text: str
    left: Expression
    op: str
    right: Expression

    @property
    def steps(self) -> set[str]:
        return _steps(self.left) | _steps(self.right)

    def check(self, metrics: dict[str, dict[str, Any]]) -> "Outcome":
        """The outcome given each finished step's metrics (by short step id)."""
        try:
            left, right = _value(self.left, metrics), _value(self.right, metrics)
        except LookupError as exc:
            return Outcome(self, False, str(exc).strip("'\""))
        except ZeroDivisionError:
            return Outcome(self, False, "divides by zero")
        passed = COMPARISONS[self.op](left, right)
        return Outcome(self, passed, f"{_number(left)} {self.op} {_number(right)}")


@dataclass(frozen=True)
class Outcome:
    gate: Gate
    passed: bool
    detail: str        # the numbers compared, or why it could not be decided

    def __str__(self) -> str:
        return f"gate {'passed' if self.passed else 'FAILED'}: {self.gate.text} ({self.detail})"


def parse(text: str) -> Gate:
    tokens, at = _tokens(text), 0

    def peek() -> tuple[str, str, int]:
        return tokens[at] if at < len(tokens) else ("end", "", len(text) + 1)

    def take() -> tuple[str, str, int]:
        nonlocal at
        at += 1
        return tokens[at - 1]

    def expression() -> Expression:
        node = term()
        while peek()[1] in ("+", "-"):
            op = take()[1]
            node = Operation(op, node, term())
        return node

    def term() -> Expression:
        node = factor()
        while peek()[1] in ("*", "/"):
            op = take()[1]
            node = Operation(op, node, factor())
        return node

    def factor() -> Expression:
        kind, value, column = peek()
        if kind != "end":
            take()
        if kind == "number":
            return float(value)
        if kind == "path":
            step, *keys = value.split(".")
            if not keys:
                raise GateError(f"`{value}` names no metric: write STEP.METRIC (e.g. evaluate.perplexity)", column)
            return Metric(step, tuple(keys))
        if value == "-":
            return Operation("-", 0.0, factor())
        if value == "(":
            node = expression()
            if peek()[1] != ")":
                raise GateError("a `(` is not closed", column)
            take()
            return node
        raise GateError(f"expected a number or a metric, found {_shown(value)}", column)

    left = expression()
    kind, op, column = peek()
    if op not in COMPARISONS:
        raise GateError(f"expected a comparison (<, <=, >, >=, ==, !=), found {_shown(op)}", column)
    take()
    right = expression()
    if at < len(tokens):
        raise GateError(f"unexpected {_shown(tokens[at][1])} after the comparison", tokens[at][2])
    return Gate(text, left, op, right)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    found, position = [], 0
    while text[position:].strip():
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise GateError(f"unexpected {_shown(text[column - 1])}", column)
        kind = match.lastgroup
        found.append((kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return found


def _shown(value: str) -> str:
    return f"`{value}`" if value else "the end"


def _steps(node: Expression) -> set[str]:
    if isinstance(node, Metric):
        return {node.step}
    if isinstance(node, Operation):
        return _steps(node.left) | _steps(node.right)
    return set()


def _value(node: Expression, metrics: dict[str, dict[str, Any]]) -> float:
    if isinstance(node, Operation):
        return ARITHMETIC[node.op](_value(node.left, metrics), _value(node.right, metrics))
    if not isinstance(node, Metric):
        return node
    value: Any = metrics[node.step]
    for key in node.keys:
        if not isinstance(value, dict) or key not in value:
            known = ", ".join(sorted(k for k, v in value.items() if not isinstance(v, (list, str))))[:300] \
                if isinstance(value, dict) else ""
            raise LookupError(f"{node} is not among {node.step}'s metrics" + (f" ({known})" if known else ""))
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise LookupError(f"{node} is not a number ({value!r})")
    return float(value)


def _number(value: float) -> str:
    return f"{value:.6g}"
