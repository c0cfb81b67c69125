"""Scale: `modelops apply` of a forecasting recipe on about 1 million rows in 10,000 series, on this machine.
Records wall time per step and the peak memory (resident set) of the step processes.
Run: .venv/bin/python benchmarks/forecast_scale.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "forecast"))

from generate import make_panel  # noqa: E402

RECIPE = """version: 1
name: scale
data:
  train: {path: panel.csv}
  time: {column: period, format: "%Y-%m-%d %H:%M", range_separator: " - ", frequency: h, missing: fill}
task:
  kind: regression
  target: activations
  features: [clicks]
  groups: [user_id, material_id]
  window: 3
  horizon: 2
  calendar: [hour, dayofweek]
  model: {params: {n_estimators: 200}}
  validation: {folds: 2}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        frame = make_panel(10_000, 80, 120, seed=11)
        frame.to_csv(root / "panel.csv", index=False)
        (root / "scale.yaml").write_text(RECIPE, encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "modelops", "apply", "scale.yaml", "-q"], cwd=root, check=True)
        wall = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        state = json.loads((root / "runs" / "scale" / "state.json").read_text())
        steps = {k: round(v["ended"] - v["started"], 1) for k, v in state["steps"].items()}
        print(f"| rows | series | apply wall (s) | steps (s) | peak RSS of a step (MiB) |\n|---|---|---|---|---|\n"
              f"| {len(frame)} | 10000 | {wall:.0f} | {steps} | {peak_mib:.0f} |")


if __name__ == "__main__":
    main()
