"""Time an early-stopped fold fit with and without LightGBM's model-to-string round trip.

`lgb.train` ends by writing the model to a string and parsing it back (to drop its training data) unless
`keep_training_booster=True`. modelops' fold models only predict their own fold, so they keep the booster.
This fits the same early-stopped model both ways, interleaved, REPEAT times each on 50,000 rows × 20
features (one thread, as a fit in a worker process runs), and checks the fold predictions are identical.

Run: python benchmarks/fold_fit.py   (or `make bench`)
"""

from __future__ import annotations

import statistics
import time

import lightgbm as lgb
import numpy as np
import pandas as pd

REPEAT = 7
PARAMS = {"learning_rate": 0.05, "num_leaves": 31, "verbosity": -1, "num_threads": 1, "deterministic": True,
          "force_row_wise": True, "seed": 0}


def fit(x: pd.DataFrame, y: pd.Series, keep: bool) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    booster = lgb.train(PARAMS, lgb.Dataset(x[:50_000], y[:50_000]), 500,
                        valid_sets=[lgb.Dataset(x[50_000:], y[50_000:])],
                        callbacks=[lgb.early_stopping(20, verbose=False)], keep_training_booster=keep)
    predicted = booster.predict(x[50_000:], num_iteration=booster.best_iteration)
    return time.perf_counter() - started, predicted


def main() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(60_000, 20)), columns=[f"f{i}" for i in range(20)])
    y = x["f0"] * 2 + np.sin(x["f1"]) + rng.normal(size=len(x))
    times: dict[bool, list[float]] = {False: [], True: []}
    predictions: dict[bool, np.ndarray] = {}
    for _ in range(REPEAT):
        for keep in (False, True):
            seconds, predictions[keep] = fit(x, y, keep)
            times[keep].append(seconds)
    assert np.array_equal(predictions[False], predictions[True]), "the two ways predict differently"
    before, after = statistics.median(times[False]), statistics.median(times[True])
    print("| fold fit (early-stopped, 50,000 rows × 20 features) | median wall (s) | × round trip |")
    print("|---|---:|---:|")
    print(f"| with the model-to-string round trip (LightGBM's default) | {before:.3f} | 1.000 |")
    print(f"| keeping the training booster (modelops' fold fits) | {after:.3f} | {after / before:.3f} |")


if __name__ == "__main__":
    main()
