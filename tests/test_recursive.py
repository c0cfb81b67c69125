"""The recursive strategy: one next-step model iterated. Its vectorised iteration must equal the obvious one
(write the forecast into the panel as an observation, rebuild every feature, ask the model again), and it
must run end to end through `apply`, `predict` and the API, chosen by the recipe or by the folds."""

from __future__ import annotations

import json
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from conftest import REGRESSION, ROOT, write
from fastapi.testclient import TestClient

sys.path.insert(0, str(ROOT / "examples" / "forecast"))
from generate import make_panel  # noqa: E402

from modelops.forecast.features import FeatureSpec, build_features, check_frame, horizon_matrix  # noqa: E402
from modelops.forecast.frame import GROUP, TIME, PanelSpec, load_panel  # noqa: E402
from modelops.forecast.recursive import forecast, frame_history, origin_history  # noqa: E402
from modelops.forecast.transforms import invert, transform_inputs, transform_target  # noqa: E402

RECURSIVE = REGRESSION.replace("features: [clicks]", "features: []")


def _panel_and_spec(horizon=4):
    raw = make_panel(5, 24 * 6, 24 * 8, seed=11)
    raw["promo"] = (pd.util.hash_array(raw["period"].to_numpy()) % 3 == 0).astype(int)
    panel_spec = PanelSpec("period", "%Y-%m-%d %H:%M", " - ", "h", "fill", "error", "activations", [],
                           ["user_id", "material_id"], known=["promo"])
    panel, report = load_panel(raw, panel_spec, 12, "panel")
    spec = FeatureSpec("activations", [], ["user_id", "material_id"], [1, 2, 5], horizon, calendar=["hour"],
                       known=["promo"], lag_transforms=[{"type": "rolling_mean", "window": 3, "lag": 2},
                                                        {"type": "rolling_std", "window": 4}])
    spec.frequency = report["frequency"]
    return panel, spec


@pytest.mark.parametrize("transform", ["none", "difference", "changes", "log"])
def test_the_iteration_equals_rebuilding_the_features_after_each_forecast(transform):
    panel, spec = _panel_and_spec()
    frame = build_features(panel, spec)
    labelled = frame["__y_h1"].notna()
    x = transform_inputs(horizon_matrix(frame[labelled], spec, 1), frame[labelled], spec, transform)
    booster = lgb.train({"verbosity": -1, "num_leaves": 7, "seed": 0, "deterministic": True}, lgb.Dataset(
        x, transform_target(frame[labelled], transform, 1)), 40)
    cut = panel[TIME].max() - pd.Timedelta(hours=30)
    origins = frame[frame[TIME] == cut].reset_index(drop=True)
    fast = forecast(origins, origin_history(panel, origins, spec), spec, booster, transform)

    slow = panel.copy()                      # the forecast written in as the next observation, features rebuilt
    slow.loc[slow[TIME] > cut, spec.target] = np.nan
    for h in range(1, spec.horizon + 1):
        rebuilt = build_features(slow, spec, with_targets=False)
        rows = rebuilt[rebuilt[TIME] == cut + pd.Timedelta(hours=h - 1)].reset_index(drop=True)
        predicted = invert(booster.predict(transform_inputs(horizon_matrix(rows, spec, 1), rows, spec, transform)),
                           rows, transform)
        np.testing.assert_allclose(fast[h], predicted, rtol=1e-5)
        at = slow[TIME] == cut + pd.Timedelta(hours=h)
        slow.loc[at, spec.target] = slow.loc[at, GROUP].map(dict(zip(rows[GROUP], predicted, strict=True)))
    assert not np.allclose(fast[1], fast[spec.horizon])          # the steps differ: the history moved on


def test_the_history_from_the_frame_is_the_history_from_the_panel():
    """Also where the frame leaves rows out: before each series' largest lag, and after a blank target."""
    panel, spec = _panel_and_spec()
    panel.loc[40, spec.target] = np.nan
    frame = build_features(panel, spec)
    assert len(frame) < len(panel) - panel[GROUP].nunique() * (max(spec.lags) - 1)
    np.testing.assert_allclose(frame_history(frame, spec, np.arange(len(frame))), origin_history(panel, frame, spec),
                               rtol=1e-6)


def test_a_recursive_recipe_fits_one_model_and_forecasts_through_predict_and_the_api(workspace, run_cli):
    text = RECURSIVE.replace("horizon: 2", "horizon: 3\n  strategy: recursive\n  intervals: [80]")
    recipe = write(workspace, "r.yaml", text + "deploy: {target: api}\n")
    code, out, err = run_cli("plan", recipe)
    assert code == 0 and "one next-step model iterated" in out and "strategy: recursive" in out, out + err
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    [fit] = (workspace / "runs" / "forecast").glob("fit-*/out")
    assert sorted(p.name for p in (fit / "models").iterdir()) == ["forecaster.json", "model_h1.txt"]
    metrics = json.loads((fit / "metrics.json").read_text())
    assert metrics["strategy"] == "recursive" and set(metrics["by_horizon"]) == {"1", "2", "3"}
    assert metrics["beats_naive"] and set(metrics["interval_half_width"]["80"]) == {"1", "2", "3"}
    code, out, err = run_cli("predict", recipe)
    assert code == 0, err
    forecasts = pd.read_csv(pd.io.common.StringIO(out))
    assert sorted(forecasts["step_ahead"].unique()) == [1, 2, 3]
    assert forecasts.groupby(["user_id", "material_id"]).size().eq(3).all()

    from modelops.forecast.server import create_app

    [bundle] = (workspace / "runs" / "forecast").glob("api-*/out/bundle")
    recent = pd.read_csv(next((workspace / "runs" / "forecast").glob("features-*/out")) / "recent.csv")
    rows = json.loads(recent.to_json(orient="records"))
    answer = TestClient(create_app(bundle)).post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    served = pd.DataFrame(answer.json()["forecasts"])
    np.testing.assert_allclose(served["forecast"], forecasts["forecast"], rtol=1e-9)


def test_auto_lets_the_folds_choose_the_strategy_and_says_why(workspace, run_cli):
    recipe = write(workspace, "r.yaml", RECURSIVE.replace("horizon: 2", "horizon: 2\n  strategy: auto"))
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    [fit] = (workspace / "runs" / "forecast").glob("fit-*/out")
    metrics = json.loads((fit / "metrics.json").read_text())
    scores = metrics["strategy_scores"]
    assert set(scores) == {"direct", "recursive"} and metrics["strategy"] == min(scores, key=scores.get)
    assert f"{metrics['strategy']}, `{metrics['target_transform']}`" in metrics["target_transform_reason"]
    forecaster = json.loads((fit / "models" / "forecaster.json").read_text())
    assert forecaster["strategy"] == metrics["strategy"]
    assert len(forecaster["models"]) == (1 if metrics["strategy"] == "recursive" else 2)


def test_recursive_by_default_and_direct_where_lags_of_other_columns_need_it(workspace, run_cli):
    code, out, err = run_cli("plan", write(workspace, "r.yaml", RECURSIVE))
    assert code == 0 and "strategy: recursive (the default)" in out, out + err
    code, out, err = run_cli("plan", write(workspace, "r.yaml", REGRESSION))
    assert code == 0 and "direct (the default would be recursive, but the lags of `clicks` need it)" in out, out
    recipe = write(workspace, "r.yaml", REGRESSION.replace("horizon: 2", "horizon: 2\n  strategy: recursive"))
    code, out, err = run_cli("validate", recipe)
    line = recipe.read_text().splitlines().index("  strategy: recursive") + 1
    assert code == 2 and f"r.yaml:{line}:13: task.strategy:" in err, err          # at the key's value
    assert "`clicks`" in err and "known_features" in err, err
    recipe = write(workspace, "r.yaml", REGRESSION.replace("horizon: 2", "horizon: 2\n  strategy: auto"))
    code, out, err = run_cli("plan", recipe)
    assert code == 0 and "direct (auto, but the lags of `clicks` need it)" in out, out + err


def test_a_feature_frame_from_an_older_version_is_refused_with_the_rebuild_command():
    panel, spec = _panel_and_spec()
    frame = build_features(panel, spec)
    check_frame(frame, spec)
    with pytest.raises(ValueError, match=r"__activations_before5 .*--force features"):
        check_frame(frame.drop(columns=spec.before_column(5)), spec)
