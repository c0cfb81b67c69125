"""modelops forecasting vs mlforecast on the same data, lags, LightGBM parameters and validation windows.

For each of N_WINDOWS cutoffs (the last H * N_WINDOWS hours, H apart, as mlforecast's cross_validation
makes them), each tool trains on the data up to the cutoff and forecasts the next H hours of every series
directly (one model per step ahead). Reported: MAE over all windows, wall time, and the naive baselines.
Run: .venv/bin/python benchmarks/forecast_vs_mlforecast.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "forecast"))

from generate import make_panel  # noqa: E402

from modelops.forecast.features import FeatureSpec, build_features  # noqa: E402
from modelops.forecast.fit import FitConfig, Fitter  # noqa: E402
from modelops.forecast.frame import GROUP, PanelSpec, load_panel  # noqa: E402
from modelops.forecast.predictor import forecast_latest  # noqa: E402

H, N_WINDOWS, LAGS, SEASON = 6, 3, [1, 2, 3, 6, 12, 24], 24
PARAMS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20}
DATASETS = {  # name: (series, min hours, max hours, seed)
    "hourly, 100 series of 20-30 days": (100, 24 * 20, 24 * 30, 1),
    "hourly, 300 series of 10-15 days": (300, 24 * 10, 24 * 15, 2),
}


def long_form(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": raw["user_id"] + "/" + raw["material_id"],
                         "ds": pd.to_datetime(raw["period"].str.slice(0, 16)), "y": raw["activations"].astype(float)})


def fill(df: pd.DataFrame) -> pd.DataFrame:
    """Both tools get the same complete hourly grid (missing hours forward-filled), every series ending at the
    same hour so that both place the validation windows at the same times."""
    full = df.set_index("ds").groupby("unique_id")["y"].resample("h").last().groupby(level=0).ffill().reset_index()
    ends = full.groupby("unique_id")["ds"].transform("max")
    return full[ends == full["ds"].max()].reset_index(drop=True)


def run_mlforecast(df: pd.DataFrame, differences: bool) -> tuple[pd.DataFrame, float]:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.target_transforms import Differences

    model = lgb.LGBMRegressor(**PARAMS, verbosity=-1, random_state=0)
    forecaster = MLForecast(models={"lgb": model}, freq="h", lags=LAGS, date_features=["hour", "dayofweek"],
                            target_transforms=[Differences([1])] if differences else None)
    started = time.perf_counter()
    cv = forecaster.cross_validation(df, n_windows=N_WINDOWS, h=H, step_size=H, max_horizon=H)
    return cv.rename(columns={"lgb": "forecast"}), time.perf_counter() - started


def run_modelops(df: pd.DataFrame, transform: str = "auto") -> tuple[pd.DataFrame, float]:
    panel_spec = PanelSpec("ds", None, None, "h", "error", "error", "y", [], ["unique_id"])
    feature_spec = FeatureSpec("y", [], ["unique_id"], LAGS, H, calendar=["hour", "dayofweek"], season=SEASON)
    config = FitConfig(PARAMS, 50, None, 2, None, 0, ["mae"], transform, 0)
    cutoffs = sorted(df["ds"].unique())[-H * N_WINDOWS - 1::H][:N_WINDOWS]
    started, results = time.perf_counter(), []
    for cutoff in cutoffs:
        panel, report = load_panel(df[df["ds"] <= cutoff], panel_spec, max(LAGS) + H, "bench")
        feature_spec.frequency = report["frequency"]
        frame = build_features(panel, feature_spec)
        fit = Fitter(frame, feature_spec, config, lambda **_: None).run()
        origins = build_features(panel, feature_spec, with_targets=False).groupby(GROUP).tail(1)
        forecasts = forecast_latest(origins, feature_spec, fit.boosters, fit.transform, "%Y-%m-%d %H:%M:%S")
        forecasts["ds"] = pd.to_datetime(forecasts["time"])
        results.append(forecasts.assign(cutoff=cutoff, chosen=fit.transform))
    return pd.concat(results), time.perf_counter() - started


def naive(df: pd.DataFrame, cv: pd.DataFrame) -> dict[str, float]:
    indexed = df.set_index(["unique_id", "ds"])["y"]
    last = indexed.reindex(pd.MultiIndex.from_arrays([cv["unique_id"], cv["cutoff"]])).to_numpy()
    back = cv["ds"] - pd.to_timedelta(
        SEASON * np.ceil((cv["ds"] - cv["cutoff"]) / pd.Timedelta(hours=SEASON)), unit="h"
    )
    seasonal = indexed.reindex(pd.MultiIndex.from_arrays([cv["unique_id"], back])).to_numpy()
    return {
        "naive": float(np.nanmean(np.abs(last - cv["y"]))),
        "seasonal naive": float(np.nanmean(np.abs(seasonal - cv["y"]))),
    }


def main() -> None:
    rows = []
    for name, (series, low, high, seed) in DATASETS.items():
        df = fill(long_form(make_panel(series, low, high, seed=seed)))
        ml_raw, t_raw = run_mlforecast(df, differences=False)
        ml_diff, t_diff = run_mlforecast(df, differences=True)
        ours, t_ours = run_modelops(df)
        chosen = ours["chosen"].iloc[-1]
        pinned, t_pinned = run_modelops(df, chosen)
        merged = ours.merge(ml_raw[["unique_id", "ds", "cutoff", "y"]], on=["unique_id", "ds"], how="inner")
        assert len(merged) == len(ml_raw), "both tools must forecast the same points"
        mae = {
            "mlforecast raw lags": float(np.mean(np.abs(ml_raw["forecast"] - ml_raw["y"]))),
            "mlforecast Differences([1])": float(np.mean(np.abs(ml_diff["forecast"] - ml_diff["y"]))),
            "modelops defaults": float(np.mean(np.abs(merged["forecast"] - merged["y"]))),
        }
        merged_pinned = pinned.merge(ml_raw[["unique_id", "ds", "y"]], on=["unique_id", "ds"])
        mae[f"modelops, transform pinned to `{chosen}`"] = float(
            np.mean(np.abs(merged_pinned["forecast"] - merged_pinned["y"]))
        )
        mae |= naive(df, ml_raw)
        best_ml = min(mae["mlforecast raw lags"], mae["mlforecast Differences([1])"])
        rows.append(
            (
                name,
                len(df),
                mae,
                {
                    "mlforecast raw lags": t_raw,
                    "mlforecast Differences([1])": t_diff,
                    "modelops defaults": t_ours,
                    f"modelops, transform pinned to `{chosen}`": t_pinned,
                },
                mae["modelops defaults"] / best_ml,
                t_ours / min(t_raw, t_diff),
                t_pinned / min(t_raw, t_diff),
                ", ".join(sorted(set(ours["chosen"]))),
            )
        )
    for name, n, mae, seconds, mae_ratio, time_ratio, pinned_ratio, chosen in rows:
        print(f"\n## {name} ({n} rows, {N_WINDOWS} windows of {H} hours, lags {LAGS})\n")
        print("| method | MAE | wall time (s) |\n|---|---|---|")
        for method, value in mae.items():
            print(
                f"| {method} | {value:.4f} | {seconds[method]:.1f} |"
                if method in seconds
                else f"| {method} | {value:.4f} | - |"
            )
        print(
            f"\nmodelops chose `{chosen}`. MAE ratio modelops / better mlforecast: {mae_ratio:.3f}; "
            f"wall-time ratio (defaults, with the transform choice): {time_ratio:.2f}; "
            f"with the transform pinned: {pinned_ratio:.2f}"
        )


if __name__ == "__main__":
    main()
