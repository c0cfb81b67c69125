"""Step `lightgbm_fit`: a LightGBM model per step ahead or one iterated, chosen and scored on time-ordered folds.
Outputs models/ (LightGBM text files plus forecaster.json), metrics.json, importance.csv, plots/ and the
report's tables.json."""

from __future__ import annotations

import json
import sys

import pandas as pd

from modelops.forecast.features import FeatureSpec
from modelops.forecast.fit import FitConfig, Fitter
from modelops.forecast.intervals import conformal
from modelops.forecast.journal import Journal
from modelops.forecast.parallel import choose
from modelops.forecast.predictor import FORMAT
from modelops.forecast.summary import collect_metrics, importance, per_series, plots, tables, transform_reason
from modelops.steps.runtime import Spec, main
from modelops.tracking import Tracker


def run(spec: Spec) -> None:
    p = spec.params
    preprocessing = json.loads(spec.inputs["preprocessing.json"].read_text(encoding="utf-8"))
    feature_spec = FeatureSpec(**preprocessing["features"])
    config = FitConfig.from_params(p)
    frame = pd.read_parquet(spec.inputs["features.parquet"])
    parallelism = choose(len(frame), len(feature_spec.model_columns() + feature_spec.horizon_columns()), p.threads)
    print(f"LightGBM: {parallelism.reason}")
    journal = Journal(spec.out.parent / "evaluations")
    try:
        fitter = Fitter(frame, feature_spec, config, spec.emit, parallelism, journal)
        result = fitter.run()
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if fitter.resumed:
        print(f"resumed: {fitter.resumed} evaluation(s) came from the interrupted attempt's journal")
    series = per_series(frame, feature_spec, result)
    metrics = collect_metrics(frame, feature_spec, result, config.metrics, series)
    reason = transform_reason(result, config.metric, config.target_transform, config.strategy)
    metrics["target_transform_reason"] = reason
    widths, coverage = conformal(frame, result, p.intervals)
    if widths:
        metrics["interval_half_width"], metrics["interval_coverage"] = widths, coverage
    gains = importance(result)

    models = spec.out / "models"
    models.mkdir()
    for h, booster in result.boosters.items():
        booster.save_model(str(models / f"model_h{h}.txt"))
    forecaster = {"format": FORMAT, "panel": preprocessing["panel"], "features": preprocessing["features"],
                  "transform": result.transform, "strategy": result.strategy,
                  "models": {str(h): f"model_h{h}.txt" for h in result.boosters},
                  "feature_names": result.boosters[1].feature_name(), "params": metrics["best_params"],
                  "best_iteration": metrics["best_iteration"], "intervals": widths}
    spec.write_json("models/forecaster.json", forecaster)
    gains.to_csv(spec.out / "importance.csv", index=False)
    spec.write_json("tables.json", tables(metrics, config.metrics, result, gains, reason, series))
    plots(frame, feature_spec, result, metrics, gains, spec.out / "plots")
    _track(spec, metrics)

    model, naive = metrics["overall"]["model"], metrics["overall"]["naive"]
    print(f"strategy and target transform: {reason}")
    for fold, per_step in metrics["by_fold"].items():
        print(f"fold {fold}: " + "; ".join(f"h{h} mae {m['mae']:.4g} rmse {m['rmse']:.4g} r2 {m['r2']:.3f}"
                                          for h, m in per_step.items()))
    for h, entry in metrics["by_horizon"].items():
        print(f"h{h}: " + ", ".join(f"{m} {entry['model'][m]:.4g}" for m in config.metrics)
              + f" | naive mae {entry['naive']['mae']:.4g}")
    print(f"overall: mae {model['mae']:.4g} vs naive {naive['mae']:.4g}"
          + ("" if metrics["beats_naive"] else "  (does NOT beat the naive baseline)"))
    for level, share in metrics.get("interval_coverage", {}).items():
        widths = ", ".join(f"h{h} {w:.4g}" for h, w in metrics["interval_half_width"][level].items())
        print(f"{level}% intervals: ± {widths}; they covered {share:.1%} of the validation forecasts "
              "(each fold calibrated on the others)")
    print("top features by gain: " + ", ".join(gains["feature"].head(10)), file=sys.stdout)
    journal.remove()


def _track(spec: Spec, metrics: dict) -> None:
    """The fit to the recipe's trackers: chosen parameters and transform, fold, per-step and baseline metrics,
    plots and importance; metrics.json is written here, with any tracking warning in it."""
    tracker = Tracker(spec.tracking, spec.out)
    p = spec.params
    tracker.params({"best": metrics["best_params"], "target_transform": metrics.get("target_transform"),
                    "model": p.model.model_dump(mode="json"), "search": p.search.model_dump(mode="json")
                    if p.search else None, "validation": p.validation.model_dump(mode="json"), "seed": p.seed})
    tracker.metrics(metrics, 0)
    tracker.artifacts(spec.out / "plots", spec.out / "importance.csv")
    if tracker.warnings:
        metrics["tracking_warning"] = "; ".join(tracker.warnings)
    spec.write_json("metrics.json", metrics)
    tracker.artifacts(spec.out / "metrics.json")
    tracker.close()


if __name__ == "__main__":
    main(run)
