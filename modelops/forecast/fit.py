"""Fit one direct LightGBM model per step ahead: choose the target transform (on the latest fold, at the
nearest and farthest step ahead) and the parameters (on every fold, early stopping on each), score against naive baselines on the same
rows, then refit on all rows with the chosen parameters and the folds' mean best iteration."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import lightgbm as lgb
import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, FeatureSpec, horizon_matrix
from modelops.forecast.folds import Fold, make_folds
from modelops.forecast.metrics import LOWER_IS_BETTER, better, score
from modelops.forecast.transforms import candidates, invert, transform_inputs, transform_target

DEFAULT_PARAMS = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 31, "n_estimators": 500}


@dataclass
class FitConfig:
    params: dict[str, Any]
    early_stopping_rounds: int
    search: dict[str, Any] | None
    folds: int
    window: int | None
    gap: int
    metrics: list[str]
    target_transform: str
    seed: int

    engine: str = "local"
    scheduler: str | None = None

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> "FitConfig":
        v = p["validation"]
        return cls(p["model"]["params"], p["model"]["early_stopping_rounds"], p["search"], v["folds"], v.get("window"),
                   v.get("gap", 0), p["metrics"], p["target_transform"], p["seed"], p.get("engine", "local"),
                   p.get("scheduler"))

    @property
    def metric(self) -> str:
        return self.search["metric"] if self.search else self.metrics[0]

    def candidates(self) -> list[dict[str, Any]]:
        """Parameter sets to try: the grid, a seeded sample of it, or just the recipe's parameters."""
        if not self.search:
            return [{}]
        grid = self.search["grid"]
        combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
        if self.search["method"] == "random":
            combos = random.Random(self.seed).sample(combos, min(self.search["trials"], len(combos)))
        return combos


@dataclass
class Evaluation:
    """Cross-validated result of one (transform, parameters, horizon)."""

    score: float
    predictions: np.ndarray          # on the validation rows of all folds, in fold order
    rows: np.ndarray                 # frame row numbers of those predictions
    fold_rows: list[int]
    best_iterations: list[int]


@dataclass
class FitResult:
    transform: str
    transform_scores: dict[str, float]
    params: dict[int, dict[str, Any]]
    evaluations: dict[int, Evaluation]
    boosters: dict[int, lgb.Booster] = field(default_factory=dict)
    folds: list[Fold] = field(default_factory=list)


def lgb_params(params: dict[str, Any], seed: int) -> tuple[dict[str, Any], int]:
    merged = {**DEFAULT_PARAMS, **params}
    rounds = int(merged.pop("n_estimators", merged.pop("num_boost_round", 500)))
    return {**merged, "seed": seed, "verbosity": -1, "deterministic": True, "force_row_wise": True}, rounds


class LocalTrainer:
    """LightGBM on this machine, early-stopped on the validation rows when given."""

    def __init__(self, categorical: list[str], early_stopping_rounds: int):
        self.categorical, self.patience = categorical, early_stopping_rounds

    def _dataset(self, x: pd.DataFrame, y: pd.Series) -> lgb.Dataset:
        return lgb.Dataset(x, y, categorical_feature=[c for c in self.categorical if c in x] or "auto",
                           params={"verbosity": -1}, free_raw_data=True)

    def train(self, params: dict[str, Any], rounds: int, x: pd.DataFrame, y: pd.Series,
              valid: tuple[pd.DataFrame, pd.Series] | None = None) -> tuple[lgb.Booster, int]:
        if valid is None:
            return lgb.train(params, self._dataset(x, y), rounds), rounds
        booster = lgb.train(params, self._dataset(x, y), rounds, valid_sets=[self._dataset(*valid)],
                            callbacks=[lgb.early_stopping(self.patience, verbose=False)])
        return booster, booster.best_iteration or rounds

    def close(self) -> None:
        pass


class DaskTrainer:
    """lightgbm.dask on a Dask cluster: the recipe's scheduler, or a LocalCluster of this machine's cores.
    lightgbm.dask has no early stopping (LightGBM issue #3712), so every fit runs its full rounds."""

    def __init__(self, categorical: list[str], scheduler: str | None):
        from distributed import Client, LocalCluster

        self.categorical = categorical
        self.cluster = None if scheduler else LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        self.client = Client(scheduler or self.cluster)
        self.workers = max(1, len(self.client.scheduler_info()["workers"]))

    def train(self, params: dict[str, Any], rounds: int, x: pd.DataFrame, y: pd.Series,
              valid: tuple[pd.DataFrame, pd.Series] | None = None) -> tuple[lgb.Booster, int]:
        import dask.dataframe as dd

        model = lgb.DaskLGBMRegressor(client=self.client, n_estimators=rounds, **params)
        model.fit(dd.from_pandas(x, npartitions=self.workers), dd.from_pandas(y, npartitions=self.workers),
                  categorical_feature=[c for c in self.categorical if c in x] or "auto")
        return model.to_local().booster_, rounds

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class Fitter:
    def __init__(self, frame: pd.DataFrame, spec: FeatureSpec, config: FitConfig, emit: Callable[..., None]):
        self.frame, self.spec, self.config, self.emit = frame, spec, config, emit
        self.trainer = DaskTrainer(spec.static, config.scheduler) if config.engine == "dask" \
            else LocalTrainer(spec.static, config.early_stopping_rounds)
        self.step = pd.Timedelta(spec.frequency)
        self.folds = make_folds(frame, spec.horizon, config.folds, config.window, self.step)
        self.done, self.total = 0, 0
        self.matrices = {h: horizon_matrix(frame, spec, h) for h in range(1, spec.horizon + 1)}

    def run(self) -> FitResult:
        try:
            return self._run()
        finally:
            self.trainer.close()

    def _run(self) -> FitResult:
        transforms = candidates(self.frame) if self.config.target_transform == "auto" else [self.config.target_transform]
        combos = self.config.candidates()
        horizons = range(1, self.spec.horizon + 1)
        probes = sorted({1, self.spec.horizon})      # the transform is chosen on the nearest and farthest step ahead
        self.total = (len(transforms) if len(transforms) > 1 else 0) * len(probes) \
            + len(combos) * len(horizons) * len(self.folds) + len(horizons)
        scores: dict[str, float] = {}
        if len(transforms) > 1:
            for kind in transforms:
                scores[kind] = float(np.mean([self.evaluate(kind, combos[0], h, self.folds[-1:]).score for h in probes]))
            chosen = sorted(scores, key=scores.__getitem__, reverse=not LOWER_IS_BETTER[self.config.metric])[0]
        else:
            chosen = transforms[0]
        params, evaluations = {}, {}
        for h in horizons:
            best: tuple[dict[str, Any], Evaluation] | None = None
            for combo in combos:
                evaluation = self.evaluate(chosen, combo, h)
                if best is None or better(self.config.metric, evaluation.score, best[1].score):
                    best = (combo, evaluation)
            params[h], evaluations[h] = best
        result = FitResult(chosen, scores, params, evaluations, folds=self.folds)
        for h in horizons:
            result.boosters[h] = self.refit(chosen, params[h], h, evaluations[h].best_iterations)
        return result

    def _data(self, kind: str, h: int, mask: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
        frame = self.frame[mask]
        matrix = transform_inputs(self.matrices[h][mask].copy(), frame, self.spec, kind)
        return matrix, transform_target(frame[f"__y_h{h}"], frame, kind)

    def _labelled(self, h: int) -> np.ndarray:
        return self.frame[f"__y_h{h}"].notna().to_numpy()

    def evaluate(self, kind: str, combo: dict[str, Any], h: int, folds: list[Fold] | None = None) -> Evaluation:
        params, rounds = lgb_params({**self.config.params, **combo}, self.config.seed)
        labelled = self._labelled(h)
        predictions, rows, fold_rows, iterations = [], [], [], []
        for fold in folds or self.folds:
            train, valid = fold.masks(self.frame, h, self.step, self.config.gap)
            train, valid = train & labelled, valid & labelled
            if not train.any() or not valid.any():
                raise ValueError(f"validation fold starting {fold.first_origin} has no training or no validation "
                                 f"rows for horizon {h}; use fewer folds or a shorter window")
            x_train, y_train = self._data(kind, h, train)
            x_valid, y_valid = self._data(kind, h, valid)
            booster, best = self.trainer.train(params, rounds, x_train, y_train, (x_valid, y_valid))
            iterations.append(best)
            predicted = invert(booster.predict(x_valid, num_iteration=iterations[-1]), self.frame[valid], kind)
            predictions.append(predicted)
            rows.append(np.flatnonzero(valid))
            fold_rows.append(int(valid.sum()))
            self._tick(h=h)
        rows_all = np.concatenate(rows)
        actual = self.frame[f"__y_h{h}"].to_numpy()[rows_all]
        predicted_all = np.concatenate(predictions)
        return Evaluation(score(actual, predicted_all)[self.config.metric], predicted_all, rows_all, fold_rows, iterations)

    def refit(self, kind: str, combo: dict[str, Any], h: int, iterations: list[int]) -> lgb.Booster:
        params, _ = lgb_params({**self.config.params, **combo}, self.config.seed)
        x, y = self._data(kind, h, self._labelled(h))
        booster, _ = self.trainer.train(params, max(1, round(float(np.mean(iterations)))), x, y)
        self._tick(h=h, refit=1)
        return booster

    def _tick(self, **info: Any) -> None:
        self.done += 1
        self.emit(type="progress", done=self.done, total=self.total, unit="fits", **info)


def baselines(frame: pd.DataFrame, h: int, rows: np.ndarray, season: int | None) -> dict[str, np.ndarray]:
    """Naive forecasts for the given rows: the last value, and the value one season back."""
    result = {"naive": frame[LAST].to_numpy()[rows]}
    if season:
        result["seasonal_naive"] = frame[f"__seasonal_h{h}"].to_numpy()[rows]
    return result
