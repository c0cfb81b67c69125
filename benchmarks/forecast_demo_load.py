"""The demo forecast (`recipes/activations-forecast.yaml`: 27-combination grid × 3 steps ahead × 5 folds, 416
LightGBM fits on 1,857 rows) through `modelops apply`, alone and with two busy-loop processes competing for
the cores. Target: under 3 minutes in both cases. Beside it, under the same load, a cut-down search (9
fits) with LightGBM's default threads (all cores, one fit at a time: what modelops did before it chose
threads) against modelops' choice.
Run: .venv/bin/python benchmarks/forecast_demo_load.py
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from second_apply import apply, demo_copy

BUSY = [sys.executable, "-c", "while True: pass"]


@contextlib.contextmanager
def busy_loops(count: int):
    loops = [subprocess.Popen(BUSY) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def small_search_seconds(folder: Path, default_threads: bool) -> float:
    """The demo's fit step cut to one parameter set and 2 folds (9 fits), from its features step's output."""
    import dataclasses

    import pandas as pd

    from modelops.forecast.features import FeatureSpec
    from modelops.forecast.fit import FitConfig, Fitter
    from modelops.forecast.parallel import Parallelism, choose

    [features] = (folder / "runs" / "activations-forecast").glob("features-*/out")
    [fit_dir] = (folder / "runs" / "activations-forecast").glob("fit-*")
    params = json.loads((fit_dir / "step.json").read_text())["params"]
    config = dataclasses.replace(FitConfig.from_params(params), search=None, folds=2, target_transform="none")
    spec = FeatureSpec(**json.loads((features / "preprocessing.json").read_text())["features"])
    frame = pd.read_parquet(features / "features.parquet")
    parallelism = Parallelism(1, 0, "LightGBM default") if default_threads else \
        choose(len(frame), len(spec.model_columns() + spec.horizon_columns()), None)
    started = time.perf_counter()
    Fitter(frame, spec, config, lambda **_: None, parallelism).run()
    return time.perf_counter() - started


def main() -> None:
    with demo_copy() as folder:
        alone = apply(folder)
        shutil.rmtree(folder / "runs")
        with busy_loops(2):
            loaded = apply(folder)
            chosen = small_search_seconds(folder, default_threads=False)
            default = small_search_seconds(folder, default_threads=True)
    print("| case | wall (s) | target |\n|---|---:|---|")
    print(f"| demo forecast apply, alone | {alone:.1f} | < 180 |")
    print(f"| demo forecast apply, two busy loops | {loaded:.1f} | < 180 |")
    print("\n| two busy loops, 9 fits (1 parameter set × 3 steps ahead × 2 folds, + refits) | wall (s) | speed-up |")
    print("|---|---:|---:|")
    print(f"| LightGBM default threads (all cores), one fit at a time | {default:.1f} | 1.0 |")
    print(f"| modelops' choice | {chosen:.1f} | {default / chosen:.1f}× |")


if __name__ == "__main__":
    main()
