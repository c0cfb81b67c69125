"""The exported JSON Schema: every example validates against it, and the checked-in copy is current."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import RECIPES, ROOT

from modelops.recipe.yaml_source import parse_yaml


@pytest.fixture(scope="module")
def schema() -> dict:
    from modelops.recipe.schema import recipe_json_schema

    return recipe_json_schema()


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_examples_validate_against_the_schema(schema, recipe):
    data = parse_yaml(recipe.read_text(encoding="utf-8"), recipe.name, {}).data
    jsonschema.Draft202012Validator(schema).validate(data)


def test_schema_rejects_what_the_loader_rejects(schema):
    validator = jsonschema.Draft202012Validator(schema)
    bad = {"version": 1, "name": "x", "data": {"train": {"path": "a"}}, "task": {"kind": "sft", "learning_rat": 1}}
    assert list(validator.iter_errors(bad))


def test_every_field_is_documented(schema):
    undocumented = []

    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if "description" not in prop and name not in ("kind",):
                    undocumented.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema, "")
    assert not undocumented


def test_checked_in_schema_is_current(run_cli):
    code, out, _ = run_cli("schema")
    assert code == 0
    assert json.loads(out) == json.loads((ROOT / "docs" / "recipe.schema.json").read_text(encoding="utf-8")), \
        "regenerate with: modelops schema -o docs/recipe.schema.json"


def test_recipe_reference_is_current():
    """docs/recipe-reference.md is generated; regenerate it with `modelops docs` when the schema moves."""
    from modelops.recipe.reference import recipe_reference

    assert (ROOT / "docs" / "recipe-reference.md").read_text(encoding="utf-8") == recipe_reference(), \
        "docs/recipe-reference.md is stale: run `modelops docs`"
