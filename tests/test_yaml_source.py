"""Reading YAML: positions, refused constructs, environment interpolation."""

from __future__ import annotations

import pytest

from modelops.problems import RecipeError
from modelops.recipe.yaml_source import parse_yaml


def problems_of(text: str, env: dict | None = None):
    with pytest.raises(RecipeError) as info:
        parse_yaml(text, "r.yaml", env or {})
    return info.value.problems


def test_positions_of_keys_values_and_items():
    source = parse_yaml("a:\n  b: 1\n  c: [x, y]\n", "r.yaml", {})
    assert source.data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert source.positions.of_key(("a", "b")) == (2, 3)
    assert source.positions.of_value(("a", "b")) == (2, 6)
    assert source.positions.of_value(("a", "c", 1)) == (3, 10)
    assert source.positions.of_key(("a", "missing")) == (1, 1)


def test_duplicate_key_names_both_lines():
    [problem] = problems_of("name: a\nseed: 1\nname: b\n")
    assert (problem.line, problem.col, problem.key) == (3, 1, "name")
    assert "first written at line 1" in problem.message


def test_tab_indentation_is_positioned_with_a_hint():
    [problem] = problems_of("data:\n\ttrain: x\n")
    assert problem.line == 2 and "tab" in problem.hint


def test_syntax_error_is_positioned():
    [problem] = problems_of("a: [1, 2\nb: 3\n")
    assert problem.line >= 2 and problem.message.startswith("YAML syntax error")


@pytest.mark.parametrize("text", ["a: !!python/object:os.system {}\n", "a: !!python/name:os.system ''\n",
                                  "a: !custom 3\n", "a: !!binary aGVsbG8=\n"[:0] + "a: !!set {x}\n"])
def test_tags_are_refused(text):
    [problem] = problems_of(text)
    assert (problem.line, problem.key) == (1, "a") and "tag" in problem.message


def test_environment_references_stay_as_written_where_allowed_and_are_refused_elsewhere():
    text = "hardware: {scheduler: '${SCHED}'}\ndeploy:\n  ollama: {host: '${OLLAMA:-http://h:1}'}\nc: $${KEEP}\n"
    source = parse_yaml(text, "r.yaml", {"SCHED": "tcp://secret:8786"})
    assert source.data == {"hardware": {"scheduler": "${SCHED}"}, "deploy": {"ollama": {"host": "${OLLAMA:-http://h:1}"}},
                           "c": "${KEEP}"}
    [problem] = problems_of("name: x\nmodel:\n  base: ${BASE_MODEL}\n")
    assert (problem.line, problem.col, problem.key) == (3, 9, "model.base")
    assert "`${BASE_MODEL}`" in problem.message and "hardware.scheduler" in problem.message


def test_unset_environment_variable_is_named():
    [problem] = problems_of("hardware:\n  scheduler: ${NO_SUCH_SCHEDULER}\n")
    assert (problem.line, problem.key) == (2, "hardware.scheduler")
    assert "NO_SUCH_SCHEDULER" in problem.message and "not set" in problem.message


def test_runners_expand_references_when_the_step_runs():
    from modelops.recipe.env import expand

    assert expand("tcp://${H}:${P:-8786}/$$x", {"H": "node1"}) == "tcp://node1:8786/$x"
    assert expand(None) is None


def test_merge_keys_expand_with_own_keys_winning():
    source = parse_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n", "r.yaml", {})
    assert source.data["other"] == {"y": 3, "x": 1}


def test_non_mapping_recipe():
    [problem] = problems_of("- a\n- b\n")
    assert "mapping" in problem.message
