"""Plan-time checks of a GRPO recipe's rewards and sampling: patterns that compile (with the same `regex`
module and flags the runner matches with), completions that fit `max_length`, a batch of whole prompt groups,
and user functions said out loud as code that will run."""

from __future__ import annotations

from modelops.problems import Problem
from modelops.recipe.loader import LoadedRecipe
from modelops.recipe.tasks import FormatReward, FunctionReward, GrpoTask, MatchReward


def check_rewards(loaded: LoadedRecipe, task: GrpoTask) -> list[Problem]:
    import regex

    problems = []
    for i, reward in enumerate(task.rewards):
        key = ("task", "rewards", i)
        patterns = {"pattern": reward.pattern} if isinstance(reward, FormatReward) else \
            {"extract": reward.extract} if isinstance(reward, MatchReward) and reward.extract else {}
        for field, pattern in patterns.items():
            try:
                regex.compile(pattern, flags=regex.DOTALL)
            except regex.error as exc:
                problems.append(loaded.problem(key + (field,), f"not a valid pattern: {exc}",
                                               "Python regular-expression syntax (the `regex` module)"))
        if isinstance(reward, FunctionReward):
            problems.append(loaded.problem(
                key + ("function",), f"`{reward.function}` is code that will run on this machine during training",
                "read that function before applying; prefer match, format, length or model rewards",
                severity="warning"))
    if task.batch_size % task.generation.per_prompt:
        problems.append(loaded.problem(
            ("task", "batch_size"),
            f"batch {task.batch_size} is not whole groups of {task.generation.per_prompt} completions per prompt",
            f"use a multiple of `generation.per_prompt` ({task.generation.per_prompt})"))
    if task.generation.max_tokens >= task.max_length:
        problems.append(loaded.problem(
            ("task", "generation", "max_tokens"),
            f"completions of {task.generation.max_tokens} tokens leave no room for the prompt in "
            f"`max_length` {task.max_length}", "raise `max_length` or lower `generation.max_tokens`"))
    return problems
