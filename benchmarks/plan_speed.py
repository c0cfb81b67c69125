"""Time `modelops validate` and `modelops plan` over every recipe in recipes/ against the import floor.

The baseline is `python -c "import pydantic, ruamel.yaml"`: the cheapest process that
could read a YAML recipe and validate it with pydantic. Each command is run REPEAT
times in fresh processes, interleaved with the baseline so machine load hits both
alike; the median wall time is reported, and the ratio to the baseline's median.

Run: python benchmarks/plan_speed.py   (or `make bench`)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = 15


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


PANEL_RECIPE = """version: 1
name: panel
data:
  train: {path: panel.csv}
  time: {column: period, format: "%Y-%m-%d %H:%M"}
task: {kind: regression, target: y, groups: [id], window: 24, horizon: 6}
"""


def panel(folder: Path, series: int, hours: int) -> Path:
    """A recipe over an hourly panel CSV, series after series (2,400 × 1,000 is 60 MB: under the 64 MiB up to
    which `plan` reads the time column to check the series are long enough)."""
    import numpy as np
    import pandas as pd

    times = pd.date_range("2025-01-01", periods=hours, freq="h").strftime("%Y-%m-%d %H:%M")
    pd.DataFrame({"id": np.repeat([f"s{i:04d}" for i in range(series)], hours), "period": np.tile(times, series),
                  "y": np.random.default_rng(0).poisson(5, series * hours)}).to_csv(folder / "panel.csv", index=False)
    (folder / "r.yaml").write_text(PANEL_RECIPE)
    return folder / "r.yaml"


def main() -> None:
    recipes = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "recipes").glob("*.yaml"))]
    python = sys.executable
    commands = {
        "baseline: import pydantic, ruamel.yaml": [python, "-c", "import pydantic, ruamel.yaml"],
        "modelops validate recipes/*.yaml": [python, "-m", "modelops", "validate", *recipes],
    }
    for recipe in recipes:
        commands[f"modelops plan {recipe}"] = [python, "-m", "modelops", "plan", recipe, "--format", "json"]
    scratch = Path(tempfile.mkdtemp(prefix="modelops-plan-speed-"))
    for label, series, hours in (("60 MB", 2400, 1000), ("40 kB", 2, 1000)):
        (scratch / label).mkdir()
        recipe = panel(scratch / label, series, hours)
        commands[f"modelops plan (a panel recipe, {label} CSV)"] = [python, "-m", "modelops", "plan", str(recipe),
                                                                     "--format", "json"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(REPEAT):
        for name, command in commands.items():
            times[name].append(wall(command))
    shutil.rmtree(scratch)
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["baseline: import pydantic, ruamel.yaml"]
    print("| command | median wall (ms) | × baseline |")
    print("|---|---:|---:|")
    for name, median in medians.items():
        print(f"| `{name}` | {median * 1000:.0f} | {median / baseline:.2f} |")


if __name__ == "__main__":
    main()
