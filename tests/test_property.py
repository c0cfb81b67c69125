"""Random edits of valid recipes give a plan or positioned problems — never a traceback."""

from __future__ import annotations

import copy
import io
import shutil
from pathlib import Path

from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from modelops.plan.planner import plan_recipe
from modelops.problems import RecipeError

SEEDS = ["qwen2.5-0.5b-sft-ollama.yaml", "activations-forecast.yaml", "qwen2.5-0.5b-pretrain.yaml",
         "deepseek-r1-7b-qlora.yaml"]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _edit(data, path, action, junk, suffix):
    if not path:
        return junk if action == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = junk
    elif action == "rename" and isinstance(parent, dict):
        parent[str(last) + suffix] = parent.pop(last)
    elif action == "add" and isinstance(parent, dict):
        parent[str(last) + suffix + "_x"] = junk
    return data


@settings(max_examples=150, deadline=None, derandomize=True,   # the same examples on every run: CI stays deterministic
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.sampled_from(SEEDS),
    choice=st.integers(0, 10**6),
    action=st.sampled_from(["delete", "replace", "rename", "add"]),
    junk=JUNK,
    suffix=st.text("abz_", min_size=1, max_size=2),
)
def test_random_edits_never_crash(tmp_path_factory, seed, choice, action, junk, suffix):
    work = tmp_path_factory.getbasetemp() / "property"
    if not work.exists():
        shutil.copytree(ROOT / "recipes", work / "recipes")
        shutil.copytree(ROOT / "examples", work / "examples")
    yaml = YAML(typ="safe")
    data = yaml.load((ROOT / "recipes" / seed).read_text(encoding="utf-8"))
    paths = list(_paths(data))
    edited = _edit(copy.deepcopy(data), paths[choice % len(paths)], action, junk, suffix)
    buffer = io.StringIO()
    yaml.dump(edited, buffer)
    target = work / "recipes" / f"edited-{seed}"
    target.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        plan = plan_recipe(target, env={})
    except RecipeError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1 and problem.message
            assert Path(problem.file).name.endswith(".yaml")
    else:
        assert plan.recipes and plan.steps
