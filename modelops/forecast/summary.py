"""What a fit produced, for people: metrics per step ahead against naive baselines, the transform and
parameter choices with their reasons, feature importance, and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, FeatureSpec
from modelops.forecast.fit import FitResult, baselines
from modelops.forecast.frame import GROUP, TIME, advance, series_names, step_of
from modelops.forecast.metrics import LOWER_IS_BETTER, score


def _scores(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    present = ~np.isnan(predicted)
    return score(actual[present], predicted[present]) if present.any() else {}


SERIES_SHOWN = 20          # rows of the per-series table (the worst first)


def per_series(frame: pd.DataFrame, spec: FeatureSpec, result: FitResult) -> pd.DataFrame:
    """Each series' validation errors, every step ahead pooled: the model's MAE, its naive (last value)
    forecast's MAE on the same rows, and `scale`, the MAE of the naive forecast inside the series' history
    before the first validation origin (one step back, or one season back with `season`: MASE's scale)."""
    parts = []
    for h, evaluation in result.evaluations.items():
        actual = frame[f"__y_h{h}"].to_numpy()[evaluation.rows]
        naive = baselines(frame, h, evaluation.rows, None)["naive"]
        parts.append(pd.DataFrame({"series": frame[GROUP].to_numpy()[evaluation.rows], "h": h,
                                   "model": np.abs(actual - evaluation.predictions), "naive": np.abs(actual - naive)}))
    errors = pd.concat(parts)
    before = frame[frame[TIME] < min(fold.first_origin for fold in result.folds)]
    lag = spec.season or 1
    scale = (before[LAST] - before.groupby(GROUP)[LAST].shift(lag)).abs().groupby(before[GROUP]).mean()
    table = errors.groupby("series")[["model", "naive"]].mean()
    table["scale"] = scale.reindex(table.index)
    by_h = errors.groupby(["series", "h"])["model"].mean().unstack("h")
    table[[f"mae_h{h}" for h in by_h.columns]] = by_h.to_numpy()
    table["name"] = table.index.map(series_names(frame, spec.groups))
    return table


def scale_free(table: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """Metrics that compare across series of any scale: MASE (each series' MAE over its in-sample naive MAE,
    averaged over series; pooled and per step ahead), and each series' MAE over its naive forecast's MAE on
    the same validation rows — their geometric mean (below 1: better than naive on a typical series) and the
    share of series where the model is the better one."""
    metrics: dict[str, Any] = {}
    scaled = table[table["scale"] > 0]
    if not scaled.empty:
        metrics["mase"] = float((scaled["model"] / scaled["scale"]).mean())
        metrics["mase_by_horizon"] = {c.removeprefix("mae_h"): float((scaled[c] / scaled["scale"]).mean())
                                      for c in scaled.columns if c.startswith("mae_h")}
        metrics["mase_scale"] = f"in-sample naive, {spec.season or 1} step(s) back"
    compared = table[table["naive"] > 0]
    if not compared.empty:
        ratio = compared["model"] / compared["naive"]
        metrics |= {"relative_mae_geomean": float(np.exp(np.log(ratio.clip(lower=1e-12)).mean())),
                    "series_beating_naive": float((ratio < 1).mean()), "series_compared": len(ratio)}
    return metrics


def series_table(table: pd.DataFrame) -> list[list[Any]]:
    """The per-series rows of the report, the worst MASE first."""
    shown = table.assign(mase=table["model"] / table["scale"].where(table["scale"] > 0))
    shown = shown.sort_values("mase", ascending=False, na_position="first").head(SERIES_SHOWN)
    rows: list[list[Any]] = [["series", "mae", "naive mae", "mae / naive", "mase"]]
    for r in shown.itertuples():
        rows.append([r.name, f"{r.model:.4g}", f"{r.naive:.4g}",
                     f"{r.model / r.naive:.3g}" if r.naive > 0 else "-", f"{r.mase:.3g}" if r.mase == r.mase else "-"])
    return rows


def collect_metrics(frame: pd.DataFrame, spec: FeatureSpec, result: FitResult, wanted: list[str],
                    series: pd.DataFrame) -> dict[str, Any]:
    by_horizon, pooled = {}, {"model": ([], [])}
    for h, evaluation in result.evaluations.items():
        actual = frame[f"__y_h{h}"].to_numpy()[evaluation.rows]
        entry = {"model": _scores(actual, evaluation.predictions)}
        pooled["model"][0].append(actual)
        pooled["model"][1].append(evaluation.predictions)
        for name, forecast in baselines(frame, h, evaluation.rows, spec.season).items():
            entry[name] = _scores(actual, forecast)
            pooled.setdefault(name, ([], []))
            pooled[name][0].append(actual)
            pooled[name][1].append(forecast)
        by_horizon[str(h)] = entry
    overall = {name: _scores(np.concatenate(a), np.concatenate(p)) for name, (a, p) in pooled.items()}
    model = overall["model"]
    metrics: dict[str, Any] = {m: model[m] for m in wanted}
    for name in overall:
        if name != "model":
            metrics[f"{name}_mae"] = overall[name]["mae"]
    metrics["beats_naive"] = model["mae"] < min(v["mae"] for k, v in overall.items() if k != "model")
    metrics["mape_zero_targets_skipped"] = model["mape_zero_targets_skipped"]
    metrics["validation_rows"] = model["n"]
    metrics["target_transform"] = result.transform
    metrics["target_transform_scores"] = result.transform_scores
    metrics["strategy"] = result.strategy
    if result.strategy_scores:
        metrics["strategy_scores"] = result.strategy_scores
    metrics["best_params"] = {str(h): p for h, p in result.params.items()}
    metrics["best_iteration"] = {str(h): int(round(np.mean(e.best_iterations))) for h, e in result.evaluations.items()}
    metrics |= scale_free(series, spec)
    metrics["overall"] = overall
    metrics["by_horizon"] = by_horizon
    metrics["by_fold"] = by_fold(frame, result)
    return metrics


def by_fold(frame: pd.DataFrame, result: FitResult) -> dict[str, dict[str, dict[str, float]]]:
    """MAE, RMSE and R² of each validation fold, per step ahead (as the reference trainer logs them)."""
    folds: dict[str, dict[str, dict[str, float]]] = {}
    for h, evaluation in result.evaluations.items():
        bounds = np.cumsum([0, *evaluation.fold_rows])
        actual = frame[f"__y_h{h}"].to_numpy()[evaluation.rows]
        for i in range(len(evaluation.fold_rows)):
            part = slice(bounds[i], bounds[i + 1])
            scores = _scores(actual[part], evaluation.predictions[part])
            folds.setdefault(str(i + 1), {})[str(h)] = {m: scores[m] for m in ("mae", "rmse", "r2")}
    return folds


def transform_reason(result: FitResult, metric: str, requested: str, strategy: str) -> str:
    """Why this strategy and target transform: the recipe's word, or the folds' scores of the candidates."""
    def listed(scores: dict[str, float]) -> str:
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=not LOWER_IS_BETTER[metric])
        return ", ".join(f"{k} {v:.4g}" for k, v in ranked)

    chosen = f"{result.strategy}, `{result.transform}`"
    if requested != "auto" and strategy != "auto":
        return f"{chosen}, as the recipe says"
    said = [f"the {name} as the recipe says" for name, value in (("strategy", strategy), ("transform", requested))
            if value != "auto"]
    scores = [f"strategies {listed(result.strategy_scores)}"] if result.strategy_scores else []
    scores += [f"transforms {listed(result.transform_scores)}"] if len(result.transform_scores) > 1 else []
    return (f"{chosen}: the best {metric} on the validation folds, at the nearest and farthest step ahead "
            f"({'; '.join(said + scores)})")


def importance(result: FitResult) -> pd.DataFrame:
    table = pd.DataFrame({f"gain_h{h}": pd.Series(b.feature_importance("gain"), index=b.feature_name())
                          for h, b in result.boosters.items()})
    table["gain_total"] = table.sum(axis=1)
    return table.sort_values("gain_total", ascending=False).rename_axis("feature").reset_index()


def tables(metrics: dict[str, Any], wanted: list[str], result: FitResult, gains: pd.DataFrame,
           reason: str, series: pd.DataFrame) -> dict[str, list[list[Any]]]:
    def fmt(value: Any) -> Any:
        return f"{value:.4g}" if isinstance(value, float) else value

    names = [n for n in metrics["overall"] if n != "model"]
    mase = metrics.get("mase_by_horizon", {})
    rows = [["step ahead", *wanted, "mase", *[f"{n} mae" for n in names]]]
    for h, entry in metrics["by_horizon"].items():
        rows.append([h, *[fmt(entry["model"].get(m)) for m in wanted], fmt(mase.get(h, "-")),
                     *[fmt(entry[n].get("mae")) for n in names]])
    rows.append(["all", *[fmt(metrics["overall"]["model"].get(m)) for m in wanted], fmt(metrics.get("mase", "-")),
                 *[fmt(metrics["overall"][n].get("mae")) for n in names]])
    folds = [
        [
            "fold",
            "validation origins",
            *[f"{m} h{h}" for h in result.evaluations for m in ("rows", "mae", "rmse", "r2")],
        ]
    ]
    for i, fold in enumerate(result.folds):
        scores = metrics["by_fold"][str(i + 1)]
        folds.append(
            [
                i + 1,
                f"{fold.first_origin} .. {fold.last_origin}",
                *[
                    cell
                    for h, e in result.evaluations.items()
                    for cell in (e.fold_rows[i], *[fmt(scores[str(h)][m]) for m in ("mae", "rmse", "r2")])
                ],
            ]
        )
    params = [["step ahead", "parameters", "best iteration"]]
    params += [
        [h, ", ".join(f"{k}={v}" for k, v in p.items()) or "(recipe's)", metrics["best_iteration"][str(h)]]
        for h, p in metrics["best_params"].items()
    ]
    top = [["feature", "gain"]] + [[r.feature, f"{r.gain_total:.4g}"] for r in gains.head(10).itertuples()]
    return {
        "Validation by step ahead (model vs naive baselines)": rows,
        f"Per series, the worst MASE first ({min(len(series), SERIES_SHOWN)} of {len(series)})": series_table(series),
        "Strategy and target transform": [["choice"], [reason]],
        "Validation folds": folds,
        "Chosen parameters": params,
        "Top-10 features by gain": top,
    }


def plots(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    result: FitResult,
    metrics: dict[str, Any],
    gains: pd.DataFrame,
    folder: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    evaluation = result.evaluations[1]
    shown = frame[GROUP].to_numpy()[evaluation.rows]
    groups = pd.Series(shown).value_counts().index[:3]
    figure, axes = plt.subplots(len(groups), 1, figsize=(9, 2.6 * len(groups)), squeeze=False)
    for axis, group in zip(axes[:, 0], groups, strict=True):
        pick = shown == group
        rows = evaluation.rows[pick]
        target_time = advance(frame[TIME].iloc[rows], step_of(spec.frequency)).to_numpy()
        axis.plot(target_time, frame["__y_h1"].to_numpy()[rows], ".-", label="actual", linewidth=1)
        axis.plot(target_time, evaluation.predictions[pick], ".-", label="predicted (1 step ahead)", linewidth=1)
        label = "/".join(str(frame[g].to_numpy()[rows[0]]) for g in spec.groups) or "series"
        axis.set_title(f"{label}: validation folds", fontsize=9)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(folder / "actual_vs_predicted.png", dpi=90)
    plt.close(figure)

    top = gains.head(15).iloc[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(top) + 1))
    axis.barh(top["feature"], top["gain_total"])
    axis.set_xlabel("gain (all steps ahead)")
    figure.tight_layout()
    figure.savefig(folder / "importance.png", dpi=90)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 3.5))
    horizons = [int(h) for h in metrics["by_horizon"]]
    for name in metrics["overall"]:
        axis.plot(
            horizons, [metrics["by_horizon"][str(h)][name].get("mae", np.nan) for h in horizons], "o-", label=name
        )
    axis.set_xlabel("steps ahead")
    axis.set_ylabel("MAE (validation folds)")
    axis.set_xticks(horizons)
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "error_by_horizon.png", dpi=90)
    plt.close(figure)
