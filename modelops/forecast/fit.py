"""Fit LightGBM forecasters: one direct model per step ahead, or one next-step model iterated (recursive).
Choose the strategy and target transform together (on every fold, scored at the nearest and farthest step
ahead) and the parameters (on every fold, early stopping on each), score against naive baselines on the same
rows, then refit on all rows with the chosen parameters and the folds' mean best iteration."""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import random
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterator

import lightgbm as lgb
import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, MEAN, STD, FeatureSpec, check_frame, horizon_matrix
from modelops.forecast.fit_count import fit_count
from modelops.forecast.folds import Fold, make_folds
from modelops.forecast.frame import step_of
from modelops.forecast.journal import Journal
from modelops.forecast.metrics import LOWER_IS_BETTER, score
from modelops.forecast.parallel import Parallelism
from modelops.forecast.recursive import forecast, frame_history
from modelops.forecast.transform_names import STEPWISE
from modelops.forecast.transforms import (
    candidates,
    frame_columns,
    invert,
    invert_steps,
    target_columns,
    transform_inputs,
    transform_target,
)
from modelops.processes import die_with_parent
from modelops.recipe.env import expand

if TYPE_CHECKING:
    from modelops.step_kinds import LightgbmFit

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
    strategy: str = "direct"

    @classmethod
    def from_params(cls, p: LightgbmFit) -> "FitConfig":
        v = p.validation
        return cls(
            dict(p.model.params),
            p.model.early_stopping_rounds,
            p.search.model_dump() if p.search else None,
            v.folds,
            v.window,
            v.gap,
            list(p.metrics),
            p.target_transform,
            p.seed,
            p.engine,
            expand(p.scheduler),
            p.strategy,
        )

    @property
    def metric(self) -> str:
        return self.search["metric"] if self.search else self.metrics[0]

    def candidates(self) -> list[dict[str, Any]]:
        """Parameter sets to try: the grid, a seeded sample of it, or just the recipe's parameters."""
        if not self.search:
            return [{}]
        grid = self.search["grid"]
        combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
        if self.search["method"] == "random":
            combos = random.Random(self.seed).sample(combos, min(self.search["trials"], len(combos)))
        return combos


@dataclass
class Evaluation:
    """Cross-validated result of one (transform, parameters, step ahead), or of a recursive model at every
    step ahead (`steps` says which step each prediction is for; `score` is then the mean over steps)."""

    score: float
    predictions: np.ndarray  # on the validation rows of all folds, in fold order
    rows: np.ndarray  # frame row numbers of those predictions
    fold_rows: list[int]
    best_iterations: list[int]
    steps: np.ndarray | None = None     # recursive: the step ahead of each prediction
    folds: np.ndarray | None = None     # recursive: the fold of each prediction

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "score": np.array(self.score),
            "predictions": self.predictions,
            "rows": self.rows,
            "fold_rows": np.array(self.fold_rows),
            "best_iterations": np.array(self.best_iterations),
        }
        return arrays | ({"steps": self.steps, "folds": self.folds} if self.steps is not None else {})

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Evaluation":
        return cls(
            float(arrays["score"]),
            arrays["predictions"],
            arrays["rows"],
            [int(n) for n in arrays["fold_rows"]],
            [int(n) for n in arrays["best_iterations"]],
            arrays.get("steps"),
            arrays.get("folds"),
        )

    def at(self, h: int, actual: np.ndarray, metric: str) -> "Evaluation":
        """A recursive evaluation's predictions for step h alone; `actual` holds the frame's `__y_h{h}`."""
        assert self.steps is not None and self.folds is not None
        keep = self.steps == h
        rows, predictions = self.rows[keep], self.predictions[keep]
        fold_rows = np.bincount(self.folds[keep], minlength=len(self.fold_rows))
        return Evaluation(score(actual[rows], predictions)[metric], predictions, rows, [int(n) for n in fold_rows],
                          self.best_iterations)


@dataclass
class FitResult:
    transform: str
    transform_scores: dict[str, float]         # of the chosen strategy
    params: dict[int, dict[str, Any]]
    evaluations: dict[int, Evaluation]
    boosters: dict[int, lgb.Booster] = field(default_factory=dict)    # a recursive fit's: {1: the next-step model}
    folds: list[Fold] = field(default_factory=list)
    strategy: str = "direct"
    strategy_scores: dict[str, float] = field(default_factory=dict)   # each strategy's best, when both were tried


def lgb_params(params: dict[str, Any], seed: int) -> tuple[dict[str, Any], int]:
    merged = {**DEFAULT_PARAMS, **params}
    rounds = int(merged.pop("n_estimators", merged.pop("num_boost_round", 500)))
    return {**merged, "seed": seed, "verbosity": -1, "deterministic": True, "force_row_wise": True}, rounds


class LocalTrainer:
    """LightGBM on this machine, early-stopped on the validation rows when given."""

    def __init__(self, categorical: list[str], early_stopping_rounds: int):
        self.categorical, self.patience = categorical, early_stopping_rounds

    def _dataset(self, x: pd.DataFrame, y: pd.Series) -> lgb.Dataset:
        return lgb.Dataset(
            x,
            y,
            categorical_feature=[c for c in self.categorical if c in x] or "auto",
            params={"verbosity": -1},
            free_raw_data=True,
        )

    def train(
        self,
        params: dict[str, Any],
        rounds: int,
        x: pd.DataFrame,
        y: pd.Series,
        valid: tuple[pd.DataFrame, pd.Series] | None = None,
    ) -> tuple[lgb.Booster, int]:
        if valid is None:
            return lgb.train(params, self._dataset(x, y), rounds), rounds
        booster = lgb.train(
            params,
            self._dataset(x, y),
            rounds,
            valid_sets=[self._dataset(*valid)],
            callbacks=[lgb.early_stopping(self.patience, verbose=False)],
            keep_training_booster=True,     # a fold's model only predicts its fold: no model-to-string round trip
        )
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

    def train(
        self,
        params: dict[str, Any],
        rounds: int,
        x: pd.DataFrame,
        y: pd.Series,
        valid: tuple[pd.DataFrame, pd.Series] | None = None,
    ) -> tuple[lgb.Booster, int]:
        import dask.dataframe as dd

        model = lgb.DaskLGBMRegressor(client=self.client, n_estimators=rounds, **params)
        model.fit(
            dd.from_pandas(x, npartitions=self.workers),
            dd.from_pandas(y, npartitions=self.workers),
            categorical_feature=[c for c in self.categorical if c in x] or "auto",
        )
        return model.to_local().booster_, rounds

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


Unit = tuple[str, tuple[tuple[str, Any], ...], int]  # (transform, parameters, step ahead or RECURSIVE)
RECURSIVE = 0                                           # the step of a unit evaluating the recursive strategy
_WORKER: Fitter | None = None  # the fitter of a worker process


def _start_worker(frame: pd.DataFrame, spec: FeatureSpec, config: FitConfig, parallelism: Parallelism) -> None:
    global _WORKER
    die_with_parent()
    _WORKER = Fitter(frame, spec, config, lambda **_: None, parallelism)


def _evaluate_in_worker(unit: Unit) -> Evaluation:
    assert _WORKER is not None
    return _WORKER.evaluate_unit(unit)


class Fitter:
    def __init__(
        self,
        frame: pd.DataFrame,
        spec: FeatureSpec,
        config: FitConfig,
        emit: Callable[..., None],
        parallelism: Parallelism | None = None,
        journal: Journal | None = None,
    ):
        check_frame(frame, spec)
        self.frame, self.spec, self.config, self.emit = frame, spec, config, emit
        self.parallelism = parallelism or Parallelism(1, 0, "LightGBM's default threads")
        self.journal = journal
        self.trainer = (
            DaskTrainer(spec.static, config.scheduler)
            if config.engine == "dask"
            else LocalTrainer(spec.static, config.early_stopping_rounds)
        )
        self.step = step_of(spec.frequency)
        self.folds = make_folds(frame, spec.horizon, config.folds, config.window, self.step)
        self.done, self.total, self.resumed = 0, 0, 0
        self.evaluated: dict[Unit, Evaluation] = {}
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.matrices: dict[int, pd.DataFrame] = {}    # each step's inputs, built when first needed (recursive: h1)

    def run(self) -> FitResult:
        try:
            return self._run()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)  # an interrupt waits only for the fits running now
                self.pool = None
            self.trainer.close()

    def _run(self) -> FitResult:
        transforms = (
            candidates(self.frame) if self.config.target_transform == "auto" else [self.config.target_transform]
        )
        strategies = ["direct", "recursive"] if self.config.strategy == "auto" else [self.config.strategy]
        combos = self.config.candidates()
        horizons = range(1, self.spec.horizon + 1)
        probes = sorted({1, self.spec.horizon})  # strategy and transform are chosen at the nearest and farthest step
        choices = [(strategy, kind) for strategy in strategies for kind in transforms]
        probed = {choice: _units(*choice, combos[0], probes, self.spec.horizon)
                  for choice in choices} if len(choices) > 1 else {}
        probing = [unit for units in probed.values() for unit in units]
        count = partial(fit_count, transforms, strategies, len(combos), self.spec.horizon, len(self.folds))
        self.total = count(choices[0])
        scores: dict[tuple[str, str], float] = {}
        if probed:
            evaluated = iter(self._evaluate_all(probing))
            for (strategy, kind), units in probed.items():
                scores[strategy, kind] = self._probe_score(kind, [next(evaluated) for _ in units], probes)
            strategy, chosen = self._pick(scores, key=scores.__getitem__)
        else:
            strategy, chosen = choices[0]
        final = self._final(strategy, chosen, combos)
        self.total = count((strategy, chosen))
        evaluated = iter(self._evaluate_all(final))
        params, evaluations = {}, {}
        if strategy == "direct":
            for h in horizons:
                params[h], evaluations[h] = self._best([(combo, next(evaluated)) for combo in combos])
            if chosen == STEPWISE:
                evaluations = self._summed(chosen, evaluations)
            boosters = {h: self.refit(chosen, params[h], h, evaluations[h].best_iterations) for h in horizons}
        else:
            combo, whole = self._best([(combo, next(evaluated)) for combo in combos])
            for h in horizons:
                params[h] = combo
                evaluations[h] = whole.at(h, self.frame[f"__y_h{h}"].to_numpy(), self.config.metric)
            boosters = {1: self.refit(chosen, combo, 1, whole.best_iterations)}
        mine = {kind: value for (s, kind), value in scores.items() if s == strategy}
        best_of = {s: self._pick(value for (t, _), value in scores.items() if t == s)
                   for s in strategies} if len(strategies) > 1 else {}
        return FitResult(chosen, mine, params, evaluations, boosters, self.folds, strategy, best_of)

    def _pick(self, values: Any, key: Callable[[Any], float] | None = None) -> Any:
        """The best of the values by the metric (the first of equals)."""
        return (min if LOWER_IS_BETTER[self.config.metric] else max)(values, key=key)

    def _final(self, strategy: str, kind: str, combos: list[dict[str, Any]]) -> list[Unit]:
        """The units that choose the parameters, per step ahead then per combination (a recursive unit covers
        every step ahead)."""
        steps = range(1, self.spec.horizon + 1) if strategy == "direct" else [RECURSIVE]
        return [(kind, _frozen(combo), h) for h in steps for combo in combos]

    def _probe_score(self, kind: str, evaluations: list[Evaluation], probes: list[int]) -> float:
        """A choice's score: its mean at the probed steps ahead (a recursive evaluation holds every step; a
        direct `changes` one is evaluated at every step, as its forecasts sum them)."""
        if len(evaluations) == 1 and evaluations[0].steps is not None:
            whole = evaluations[0]
            evaluations = [whole.at(h, self.frame[f"__y_h{h}"].to_numpy(), self.config.metric) for h in probes]
        elif kind == STEPWISE:
            summed = self._summed(kind, dict(enumerate(evaluations, start=1)))
            evaluations = [summed[h] for h in probes]
        return float(np.mean([evaluation.score for evaluation in evaluations]))

    def _summed(self, kind: str, steps: dict[int, Evaluation]) -> dict[int, Evaluation]:
        """Direct `changes` evaluations as forecasts: each step's is the latest value plus the running sum of
        the steps' predicted changes at the same validation origins, scored where its target is known."""
        rows, fold_rows = steps[1].rows, steps[1].fold_rows
        folds = np.repeat(np.arange(len(fold_rows)), fold_rows)
        forecasts = invert_steps({h: e.predictions for h, e in steps.items()},
                                 self.frame[[LAST, MEAN, STD]].iloc[rows], kind)
        summed = {}
        for h, evaluation in steps.items():
            actual = self.frame[f"__y_h{h}"].to_numpy()[rows]
            known = ~np.isnan(actual)
            summed[h] = Evaluation(score(actual[known], forecasts[h][known])[self.config.metric], forecasts[h][known],
                                   rows[known], np.bincount(folds[known], minlength=len(fold_rows)).tolist(),
                                   evaluation.best_iterations)
        return summed

    def _best(self, scored: list[tuple[dict[str, Any], Evaluation]]) -> tuple[dict[str, Any], Evaluation]:
        return self._pick(scored, key=lambda candidate: candidate[1].score)

    def _evaluate_all(self, units: list[Unit]) -> list[Evaluation]:
        """Every unit's evaluation, in order: from the journal when an earlier attempt finished it, else
        computed (in worker processes when the parallelism says so) and journalled as soon as it is done."""
        found: dict[int, Evaluation] = {index: self.evaluated[unit] for index, unit in enumerate(units)
                                        if unit in self.evaluated}
        for index, unit in enumerate(units):
            if index in found:
                continue
            stored = self.journal.load(unit) if self.journal else None
            if stored is not None:
                found[index] = Evaluation.from_arrays(stored)
                self.resumed += 1
                self._tick(len(found[index].best_iterations), h=unit[2])
        todo = [(index, unit) for index, unit in enumerate(units) if index not in found]
        for index, evaluation in self._compute(todo):
            if self.journal:
                self.journal.save(units[index], evaluation.arrays())
            found[index] = evaluation
            self._tick(len(evaluation.best_iterations), h=units[index][2])
        self.evaluated.update((units[index], evaluation) for index, evaluation in found.items())
        return [found[index] for index in range(len(units))]

    def _compute(self, todo: list[tuple[int, Unit]]) -> Iterator[tuple[int, Evaluation]]:
        """Evaluations in worker processes when the parallelism asks for several. They are spawned, not
        forked: a child forked after the parent ran OpenMP (LightGBM) can hang in libgomp."""
        processes = min(self.parallelism.processes, len(todo))
        if processes <= 1 or self.config.engine == "dask":
            yield from ((index, self.evaluate_unit(unit)) for index, unit in todo)
            return
        if self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.frame, self.spec, self.config, self.parallelism),
            )
        futures = {self.pool.submit(_evaluate_in_worker, unit): index for index, unit in todo}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()

    def evaluate_unit(self, unit: Unit) -> Evaluation:
        kind, combo, h = unit
        return self.evaluate_recursive(kind, dict(combo)) if h == RECURSIVE else self.evaluate(kind, dict(combo), h)

    def _data(self, kind: str, h: int, mask: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
        """Inputs and target of step h on the masked rows, transformed; only the columns the transforms read
        are taken from the frame."""
        frame = self.frame.loc[mask, [*frame_columns(self.spec), *target_columns(kind, h)]]
        if h not in self.matrices:
            self.matrices[h] = horizon_matrix(self.frame, self.spec, h)
        matrix = transform_inputs(self.matrices[h][mask].copy(), frame, self.spec, kind)
        return matrix, transform_target(frame, kind, h)

    def _labelled(self, h: int, kind: str = "none") -> np.ndarray:
        """Rows where step h's target is known (for `changes`' later steps, the value before it too)."""
        return self.frame[target_columns(kind, h)].notna().all(axis=1).to_numpy()

    def _lgb_params(self, combo: dict[str, Any]) -> tuple[dict[str, Any], int]:
        params, rounds = lgb_params({**self.config.params, **combo}, self.config.seed)
        if self.parallelism.threads and "num_threads" not in self.config.params:
            params["num_threads"] = self.parallelism.threads
        return params, rounds

    def _fold_fit(self, kind: str, params: dict[str, Any], rounds: int, h: int, fold: Fold,
                  ) -> tuple[lgb.Booster, int, np.ndarray, pd.DataFrame]:
        """A model of step h trained before the fold and early-stopped on it: (model, best iteration, the
        fold's validation rows that have a target h steps on, their inputs)."""
        labelled = self._labelled(h, kind)
        train, valid = fold.masks(self.frame, h, self.step, self.config.gap)
        train, valid = train & labelled, valid & labelled
        if not train.any() or not valid.any():
            raise ValueError(
                f"validation fold starting {fold.first_origin} has no training or no validation "
                f"rows for horizon {h}; use fewer folds or a shorter window"
            )
        x_valid, y_valid = self._data(kind, h, valid)
        booster, best = self.trainer.train(params, rounds, *self._data(kind, h, train), (x_valid, y_valid))
        return booster, best, valid, x_valid

    def evaluate_recursive(self, kind: str, combo: dict[str, Any]) -> Evaluation:
        """The next-step model of each fold, iterated from every validation origin over the whole horizon."""
        params, rounds = self._lgb_params(combo)
        predictions, rows, steps, folds, fold_rows, iterations = [], [], [], [], [], []
        for i, fold in enumerate(self.folds):
            booster, best, _, _ = self._fold_fit(kind, params, rounds, 1, fold)
            iterations.append(best)
            origins = np.flatnonzero(fold.masks(self.frame, 1, self.step, self.config.gap)[1])
            history = frame_history(self.frame, self.spec, origins)
            forecasts = forecast(self.frame.iloc[origins], history, self.spec, booster, kind, best)
            fold_rows.append(0)
            for h, predicted in forecasts.items():
                keep = self._labelled(h)[origins]
                predictions.append(predicted[keep])
                rows.append(origins[keep])
                steps.append(np.full(int(keep.sum()), h))
                folds.append(np.full(int(keep.sum()), i))
                fold_rows[-1] += int(keep.sum())
        whole = Evaluation(float("nan"), np.concatenate(predictions), np.concatenate(rows), fold_rows, iterations,
                           np.concatenate(steps), np.concatenate(folds))
        whole.score = float(np.mean([whole.at(h, self.frame[f"__y_h{h}"].to_numpy(), self.config.metric).score
                                     for h in range(1, self.spec.horizon + 1)]))
        return whole

    def evaluate(self, kind: str, combo: dict[str, Any], h: int) -> Evaluation:
        """The direct model of step h on every fold. For `changes`, its answers are the changes into step h at
        every validation origin, scored as such: `_summed` makes them forecasts with the other steps'."""
        params, rounds = self._lgb_params(combo)
        predictions, rows, fold_rows, iterations = [], [], [], []
        for fold in self.folds:
            booster, best, valid, x_valid = self._fold_fit(kind, params, rounds, h, fold)
            iterations.append(best)
            if kind == STEPWISE:          # a running sum needs every origin's change, known at step h or not
                valid = fold.masks(self.frame, h, self.step, self.config.gap)[1]
                predicted = booster.predict(self._data(kind, h, valid)[0], num_iteration=best)
            else:
                predicted = invert(booster.predict(x_valid, num_iteration=best),
                                   self.frame.loc[valid, [LAST, MEAN, STD]], kind)
            predictions.append(predicted)
            rows.append(np.flatnonzero(valid))
            fold_rows.append(int(valid.sum()))
        rows_all = np.concatenate(rows)
        columns = self.frame[[LAST, *target_columns(kind, h)]].iloc[rows_all]
        actual = (transform_target(columns, kind, h) if kind == STEPWISE else columns[f"__y_h{h}"]).to_numpy()
        predicted_all = np.concatenate(predictions)
        known = ~np.isnan(actual)
        return Evaluation(
            score(actual[known], predicted_all[known])[self.config.metric], predicted_all, rows_all, fold_rows,
            iterations,
        )

    def refit(self, kind: str, combo: dict[str, Any], h: int, iterations: list[int]) -> lgb.Booster:
        params, _ = self._lgb_params(combo)
        x, y = self._data(kind, h, self._labelled(h, kind))
        booster, _ = self.trainer.train(params, max(1, round(float(np.mean(iterations)))), x, y)
        self._tick(1, h=h, refit=1)
        return booster

    def _tick(self, fits: int, **info: Any) -> None:
        self.done += fits
        self.emit(type="progress", done=self.done, total=self.total, unit="fits", **info)


def _frozen(combo: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(combo.items()))


def _units(strategy: str, kind: str, combo: dict[str, Any], steps: list[int], horizon: int) -> list[Unit]:
    """What to evaluate for a strategy at these steps ahead: a direct model per step (for `changes`, every step
    up to the horizon, as its forecasts sum them), or the recursive model once."""
    if strategy == "recursive":
        return [(kind, _frozen(combo), RECURSIVE)]
    return [(kind, _frozen(combo), h) for h in (range(1, horizon + 1) if kind == STEPWISE else steps)]


def baselines(frame: pd.DataFrame, h: int, rows: np.ndarray, season: int | None) -> dict[str, np.ndarray]:
    """Naive forecasts for the given rows: the last value, and the value one season back."""
    result = {"naive": frame[LAST].to_numpy()[rows]}
    if season:
        result["seasonal_naive"] = frame[f"__seasonal_h{h}"].to_numpy()[rows]
    return result
