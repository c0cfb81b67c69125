"""`modelops validate`: every problem at once, each with file:line:col, key and a hint."""

from __future__ import annotations

import json

from conftest import RECIPES, REGRESSION, SFT, write


def test_checked_in_recipes_are_valid(run_cli):
    code, _, err = run_cli("validate", *RECIPES)
    assert code == 0, err


def test_misspelt_key_points_at_it_with_a_suggestion(run_cli, workspace):
    path = write(workspace, "r.yaml", SFT.replace("batch_size: 8", "learning_rat: 1e-4"))
    code, _, err = run_cli("validate", path)
    assert code == 2
    assert "r.yaml:9:3: task.learning_rat: unknown key `learning_rat`" in err
    assert "did you mean `learning_rate`?" in err


def test_all_errors_reported_at_once(run_cli, workspace):
    text = SFT.replace("format: messages", "formt: messages").replace("kind: sft", "kind: sft\n  epochs: -1") \
        .replace("hardware: cpu", "hardware: cpu\ndeploy: {target: olama}")
    code, out, _ = run_cli("validate", write(workspace, "r.yaml", text), "--format", "json")
    assert code == 2
    found = {(p["key"], p["line"], p["col"]) for p in json.loads(out)}
    assert found == {("data.train.formt", 4, 28), ("task.epochs", 9, 11), ("deploy.target", 12, 18)}


def test_github_annotations(run_cli, workspace):
    path = write(workspace, "r.yaml", SFT.replace("kind: sft", "kind: sftt"))
    code, out, _ = run_cli("validate", path, "--format", "github")
    assert code == 2
    assert out.startswith("::error file=r.yaml,line=8,col=9::task.kind: unknown task kind `sftt` (did you mean `sft`?)")


def test_missing_required_key_points_at_parent(run_cli, workspace):
    path = write(
        workspace, "r.yaml", SFT.replace("  train: {path: sft.jsonl, format: messages}\n", "  clean: {strip: true}\n")
    )
    code, _, err = run_cli("validate", path)
    assert code == 2 and "r.yaml:3:1: data: required key `train` is missing" in err


def test_literal_and_type_errors(run_cli, workspace):
    text = SFT.replace("batch_size: 8", "batch_size: many\n  adapter: {type: lorra}")
    code, _, err = run_cli("validate", write(workspace, "r.yaml", text))
    assert code == 2
    assert "task.batch_size: Input should be a valid integer" in err and "(got `many`)" in err
    assert "task.adapter.type: `lorra` is not allowed here" in err and "did you mean `lora`" in err


def test_missing_kind_and_cross_field_rules(run_cli, workspace):
    code, _, err = run_cli("validate", write(workspace, "r.yaml", SFT.replace("kind: sft", "epochs: 1")))
    assert code == 2 and "task: `kind` is missing" in err
    text = SFT.replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: Qwen/Qwen2.5-0.5B-Instruct\n  init: {}")
    code, _, err = run_cli("validate", write(workspace, "r2.yaml", text))
    assert code == 2 and "r2.yaml:5:1: model: give exactly one of `base`" in err


def test_unreadable_and_missing_files(run_cli, workspace):
    code, _, err = run_cli("validate", workspace / "nope.yaml")
    assert code == 2 and "recipe file not found" in err


def test_warnings_do_not_fail(run_cli, workspace):
    text = SFT.replace(
        "base: Qwen/Qwen2.5-0.5B-Instruct", "base: Qwen/Qwen2.5-0.5B-Instruct\n  trust_remote_code: true"
    )
    code, _, err = run_cli("validate", write(workspace, "r.yaml", text))
    assert code == 0 and "warning: model.trust_remote_code" in err


def test_python_dash_m_matches_console_script(workspace):
    import subprocess
    import sys

    path = write(workspace, "r.yaml", SFT.replace("kind: sft", "kind: sftt"))
    result = subprocess.run([sys.executable, "-m", "modelops", "validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown task kind `sftt`" in result.stderr


def test_names_other_tools_use_point_at_the_allowed_value_and_indentation_errors_get_a_hint(run_cli, workspace):
    from conftest import REGRESSION

    path = write(workspace, "r.yaml", REGRESSION.replace("horizon: 2", "horizon: 2\n  calendar: [hour, weekday]"))
    code, _, err = run_cli("validate", path)
    assert code == 2 and "task.calendar[1]: `weekday`" in err and "did you mean `dayofweek`?" in err
    path = write(workspace, "r.yaml", REGRESSION.replace("  time: {", "   time: {"))
    code, _, err = run_cli("validate", path)
    assert code == 2 and "r.yaml:5:4" in err and "check the indentation" in err


def test_folders_of_recipes_validate_and_several_recipes_plan(run_cli, workspace):
    from conftest import ROOT

    code, _, err = run_cli("validate", ROOT / "recipes", ROOT / "examples" / "tiny-zh")
    assert code == 0 and "recipe(s) valid" in err
    first, second = (
        write(workspace, "a.yaml", SFT),
        write(workspace, "b.yaml", SFT.replace("name: demo", "name: other")),
    )
    code, out, _ = run_cli("plan", first, second)
    assert code == 0 and f"== {first}" in out and "recipe other" in out
    assert run_cli("plan", first, second, "--format", "json")[0] == 2
    assert run_cli("validate", workspace / "empty-folder-that-is-missing")[0] == 2


def test_a_typo_does_not_hide_the_semantic_problems_of_the_rest(run_cli, workspace):
    from conftest import REGRESSION

    text = REGRESSION.replace("path: table.csv", "path: missing.csv").replace("horizon: 2", "horizn: 2")
    code, _, err = run_cli("validate", write(workspace, "r.yaml", text))
    assert code == 2 and "unknown key `horizn`" in err and "data file not found: missing.csv" in err
    text = REGRESSION.replace("target: activations", "target: nope").replace("folds: 2", "folds: 0")
    code, _, err = run_cli("validate", write(workspace, "r.yaml", text))
    assert code == 2 and "task.validation.folds" in err and "nope" in err


def test_rolling_windows_count_toward_the_history_a_series_needs(run_cli, workspace):
    """The features step needs history + horizon + 1 rows per series (lags or a rolling window ending a step
    back); the plan applies the same rule, so a window longer than the data is a plan error, not a failed run."""
    recipe = REGRESSION.replace("horizon: 2", "horizon: 2\n  lag_transforms: [{type: rolling_mean, window: 47}]")
    code, _, err = run_cli("validate", write(workspace, "r.yaml", recipe))
    assert code == 2 and "task.window" in err and "reaching 47 steps back plus horizon 2 need at least 50" in err
    assert "the data has 48" in err


def test_boosting_rounds_must_be_a_count(run_cli, workspace):
    """A blank or textual `n_estimators` (found by the random-edit property test) is a positioned error, not a
    crash in the plan's time estimate."""
    from conftest import REGRESSION, write

    for model in ("model: {params: {n_estimators: ''}}", "search: {grid: {n_estimators: [100, x]}}"):
        recipe = write(workspace, "r.yaml", REGRESSION + "  " + model + "\n")
        code, _, err = run_cli("validate", recipe)
        assert code == 2 and "r.yaml:14:" in err and "`n_estimators` must be a whole number" in err, err
