"""GRPO's declared rewards score completions as the recipe says, in TRL's reward-function call (prompts,
completions as strings or messages, the row's columns), and a stranger's pattern cannot stall training."""

from __future__ import annotations

import time

from modelops.lm import rewards


def _said(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_match_compares_the_extracted_answer_with_the_reference_column():
    exact = rewards.match("answer", "exact", r"Answer:\s*(\S+)")
    completions = [_said("<think>2+2</think> Answer: 4"), _said("Answer: 5"), _said("no answer")]
    assert exact([], completions, answer=["4", "4", "4"]) == [1.0, 0.0, 0.0]
    whole = rewards.match("answer", "exact", None)
    assert whole([], ["  4 \n", "4."], answer=[4, 4]) == [1.0, 0.0]                 # trimmed; numbers as text
    pattern = rewards.match("answer", "regex", None)
    assert pattern([], ["Paris", "paris", "Lyon"], answer=["[Pp]aris"] * 3) == [1.0, 1.0, 0.0]


def test_format_and_length_score_the_whole_completion():
    shape = rewards.format_(r"<think>.+</think>\s*Answer:.+")
    assert shape([], [_said("<think>a\nb</think>\nAnswer: 1"), _said("Answer: 1")]) == [1.0, 0.0]  # . spans lines
    assert rewards.length(10)([], ["short", "x" * 10, "x" * 25]) == [0.0, 0.0, -1.5]


def test_a_pattern_that_backtracks_without_end_scores_nothing_quickly():
    evil = rewards.format_(r"(a|aa)+$")
    start = time.monotonic()
    assert evil([], ["a" * 5000 + "b"]) == [0.0]
    assert time.monotonic() - start < 5 * rewards.MATCH_SECONDS + 1


def test_build_keeps_the_recipe_order_and_loads_functions_from_the_planned_module_file(tmp_path):
    module = tmp_path / "mine.py"
    module.write_text("def score(prompts, completions, **columns):\n    return [float(len(c)) for c in completions]\n")
    from pydantic import TypeAdapter

    from modelops.recipe.tasks import Reward

    declared = TypeAdapter(list[Reward]).validate_python([
        {"type": "model", "from": "r.yaml"}, {"type": "function", "function": "mine:score"},
        {"type": "length", "max_chars": 3}])
    built = rewards.build(declared, {"reward-model-0": tmp_path / "scorer", "reward-module-mine": module})
    assert built[0] == str(tmp_path / "scorer") and built[1]([], ["ab"]) == [2.0] and built[2].__name__ == "length"
