"""`changes` under the direct strategy, as mlforecast's `Differences([1])`: the model of step h predicts the
change into its step, y(t+h) - y(t+h-1), and a forecast is the latest value plus the running sum of the steps'
changes — in the folds' evaluations, in `predict` and in the API alike."""

from __future__ import annotations

import json
import shutil

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from conftest import REGRESSION, write
from fastapi.testclient import TestClient

from modelops.forecast.features import LAST, FeatureSpec, build_features, horizon_matrix
from modelops.forecast.fit import FitConfig, Fitter
from modelops.forecast.fit_count import fit_count
from modelops.forecast.frame import PanelSpec, load_panel
from modelops.forecast.predictor import Forecaster, StaleForecaster
from modelops.forecast.transforms import transform_inputs


def _sawtooth(series=3, length=240):
    """Series climbing by their slope for three hours, then falling back: the change into a step depends on
    its phase alone, the change over three steps on which three."""
    rng = np.random.default_rng(5)
    rows = []
    for s in range(series):
        phase = np.arange(length) + s
        level = 1 + (s + 1) * (phase % 4) + rng.normal(0, 0.01, length)
        times = pd.date_range("2026-01-01", periods=length, freq="h")
        rows.append(pd.DataFrame({"g": f"s{s}", "t": times, "y": level}))
    return pd.concat(rows, ignore_index=True)


def test_each_step_model_predicts_the_change_into_its_step_and_the_folds_score_the_running_sum():
    panel, report = load_panel(_sawtooth(), PanelSpec("t", None, None, "h", "error", "error", "y", [], ["g"]), 8, "saw")
    spec = FeatureSpec("y", [], ["g"], [1, 2, 3, 4], 3, frequency=report["frequency"])
    frame = build_features(panel, spec)
    config = FitConfig({"n_estimators": 80, "num_leaves": 7, "min_child_samples": 5}, 10, None, 2, None, 0, ["mae"],
                       "auto", 0, strategy="direct")
    fitter = Fitter(frame, spec, config, lambda **_: None)
    chosen = fitter.run().transform                   # `changes` is probed at every step, the others at 1 and 3
    assert fitter.done == fitter.total == fit_count(["none", "difference", "changes", "standard", "log"],
                                                    ["direct"], 1, 3, 2, ("direct", chosen))
    assert fit_count(["none", "changes"], ["direct"], 1, 5, 2, ("direct", "changes")) == (2 + 5) * 2 + 5
    config.target_transform = "changes"
    result = Fitter(frame, spec, config, lambda **_: None).run()
    labelled = frame["__y_h3"].notna()
    x = transform_inputs(horizon_matrix(frame[labelled], spec, 3), frame[labelled], spec, "changes")
    answer = result.boosters[3].predict(x)
    into_step = (frame["__y_h3"] - frame["__y_h2"])[labelled].to_numpy()
    whole = (frame["__y_h3"] - frame[LAST])[labelled].to_numpy()
    assert np.abs(answer - into_step).mean() < 0.1 < 1.0 < np.abs(answer - whole).mean()
    for h, evaluation in result.evaluations.items():
        actual = frame[f"__y_h{h}"].to_numpy()[evaluation.rows]
        assert np.isfinite(actual).all() and sum(evaluation.fold_rows) == len(evaluation.rows)
        assert evaluation.score == pytest.approx(np.abs(actual - evaluation.predictions).mean())
        assert evaluation.score < 0.1 * np.abs(actual - frame[LAST].to_numpy()[evaluation.rows]).mean()


def test_direct_changes_forecast_through_apply_predict_and_the_api(workspace, run_cli):
    text = REGRESSION.replace("horizon: 2", "horizon: 3\n  target_transform: changes")
    recipe = write(workspace, "r.yaml", text + "deploy: {target: api}\n")
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    [fit] = (workspace / "runs" / "forecast").glob("fit-*/out")
    forecaster = json.loads((fit / "models" / "forecaster.json").read_text())
    assert (forecaster["strategy"], forecaster["transform"], forecaster["format"]) == ("direct", "changes", 2)
    code, out, err = run_cli("predict", recipe)
    assert code == 0, err
    forecasts = pd.read_csv(pd.io.common.StringIO(out))

    features = next((workspace / "runs" / "forecast").glob("features-*/out"))
    preprocessing = json.loads((features / "preprocessing.json").read_text())
    spec, panel_spec = FeatureSpec(**preprocessing["features"]), PanelSpec(**preprocessing["panel"])
    panel, _ = load_panel(pd.read_csv(features / "recent.csv", dtype=str), panel_spec, 1, "recent")
    origins = build_features(panel, spec, with_targets=False).groupby("__group").tail(1).reset_index(drop=True)
    running = origins[LAST].to_numpy(dtype="float64")
    for h in (1, 2, 3):                                  # the latest value plus each step model's change, summed
        booster = lgb.Booster(model_file=str(fit / "models" / f"model_h{h}.txt"))
        running = running + booster.predict(transform_inputs(horizon_matrix(origins, spec, h), origins, spec,
                                                             "changes"))
        step = forecasts[forecasts["step_ahead"] == h].sort_values(["user_id", "material_id"])
        expected = pd.DataFrame({"user_id": origins["user_id"].astype(str),
                                 "material_id": origins["material_id"].astype(str), "f": running})
        merged = step.astype({"user_id": str, "material_id": str}).merge(expected, on=["user_id", "material_id"])
        assert len(merged) == len(origins)
        np.testing.assert_allclose(merged["forecast"], merged["f"], rtol=1e-6)

    from modelops.forecast.server import create_app

    [bundle] = (workspace / "runs" / "forecast").glob("api-*/out/bundle")
    rows = json.loads(pd.read_csv(features / "recent.csv").to_json(orient="records"))
    answer = TestClient(create_app(bundle)).post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(pd.DataFrame(answer.json()["forecasts"])["forecast"], forecasts["forecast"],
                               rtol=1e-9)

    older = {key: value for key, value in forecaster.items() if key != "format"}   # models that predicted y(t+h) - y(t)
    stale = workspace / "stale"
    shutil.copytree(fit / "models", stale)
    (stale / "forecaster.json").write_text(json.dumps(older))
    with pytest.raises(StaleForecaster, match=r"fitted by an older modelops.*--force fit"):
        Forecaster(stale)
