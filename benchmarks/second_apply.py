"""A second `modelops apply` of an unchanged recipe must cost under 5% of the first (at least 20 s) and
under 2 s of its own work. Uses the checked-in forecasting recipe (27-combination grid search).
Run: .venv/bin/python benchmarks/second_apply.py
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent


def apply(folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "modelops", "apply", "recipes/activations-forecast.yaml", "-q"], cwd=folder,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


@contextlib.contextmanager
def demo_copy() -> Iterator[Path]:
    """A temporary folder with the checked-in recipes and the forecast example's data."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "recipes", folder / "recipes")
        shutil.copytree(ROOT / "examples" / "forecast", folder / "examples" / "forecast")
        yield folder


def main() -> None:
    with demo_copy() as folder:
        first = apply(folder)
        second = min(apply(folder) for _ in range(3))
        print(f"| first apply (s) | second apply (s) | ratio |\n|---|---|---|\n| {first:.1f} | {second:.2f} | "
              f"{second / first:.1%} |")


if __name__ == "__main__":
    main()
