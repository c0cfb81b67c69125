"""modelops forecasting vs mlforecast on real data sets that installable packages ship.

Data: vega_datasets (us-employment: a monthly panel of 22 industries; stocks: 5 monthly prices with
different start dates; seattle-weather: daily maximum temperature), statsmodels (co2: weekly Mauna Loa
CO2), pmdarima (wineind: monthly wine sales; ausbeer: quarterly beer production; taylor: half-hourly
electricity demand). For each, both tools get the same lags, the same LightGBM parameters (one thread
each) and the same forecast origins: the last H * WINDOWS steps, H apart (mlforecast's
`cross_validation(n_windows, h, step_size=h)`); each trains on the data up to an origin and forecasts the
next H steps of every series. mlforecast runs four ways — direct (one model per step ahead) and recursive
(one model), each with raw lags and with `Differences([1])` — and the best is the anchor. modelops runs
with a recipe's defaults (`target_transform: auto`, 5 inner time-ordered folds with early stopping,
refit) under each `strategy`: direct, recursive and auto. The runs are interleaved per data set.
Reported: MAE, MAE ÷ best mlforecast with a 90 % interval (a paired bootstrap over the forecast origins:
how far the ratio moves with which origins happened to be scored), wall time ÷ the best one's.
Needs: pip install -c constraints.txt mlforecast statsmodels vega_datasets pmdarima
Run: .venv/bin/python benchmarks/forecast_real.py [NAME ...] [direct|recursive|auto ...] [pinned]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, FeatureSpec, build_features
from modelops.forecast.fit import FitConfig, Fitter
from modelops.forecast.frame import GROUP, PanelSpec, load_panel
from modelops.forecast.predictor import forecast_latest
from modelops.forecast.recursive import origin_history
from modelops.forecast.transforms import candidates
from modelops.recipe.tasks import LightGBMModel, TimeValidation

STRATEGIES = ("direct", "recursive", "auto")
PARAMS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20}


@dataclass
class Dataset:
    load: Callable[[], pd.DataFrame]        # long form: unique_id, ds, y
    freq: str
    lags: list[int]
    h: int
    windows: int


def _vega(name: str) -> pd.DataFrame:
    from vega_datasets import local_data

    return getattr(local_data, name.replace("-", "_"))()


def us_employment() -> pd.DataFrame:
    wide = _vega("us-employment").drop(columns=["nonfarm_change"])
    return wide.melt(id_vars="month", var_name="unique_id", value_name="y").rename(columns={"month": "ds"})


def stocks() -> pd.DataFrame:
    return _vega("stocks").rename(columns={"symbol": "unique_id", "date": "ds", "price": "y"})


def seattle_weather() -> pd.DataFrame:
    weather = _vega("seattle-weather").assign(unique_id="seattle")
    return weather.rename(columns={"date": "ds", "temp_max": "y"})[["unique_id", "ds", "y"]]


def co2() -> pd.DataFrame:
    import statsmodels.api as sm

    series = sm.datasets.co2.load_pandas().data["co2"].interpolate()
    return pd.DataFrame({"unique_id": "mauna-loa", "ds": series.index, "y": series.to_numpy()})


def _pmdarima(name: str, start: str, freq: str) -> pd.DataFrame:
    import pmdarima.datasets

    values = getattr(pmdarima.datasets, f"load_{name}")(as_series=True).to_numpy(dtype=float)
    return pd.DataFrame({"unique_id": name, "ds": pd.date_range(start, periods=len(values), freq=freq), "y": values})


DATASETS = {
    "us-employment (monthly, 22 series)": Dataset(us_employment, "MS", list(range(1, 13)), 3, 8),
    "stocks (monthly, 5 series, different starts)": Dataset(stocks, "MS", list(range(1, 13)), 3, 8),
    "wineind (monthly)": Dataset(lambda: _pmdarima("wineind", "1980-01-01", "MS"), "MS", list(range(1, 13)), 3, 8),
    "ausbeer (quarterly)": Dataset(lambda: _pmdarima("ausbeer", "1956-01-01", "QS"), "QS", list(range(1, 9)), 2, 8),
    "co2 (weekly)": Dataset(co2, "W-SAT", [*range(1, 14), 52], 4, 26),
    "seattle-weather temp_max (daily)": Dataset(seattle_weather, "D", list(range(1, 15)), 7, 16),
    "taylor demand (half-hourly)": Dataset(lambda: _pmdarima("taylor", "2000-06-05", "30min"), "30min",
                                           list(range(1, 49)), 3, 30),
}


def run_mlforecast(df: pd.DataFrame, data: Dataset, differences: bool, direct: bool,
                   date_features: list[str] | None = None) -> tuple[pd.DataFrame, float]:
    """mlforecast's cross-validation with one LightGBM thread: direct (one model per step ahead) or recursive,
    raw lags or `Differences([1])`, with or without calendar features."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.target_transforms import Differences

    model = lgb.LGBMRegressor(**PARAMS, n_jobs=1, verbosity=-1, random_state=0)
    forecaster = MLForecast(models={"lgb": model}, freq=data.freq, lags=data.lags, date_features=date_features,
                            target_transforms=[Differences([1])] if differences else None)
    started = time.perf_counter()
    cv = forecaster.cross_validation(df, n_windows=data.windows, h=data.h, step_size=data.h,
                                     max_horizon=data.h if direct else None)
    return cv.rename(columns={"lgb": "forecast"}), time.perf_counter() - started


def run_modelops(df: pd.DataFrame, data: Dataset, cutoffs: list, strategy: str, transform: str = "auto",
                 ) -> tuple[pd.DataFrame, float]:
    panel_spec = PanelSpec("ds", None, None, data.freq, "error", "error", "y", [], ["unique_id"])
    feature_spec = FeatureSpec("y", [], ["unique_id"], data.lags, data.h)
    defaults = TimeValidation()
    config = FitConfig(PARAMS | {"num_threads": 1}, LightGBMModel().early_stopping_rounds, None, defaults.folds,
                       defaults.window, defaults.gap, ["mae"], transform, 0, strategy=strategy)
    started, results = time.perf_counter(), []
    for cutoff in cutoffs:
        panel, report = load_panel(df[df["ds"] <= cutoff], panel_spec, max(data.lags) + data.h, "bench")
        feature_spec.frequency = report["frequency"]
        fit = Fitter(build_features(panel, feature_spec), feature_spec, config, lambda **_: None).run()
        origins = build_features(panel, feature_spec, with_targets=False).groupby(GROUP).tail(1)
        history = origin_history(panel, origins, feature_spec) if fit.strategy == "recursive" else None
        forecasts = forecast_latest(origins, feature_spec, fit.boosters, fit.transform, "%Y-%m-%d %H:%M:%S",
                                    history=history)
        forecasts["ds"] = pd.to_datetime(forecasts["time"])
        results.append(forecasts.assign(cutoff=cutoff, chosen=f"{fit.strategy} {fit.transform}"))
    return pd.concat(results), time.perf_counter() - started


def errors(truth: pd.DataFrame, forecasts: pd.DataFrame) -> pd.Series:
    """Absolute errors in the truth's row order."""
    joined = truth.merge(forecasts[["unique_id", "ds", "forecast"]], on=["unique_id", "ds"], how="left")
    assert joined["forecast"].notna().all(), "a tool left forecasts out"
    return np.abs(joined["y"] - joined["forecast"])


def mae(truth: pd.DataFrame, forecasts: pd.DataFrame) -> float:
    return float(errors(truth, forecasts).mean())


def ratio_interval(truth: pd.DataFrame, ours: pd.DataFrame, anchor: pd.DataFrame, draws: int = 2000,
                   ) -> tuple[float, float]:
    """The 5th and 95th percentiles of MAE(ours) ÷ MAE(anchor) over origins drawn with replacement (both
    scored on the same draw: errors of one origin's steps and series move together, so origins are the unit)."""
    by_origin = pd.DataFrame({"ours": errors(truth, ours).to_numpy(), "anchor": errors(truth, anchor).to_numpy(),
                              "cutoff": truth["cutoff"].to_numpy()}).groupby("cutoff").sum()
    draw = np.random.default_rng(0).integers(0, len(by_origin), (draws, len(by_origin)))
    ratios = by_origin["ours"].to_numpy()[draw].sum(axis=1) / by_origin["anchor"].to_numpy()[draw].sum(axis=1)
    return float(np.percentile(ratios, 5)), float(np.percentile(ratios, 95))


def bench(name: str, data: Dataset, strategies: tuple[str, ...] = STRATEGIES, pinned: bool = False) -> list[dict]:
    """Every run on one data set; `pinned` adds modelops with each target transform fixed, not chosen."""
    df = data.load().dropna(subset=["y"]).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    df["ds"] = pd.to_datetime(df["ds"])
    rows = []
    for label, differences, direct in (("raw lags, direct", False, True), ("Differences([1]), direct", True, True),
                                       ("raw lags, recursive", False, False),
                                       ("Differences([1]), recursive", True, False)):
        cv, seconds = run_mlforecast(df, data, differences, direct)
        truth = cv[["unique_id", "ds", "cutoff", "y"]]
        rows.append({"method": f"mlforecast, {label}", "mae": mae(truth, cv), "seconds": seconds, "forecasts": cv})
    best = min(rows, key=lambda r: r["mae"])
    transforms = ["auto", *(candidates(df.rename(columns={"y": LAST})) if pinned else [])]
    for strategy, transform in ((s, t) for s in strategies for t in transforms):
        ours, seconds = run_modelops(df, data, sorted(truth["cutoff"].unique()), strategy, transform)
        chosen = "; ".join(f"{n}× {c}" for c, n in ours.drop_duplicates("cutoff")["chosen"].value_counts().items())
        pin = f", transform {transform}" if transform != "auto" else ""
        rows.append({"method": f"modelops, strategy {strategy}{pin} (chose {chosen})",
                     "mae": mae(truth, ours), "seconds": seconds, "forecasts": ours})
    last = df.merge(truth[["cutoff"]].drop_duplicates(), how="cross")
    last = last[last["ds"] <= last["cutoff"]].groupby(["unique_id", "cutoff"])["y"].last().rename("forecast")
    naive = truth.join(last, on=["unique_id", "cutoff"])
    rows.append({"method": "naive (last value)", "mae": mae(truth, naive), "seconds": None, "forecasts": naive})
    for row in rows:
        row["ratio"] = row["mae"] / best["mae"]
        row["interval"] = ratio_interval(truth, row["forecasts"], best["forecasts"])
        row["time_ratio"] = row["seconds"] / best["seconds"] if row["seconds"] else None
    print(f"\n{name}: {df['unique_id'].nunique()} series, {len(df)} rows, lags {data.lags[0]}..{max(data.lags)}, "
          f"h={data.h}, {data.windows} origins")
    for row in rows:
        time_ratio = f"{row['time_ratio']:.2f}" if row["time_ratio"] else ""
        low, high = row["interval"]
        print(f"  {row['method']:62} MAE {row['mae']:10.4f}  × best {row['ratio']:.3f} ({low:.3f}–{high:.3f})  "
              f"time × {time_ratio}", flush=True)
    return rows


def main(names: list[str]) -> None:
    """NAMEs pick data sets (by part of their name) and modelops strategies, by default all of both;
    `pinned` adds each target transform fixed."""
    strategies = tuple(n for n in names if n in STRATEGIES) or STRATEGIES
    wanted = [n for n in names if n not in (*STRATEGIES, "pinned")]
    for name, data in DATASETS.items():
        if not wanted or any(n in name for n in wanted):
            bench(name, data, strategies, "pinned" in names)


if __name__ == "__main__":
    main(sys.argv[1:])
