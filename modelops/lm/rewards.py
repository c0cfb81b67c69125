"""GRPO's reward functions, built from the recipe's declarations (`task.rewards`): a reference-answer
match, a format pattern, a length penalty, a reward model another recipe trained, or the user's own
`module:function`. Each takes TRL's reward-function call — prompts, completions and the data row's
columns — and returns one score per completion. Patterns come from recipes and data that strangers write,
so they are matched with a time limit (the `regex` module's timeout): a pattern that backtracks without
end scores 0 instead of stalling training."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import regex

from modelops.recipe.tasks import FormatReward, FunctionReward, LengthReward, MatchReward, ModelReward, Reward

MATCH_SECONDS = 0.2
RewardFunction = Callable[..., list[float]]


def text_of(completion: Any) -> str:
    """A completion's text: TRL passes strings for plain prompts and lists of messages for conversations."""
    return completion if isinstance(completion, str) else "".join(m["content"] for m in completion)


def _fullmatch(pattern: str, text: str) -> bool:
    try:
        return regex.fullmatch(pattern, text, flags=regex.DOTALL, timeout=MATCH_SECONDS) is not None
    except (TimeoutError, regex.error):
        return False


def _extracted(pattern: str | None, text: str) -> str | None:
    if pattern is None:
        return text.strip()
    try:
        found = regex.search(pattern, text, flags=regex.DOTALL, timeout=MATCH_SECONDS)
    except TimeoutError:
        return None
    if found is None:
        return None
    return (found.group(1) if found.re.groups else found.group(0)).strip()


def _named(function: RewardFunction, name: str) -> RewardFunction:
    function.__name__ = name   # TRL logs each reward as rewards/<name>/mean
    return function


def match(column: str, mode: str, extract: str | None) -> RewardFunction:
    def score(prompts, completions, **columns) -> list[float]:
        scores = []
        for completion, reference in zip(completions, columns[column], strict=True):
            answer, reference = _extracted(extract, text_of(completion)), str(reference).strip()
            if answer is None:
                scores.append(0.0)
            elif mode == "exact":
                scores.append(float(answer == reference))
            else:
                scores.append(float(_fullmatch(reference, answer)))
        return scores

    return _named(score, f"match_{column}")


def format_(pattern: str) -> RewardFunction:
    def score(prompts, completions, **columns) -> list[float]:
        return [float(_fullmatch(pattern, text_of(c))) for c in completions]

    return _named(score, "format")


def length(max_chars: int) -> RewardFunction:
    def score(prompts, completions, **columns) -> list[float]:
        return [-max(0, len(text_of(c)) - max_chars) / max_chars for c in completions]

    return _named(score, "length")


def function(reference: str, modules: dict[str, Path]) -> RewardFunction:
    """The user's `module:function`: from the module file the plan made an input of the step, else installed."""
    module_name, name = reference.split(":")
    if module_name in modules:
        spec = importlib.util.spec_from_file_location(module_name, modules[module_name])
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, name)


def build(rewards: list[Reward], inputs: dict[str, Path]) -> list[RewardFunction | str]:
    """TRL's `reward_funcs`, in the recipe's order: callables, and reward models as folders (TRL loads them as
    sequence classifiers with their own tokenizer). Inputs named `reward-model-<i>` are the reward models;
    `reward-module-<module>` the user's module files."""
    modules = {name.removeprefix("reward-module-"): path for name, path in inputs.items()
               if name.startswith("reward-module-")}
    built: list[RewardFunction | str] = []
    for i, reward in enumerate(rewards):
        if isinstance(reward, MatchReward):
            built.append(match(reward.column, reward.mode, reward.extract))
        elif isinstance(reward, FormatReward):
            built.append(format_(reward.pattern))
        elif isinstance(reward, LengthReward):
            built.append(length(reward.max_chars))
        elif isinstance(reward, ModelReward):
            built.append(str(inputs[f"reward-model-{i}"]))
        elif isinstance(reward, FunctionReward):
            built.append(function(reward.function, modules))
        else:
            raise ValueError(f"unknown reward `{reward}`")
    return built
