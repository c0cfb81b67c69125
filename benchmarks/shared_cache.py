"""The shared cache (`cache: {url: ...}`) pays off on a second machine: the checked-in forecasting recipe
applied in one checkout (it runs and pushes), then in a second checkout with its own run directory (it
pulls every step, checking each output's hash), against the first apply's wall time; the two checkouts'
forecasts must be identical. And `predict` on an input holding 32,000 series too short to forecast besides
the real ones (each refusal is named).
Run: .venv/bin/python benchmarks/shared_cache.py
"""

from __future__ import annotations

import csv
import filecmp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from second_apply import demo_copy  # noqa: E402

RECIPE = "recipes/activations-forecast.yaml"
SHORT_SERIES = 32_000


def modelops(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "modelops", *args], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def with_short_series(folder: Path) -> Path:
    """The recipe's data with SHORT_SERIES one-row series added (a user id of their own each)."""
    rows = list(csv.reader((folder / "examples" / "forecast" / "activations.csv").open()))
    target = folder / "short.csv"
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(rows)
        user = rows[0].index("user_id")
        writer.writerows([*rows[-1][:user], f"x{i}", *rows[-1][user + 1:]] for i in range(SHORT_SERIES))
    return target


def main() -> None:
    with tempfile.TemporaryDirectory() as cache, demo_copy() as first, demo_copy() as second:
        for folder in (first, second):
            recipe = folder / RECIPE
            recipe.write_text(recipe.read_text() + f"cache: {{url: {cache}}}\n")
        ran = modelops(first, "apply", RECIPE, "-q")
        pulled = modelops(second, "apply", RECIPE, "-q")
        for folder in (first, second):
            modelops(folder, "predict", RECIPE, "--output", "forecasts.csv")
        assert filecmp.cmp(first / "forecasts.csv", second / "forecasts.csv", shallow=False)
        refused = modelops(first, "predict", RECIPE, "--input", str(with_short_series(first)), "--output", "f.csv")
    print("| apply that runs and pushes (s) | apply in a second checkout, pulling (s) | ratio |\n|---:|---:|---:|\n"
          f"| {ran:.1f} | {pulled:.2f} | {pulled / ran:.1%} |\n")
    print(f"| predict with {SHORT_SERIES:,} refused short series (s) |\n|---:|\n| {refused:.1f} |")


if __name__ == "__main__":
    main()
