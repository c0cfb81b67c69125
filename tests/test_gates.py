"""Gates: conditions on steps' metrics, parsed by a small grammar (never `eval`), positioned in the plan, and
checked by `apply` as soon as their steps finish — a failed gate stops the chain before deploying."""

from __future__ import annotations

import json

import pytest
from conftest import REGRESSION, write

from modelops.gates import GateError, parse

METRICS = {"evaluate": {"perplexity": 12.5}, "fit": {"mae": 1.0, "naive_mae": 2.0},
           "train": {"eval_rewards/accuracies": 0.8, "eval_loss": 1.0, "eval_loss_before": 1.5},
           "quantize-q8_0": {"mib": 3}}


@pytest.mark.parametrize("text, passed, detail", [
    ("evaluate.perplexity < 20", True, "12.5 < 20"),
    ("fit.mae <= 0.9 * fit.naive_mae", True, "1 <= 1.8"),
    ("train.eval_rewards/accuracies >= 0.75", True, "0.8 >= 0.75"),
    ("train.eval_loss < train.eval_loss_before - 0.6", False, "1 < 0.9"),
    ("(fit.mae + fit.naive_mae) / 2 == 1.5", True, "1.5 == 1.5"),
    ("quantize-q8_0.mib < -1e3", False, "3 < -1000"),
    ("evaluate.ppl < 20", False, "evaluate.ppl is not among evaluate's metrics (perplexity)"),
    ("fit.mae / (fit.mae - 1) > 0", False, "divides by zero"),
])
def test_a_gate_compares_metrics_and_numbers(text, passed, detail):
    outcome = parse(text).check(METRICS)
    assert (outcome.passed, outcome.detail) == (passed, detail)


@pytest.mark.parametrize("text, column", [
    ("evaluate < 20", 1), ("evaluate.perplexity", 20), ('__import__("os").system("id") > 1', 12),
    ("fit.mae < 1 1", 13), ("(fit.mae < 2", 1), ("fit.mae ; 2", 9), ("fit.mae < 1 < 2", 13),
])
def test_anything_else_is_refused_with_a_column(text, column):
    with pytest.raises(GateError) as caught:
        parse(text)
    assert caught.value.column == column


def test_bad_gates_are_positioned_plan_errors_and_good_ones_are_in_the_plan(workspace, run_cli):
    recipe = write(workspace, "r.yaml", REGRESSION + 'gates: ["fit.mae < 1", "fitt.mae < 1", "fit.mae <"]\n')
    code, out, err = run_cli("validate", recipe)
    assert code == 2
    assert "r.yaml:14:24: gates[1]: `fitt` is not a step of this recipe" in err and "features, fit" in err
    assert "r.yaml:14:40: gates[2]: not a gate: expected a number or a metric, found the end" in err
    recipe = write(workspace, "r.yaml", REGRESSION + 'gates: ["fit.mae <= 0.9 * fit.naive_mae"]\n')
    code, out, err = run_cli("plan", recipe)
    assert code == 0 and "gate: fit.mae <= 0.9 * fit.naive_mae" in out


def test_a_failed_gate_stops_the_chain_before_the_deploy_and_the_report_says_why(workspace, run_cli):
    text = REGRESSION + "deploy: {target: api}\n"
    recipe = write(workspace, "r.yaml", text + 'gates: ["fit.mae < 0", "features.rows > 10"]\n')
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 1
    assert "gate passed: features.rows > 10" in out and "gate FAILED: fit.mae < 0 (" in err
    assert "stopped after forecast/fit" in err
    state = json.loads((workspace / "runs" / "forecast" / "state.json").read_text())
    assert "fit" in state["steps"] and "api" not in state["steps"]               # nothing deployed
    report = (workspace / "runs" / "forecast" / "report.md").read_text()
    assert "⚠ gate FAILED: fit.mae &lt; 0" in report and "✓ gate passed: features.rows > 10" in report
    recipe = write(workspace, "r.yaml", text + 'gates: ["fit.mae < 1000"]\n')   # fixed: the chain goes on
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    assert "api" in json.loads((workspace / "runs" / "forecast" / "state.json").read_text())["steps"]
