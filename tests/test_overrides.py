"""`--set KEY=VALUE` on validate, plan and apply: typed by the schema, errors positioned at the override,
shown in the plan and carried by a saved plan."""

from __future__ import annotations

import json

from conftest import SFT, write


def test_an_override_changes_the_plan_and_is_shown_in_it(workspace, run_cli):
    recipe = write(workspace, "sft.yaml", SFT)
    code, plain, _ = run_cli("plan", recipe, "-f", "json")
    code, out, err = run_cli("plan", recipe, "-f", "json", "--set", "task.learning_rate=1e-4",
                             "--set", "task.adapter={type: lora, r: 4}")
    assert code == 0, err
    [train] = [s for s in json.loads(out)["recipes"][-1]["steps"] if s["kind"] == "train_sft"]
    assert train["params"]["task"]["learning_rate"] == 1e-4 and train["params"]["task"]["adapter"]["r"] == 4
    assert json.loads(out)["recipes"][-1]["overrides"] == ["task.learning_rate=1e-4", "task.adapter={type: lora, r: 4}"]
    assert json.loads(plain)["recipes"][-1]["overrides"] == []
    code, text, _ = run_cli("plan", recipe, "--set", "hardware=a10x2")
    assert "override: --set hardware=a10x2" in text and "NVIDIA A10" in text


def test_a_bad_override_is_a_positioned_error_at_the_override(workspace, run_cli):
    recipe = write(workspace, "sft.yaml", SFT)
    code, out, err = run_cli("validate", recipe, "--set", "task.learning_rate=abc", "--set", "task.epoch=2")
    assert code == 2
    assert "--set task.epoch=2:1:18: task.epoch: unknown key `epoch`" in err and "did you mean `epochs`?" in err
    assert "--set task.learning_rate=abc:1:26: task.learning_rate:" in err and "valid number" in err
    for bad, message in (("x", "not an override"), ("task.batch_size=[1", "not a YAML value"),
                         ("data.train.path=${HOME}", "environment variables are read only in"),
                         ("deploy.quantize[3]=q8_0", "no such place in the recipe"),
                         ("model.base=!!python/object:os.system x", "is not allowed in a recipe")):
        code, out, err = run_cli("validate", recipe, "--set", bad)
        assert code == 2 and message in err and f"--set {bad}" in err, (bad, err)


def test_overrides_apply_to_the_named_recipe_only_and_travel_with_a_saved_plan(workspace, run_cli):
    write(workspace, "base.yaml", SFT.replace("name: demo", "name: upstream"))
    downstream = SFT.replace("name: demo", "name: downstream").replace(
        "base: Qwen/Qwen2.5-0.5B-Instruct", "base: {from: base.yaml}")
    recipe = write(workspace, "sft.yaml", downstream)
    code, out, err = run_cli("plan", recipe, "-f", "json", "--set", "task.learning_rate=1e-3",
                             "--out", workspace / "plan.json")
    assert code == 0, err
    rates = {r["name"]: next(s for s in r["steps"] if s["kind"] == "train_sft")["params"]["task"]["learning_rate"]
             for r in json.loads(out)["recipes"]}
    assert rates == {"upstream": 2e-4, "downstream": 1e-3}
    code, out, err = run_cli("apply", workspace / "plan.json", "--dry-run")
    assert code == 0 and "is stale" not in err, err            # re-planned with the overrides it was saved with
    code, out, err = run_cli("apply", workspace / "plan.json", "--dry-run", "--set", "seed=3")
    assert code == 2 and "saved plan" in err
