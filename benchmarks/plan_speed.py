"""Time `modelops validate` and `modelops plan` over every recipe in recipes/ against the import floor.

The baseline is `python -c "import pydantic, ruamel.yaml"`: the cheapest process that
could read a YAML recipe and validate it with pydantic. Each command is run REPEAT
times in fresh processes, interleaved with the baseline so machine load hits both
alike; the median wall time is reported, and the ratio to the baseline's median.

Run: python benchmarks/plan_speed.py   (or `make bench`)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = 15


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    recipes = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "recipes").glob("*.yaml"))]
    python = sys.executable
    commands = {
        "baseline: import pydantic, ruamel.yaml": [python, "-c", "import pydantic, ruamel.yaml"],
        "modelops validate recipes/*.yaml": [python, "-m", "modelops", "validate", *recipes],
    }
    for recipe in recipes:
        commands[f"modelops plan {recipe}"] = [python, "-m", "modelops", "plan", recipe, "--format", "json"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(REPEAT):
        for name, command in commands.items():
            times[name].append(wall(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["baseline: import pydantic, ruamel.yaml"]
    print("| command | median wall (ms) | × baseline |")
    print("|---|---:|---:|")
    for name, median in medians.items():
        print(f"| `{name}` | {median * 1000:.0f} | {median / baseline:.2f} |")


if __name__ == "__main__":
    main()
