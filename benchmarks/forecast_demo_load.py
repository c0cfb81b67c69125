"""The demo forecast (`recipes/activations-forecast.yaml`: 27-combination grid × 3 steps ahead × 5 folds, 416
LightGBM fits on 1,857 rows) through `modelops apply`, alone and with two busy-loop processes competing for
the cores. Target: under 3 minutes in both cases. Beside it, the first 60 fits of the same search with
LightGBM's default threads (all cores, one fit at a time: what modelops did before choosing threads) against
modelops' choice, loaded, as fits per second.
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
SAMPLE_FITS = 60


@contextlib.contextmanager
def busy_loops(count: int):
    loops = [subprocess.Popen(BUSY) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


class Enough(Exception):
    pass


def fits_per_second(folder: Path, default_threads: bool) -> float:
    """The first SAMPLE_FITS fits of the demo's search, from its features step's output."""
    import pandas as pd

    from modelops.forecast.features import FeatureSpec
    from modelops.forecast.fit import FitConfig, Fitter
    from modelops.forecast.parallel import Parallelism, choose

    [features] = (folder / "runs" / "activations-forecast").glob("features-*/out")
    [fit_dir] = (folder / "runs" / "activations-forecast").glob("fit-*")
    params = json.loads((fit_dir / "step.json").read_text())["params"]
    preprocessing = json.loads((features / "preprocessing.json").read_text())
    spec = FeatureSpec(**preprocessing["features"])
    frame = pd.read_parquet(features / "features.parquet")
    parallelism = Parallelism(1, 0, "LightGBM default") if default_threads else \
        choose(len(frame), len(spec.model_columns() + spec.horizon_columns()), None)

    def stop(done, **_):
        if done >= SAMPLE_FITS:
            raise Enough

    started = time.perf_counter()
    with contextlib.suppress(Enough):
        Fitter(frame, spec, FitConfig.from_params(params), stop, parallelism).run()
    return SAMPLE_FITS / (time.perf_counter() - started)


def main() -> None:
    with demo_copy() as folder:
        alone = apply(folder)
        shutil.rmtree(folder / "runs")
        with busy_loops(2):
            loaded = apply(folder)
            chosen = fits_per_second(folder, default_threads=False)
            default = fits_per_second(folder, default_threads=True)
    print("| case | wall (s) | target |\n|---|---:|---|")
    print(f"| demo forecast apply, alone | {alone:.1f} | < 180 |")
    print(f"| demo forecast apply, two busy loops | {loaded:.1f} | < 180 |")
    print(f"\n| two busy loops, first {SAMPLE_FITS} fits | fits/s | × default |\n|---|---:|---:|")
    print(f"| LightGBM default threads, one fit at a time | {default:.2f} | 1.00 |")
    print(f"| modelops' choice | {chosen:.2f} | {chosen / default:.1f} |")


if __name__ == "__main__":
    main()
