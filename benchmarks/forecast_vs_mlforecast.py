"""modelops forecasting vs mlforecast's best configuration on generated hourly panels.

For each of N_WINDOWS cutoffs (the last H * N_WINDOWS hours, H apart, as mlforecast's cross_validation
makes them), each tool trains on the data up to the cutoff and forecasts the next H hours of every series,
with the same lags and LightGBM parameters and one LightGBM thread each. mlforecast runs eight ways —
direct and recursive, raw lags and `Differences([1])`, with and without calendar features (hour, day of
week) — and the best of them is the anchor; modelops runs with the direct strategy and its other defaults,
with and without the same calendar features. The runs alternate between the tools. Reported: MAE, MAE ÷
the anchor's, wall time ÷ the anchor's, and the naive baselines.
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

sys.path.insert(0, str(ROOT / "benchmarks"))
from forecast_real import PARAMS, Dataset, mae, run_mlforecast  # noqa: E402

H, N_WINDOWS, LAGS, SEASON = 6, 3, [1, 2, 3, 6, 12, 24], 24
CALENDAR = ["hour", "dayofweek"]
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


def run_modelops(df: pd.DataFrame, calendar: list[str], transform: str = "auto") -> tuple[pd.DataFrame, float]:
    panel_spec = PanelSpec("ds", None, None, "h", "error", "error", "y", [], ["unique_id"])
    feature_spec = FeatureSpec("y", [], ["unique_id"], LAGS, H, calendar=calendar, season=SEASON)
    config = FitConfig(PARAMS | {"num_threads": 1}, 50, None, 2, None, 0, ["mae"], transform, 0,
                       strategy="direct")
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
    data = Dataset(lambda: pd.DataFrame(), "h", LAGS, H, N_WINDOWS)
    for name, (series, low, high, seed) in DATASETS.items():
        df = fill(long_form(make_panel(series, low, high, seed=seed)))
        rows, truth = [], None
        ways = [(f"mlforecast, {'Differences([1])' if differences else 'raw lags'}, "
                 f"{'direct' if direct else 'recursive'}{', calendar' if calendar else ''}", differences, direct,
                 CALENDAR if calendar else None)
                for calendar in (True, False) for direct in (True, False) for differences in (False, True)]
        ours = [("modelops direct, calendar", CALENDAR), ("modelops direct", [])]
        for index, (label, differences, direct, calendar) in enumerate(ways):          # the tools alternate
            cv, seconds = run_mlforecast(df, data, differences, direct, calendar)
            truth = cv[["unique_id", "ds", "cutoff", "y"]] if truth is None else truth
            rows.append({"method": label, "mae": mae(truth, cv), "seconds": seconds})
            if index % 4 == 3:
                method, calendar_ours = ours[index // 4]
                forecasts, seconds = run_modelops(df, calendar_ours)
                chosen = ", ".join(sorted(set(forecasts["chosen"])))
                rows.append({"method": f"{method} (chose {chosen})", "mae": mae(truth, forecasts),
                             "seconds": seconds})
        anchor = min((r for r in rows if r["method"].startswith("mlforecast")), key=lambda r: r["mae"])
        print(f"\n## {name} ({len(df)} rows, {N_WINDOWS} windows of {H} hours, lags {LAGS})\n")
        print("| method | MAE | MAE ÷ best mlforecast | wall (s) | time ÷ best mlforecast |")
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            print(f"| {row['method']} | {row['mae']:.4f} | {row['mae'] / anchor['mae']:.3f} | {row['seconds']:.1f} "
                  f"| {row['seconds'] / anchor['seconds']:.2f} |")
        for method, value in naive(df, truth).items():
            print(f"| {method} | {value:.4f} | {value / anchor['mae']:.3f} | | |")


if __name__ == "__main__":
    main()
