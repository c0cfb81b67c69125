"""Conformal prediction intervals: widths from the validation folds' errors per step ahead, coverage
measured with each fold calibrated on the others, given by `predict` and the API."""

from __future__ import annotations

import json

import numpy as np
from conftest import REGRESSION, write
from fastapi.testclient import TestClient

from modelops.forecast.intervals import half_width


def test_the_half_width_is_the_conformal_quantile_of_the_absolute_errors():
    errors = np.array([-5.0, 1.0, -2.0, 3.0, 4.0, -0.5, 0.25, 6.0, -7.0])   # |e| sorted: .25 .5 1 2 3 4 5 6 7
    assert half_width(errors, 50) == 3.0          # rank ceil(10 × 0.5) = 5
    assert half_width(errors, 80) == 6.0          # rank 8
    assert half_width(errors, 95) == 7.0          # rank 10 > 9: the largest


def test_intervals_come_with_every_forecast_and_their_coverage_is_measured(workspace, run_cli):
    text = REGRESSION.replace("validation: {folds: 2}", "validation: {folds: 3}\n  intervals: [50, 90]")
    recipe = write(workspace, "r.yaml", text + "deploy: {target: api}\n")
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    [fit] = (workspace / "runs" / "forecast").glob("fit-*/out")
    metrics = json.loads((fit / "metrics.json").read_text())
    widths = metrics["interval_half_width"]
    assert all(widths["90"][h] >= widths["50"][h] > 0 for h in ("1", "2"))
    assert 0 < metrics["interval_coverage"]["50"] < metrics["interval_coverage"]["90"] <= 1
    code, out, err = run_cli("predict", recipe)
    assert code == 0, err
    header, *rows = [line.split(",") for line in out.splitlines()]
    assert header[-4:] == ["lo_50", "hi_50", "lo_90", "hi_90"]
    for row in rows:
        lo90, lo50, forecast, hi50, hi90 = (float(row[i]) for i in (-2, -4, header.index("forecast"), -3, -1))
        assert lo90 <= lo50 <= forecast <= hi50 <= hi90
    report = (workspace / "runs" / "forecast" / "report.md").read_text()
    summary = report.split("## Summary")[1].split("| step |")[0]          # first: verdicts, then what to run
    assert "% prediction intervals covered" in summary and "beats the naive baselines" in summary
    assert "Next:" in summary and "modelops predict r.yaml" in summary
    from modelops.forecast.server import create_app

    [bundle] = (workspace / "runs" / "forecast").glob("api-*/out/bundle")
    client = TestClient(create_app(bundle))
    recent = (next((workspace / "runs" / "forecast").glob("features-*/out")) / "recent.csv").read_text()
    names = recent.splitlines()[0].split(",")
    body = {"rows": [dict(zip(names, line.split(","), strict=True)) for line in recent.splitlines()[1:]]}
    for row in body["rows"]:
        for key in ("activations", "clicks"):
            row[key] = float(row[key]) if row[key] else None
    answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    first = answer.json()["forecasts"][0]
    assert first["lo_90"] <= first["forecast"] <= first["hi_90"]
