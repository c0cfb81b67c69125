"""How modelops' forecasting cost grows with the number of series, beside mlforecast's: daily panels of 1,000,
10,000 and 50,000 series × 100 days (weekly cycle, trend, level and noise per series), lags 1–14, 7 steps
ahead, the same LightGBM parameters with one thread on both sides, the target differenced on both sides
(mlforecast's `Differences([1])`, modelops' `target_transform: difference`), forecasting the last 7 days
after training on the rest. modelops runs with one validation fold (`validation.folds: 1`: an early-stopped
fit on the rows before the fold, then the refit on every row). mlforecast runs twice: fitting once with no
validation, and with the same number of folds (`cross_validation` over one window of 7 days, then the fit),
the like-for-like anchor.
Each run is its own process, so its wall time and peak resident memory are its own; runs alternate.
Run: .venv/bin/python benchmarks/forecast_scaling.py [SERIES ...]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DAYS, HORIZON, LAGS = 100, 7, list(range(1, 15))
PARAMS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20}
RUNS = ("mlforecast direct", "mlforecast+fold direct", "modelops direct",
        "mlforecast recursive", "mlforecast+fold recursive", "modelops recursive")


def panel(series: int, seed: int = 0) -> pd.DataFrame:
    """Long form (unique_id, ds, y): a weekly cycle, a trend and a level per series, noise."""
    rng = np.random.default_rng(seed)
    day = np.arange(DAYS)
    level = rng.lognormal(3, 1, series)[:, None]
    weekly = rng.uniform(0.1, 0.4, series)[:, None] * np.sin(2 * np.pi * (day[None, :] + rng.integers(0, 7, series)[
        :, None]) / 7)
    trend = rng.normal(0, 0.003, series)[:, None] * day[None, :]
    y = level * (1 + weekly + trend + rng.normal(0, 0.05, (series, DAYS)))
    return pd.DataFrame({"unique_id": np.repeat([f"s{i:05d}" for i in range(series)], DAYS),
                         "ds": np.tile(pd.date_range("2025-01-01", periods=DAYS, freq="D"), series),
                         "y": y.ravel()})


def run_mlforecast(train: pd.DataFrame, direct: bool, fold: bool) -> pd.DataFrame:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.target_transforms import Differences

    model = lgb.LGBMRegressor(**PARAMS, n_jobs=1, verbosity=-1, random_state=0)
    forecaster = MLForecast(models={"lgb": model}, freq="D", lags=LAGS, target_transforms=[Differences([1])])
    if fold:
        forecaster.cross_validation(train, n_windows=1, h=HORIZON, max_horizon=HORIZON if direct else None)
    forecaster.fit(train, max_horizon=HORIZON if direct else None)
    return forecaster.predict(HORIZON).rename(columns={"lgb": "forecast"})


def run_modelops(train: pd.DataFrame, strategy: str) -> pd.DataFrame:
    from modelops.forecast.features import FeatureSpec, build_features
    from modelops.forecast.fit import FitConfig, Fitter
    from modelops.forecast.frame import GROUP, PanelSpec, load_panel
    from modelops.forecast.predictor import forecast_latest
    from modelops.forecast.recursive import origin_history

    panel_spec = PanelSpec("ds", None, None, "D", "error", "error", "y", [], ["unique_id"])
    spec = FeatureSpec("y", [], ["unique_id"], LAGS, HORIZON)
    loaded, report = load_panel(train, panel_spec, max(LAGS) + HORIZON + 1, "bench")
    spec.frequency = report["frequency"]
    config = FitConfig(PARAMS | {"num_threads": 1}, 20, None, 1, None, 0, ["mae"], "difference", 0,
                       strategy=strategy)
    fit = Fitter(build_features(loaded, spec), spec, config, lambda **_: None).run()
    recent = loaded.groupby(GROUP).tail(spec.history).reset_index(drop=True)   # what `predict` is given
    origins = build_features(recent, spec, with_targets=False).groupby(GROUP).tail(1)
    history = origin_history(recent, origins, spec) if strategy == "recursive" else None
    forecasts = forecast_latest(origins, spec, fit.boosters, "difference", "%Y-%m-%d", history=history)
    return forecasts.assign(ds=pd.to_datetime(forecasts["time"]))


def child(run: str, path: str) -> None:
    """One run in this process: prints wall seconds, peak resident MiB and MAE on the held-out week."""
    data = pd.read_parquet(path)
    cutoff = data["ds"].max() - pd.Timedelta(days=HORIZON)
    train, test = data[data["ds"] <= cutoff], data[data["ds"] > cutoff]
    tool, strategy = run.split()
    started = time.perf_counter()
    forecasts = (run_modelops(train, strategy) if tool == "modelops"
                 else run_mlforecast(train, strategy == "direct", tool == "mlforecast+fold"))
    seconds = time.perf_counter() - started
    joined = test.merge(forecasts[["unique_id", "ds", "forecast"]], on=["unique_id", "ds"], how="left")
    assert joined["forecast"].notna().all(), f"{run} left forecasts out"
    print(json.dumps({"seconds": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "mae": float(np.abs(joined["y"] - joined["forecast"]).mean())}))


def main(sizes: list[int]) -> None:
    print("| series | rows | run | wall (s) | × mlforecast | × mlforecast+fold | peak RSS (MiB) | MAE |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for series in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "panel.parquet"
            panel(series).to_parquet(path)
            results = {}
            for run in RUNS:
                out = subprocess.run([sys.executable, __file__, "--child", run, str(path)], capture_output=True,
                                     text=True)
                if out.returncode != 0:
                    print(f"| {series:,} | | {run} | failed: {out.stderr.strip().splitlines()[-1]} | | | | |")
                    continue
                results[run] = json.loads(out.stdout.strip().splitlines()[-1])
            for run, r in results.items():
                ratios = [results.get(f"{tool} {run.split()[1]}") for tool in ("mlforecast", "mlforecast+fold")]
                ratio = " | ".join(f"{r['seconds'] / a['seconds']:.2f}" if a else "" for a in ratios)
                print(f"| {series:,} | {series * DAYS:,} | {run} | {r['seconds']:.1f} | {ratio} | "
                      f"{r['rss_mib']:.0f} | {r['mae']:.4f} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        main([int(n) for n in sys.argv[1:]] or [1_000, 10_000, 50_000])
