"""Calendar frequencies end to end: monthly, weekly and business-day series — inferred from the data or
declared — through features, folds, gaps, apply, predict and the API's metadata."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from conftest import write

RECIPE = """version: 1
name: calendar
data:
  train: {{path: sales.csv}}
  time: {{column: day, format: "%Y-%m-%d"{extra}}}
task:
  kind: regression
  target: sales
  groups: [store]
  window: {window}
  horizon: 3
  validation: {{folds: 2}}
"""


def _panel(folder, freq: str, series: int = 8, drop: int | None = None) -> None:
    """Series on a calendar grid, each starting at another date (a monthly panel of stores opened at
    different times), all ending on the same date."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(series):
        times = pd.date_range(end="2024-12-31", periods=40 + 3 * s, freq=freq)
        for i, t in enumerate(times):
            if drop is not None and s == 0 and i == drop:
                continue
            rows.append((f"s{s}", t.strftime("%Y-%m-%d"), 50 + s + 0.5 * i + 5 * np.sin(i / 2) + rng.normal(0, 1)))
    with (folder / "sales.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("store", "day", "sales"), *rows])


@pytest.mark.parametrize("freq, shown, following", [
    ("MS", "MS", "2025-01-01"), ("ME", "ME", "2025-01-31"), ("QS", "QS-JAN", "2025-01-01"),
    ("W-SUN", "W-SUN", "2025-01-05"), ("B", "B", "2025-01-01"),
])
def test_a_calendar_frequency_is_inferred_and_forecast_on_its_grid(workspace, run_cli, freq, shown, following):
    _panel(workspace, freq)
    recipe = write(workspace, "r.yaml", RECIPE.format(extra="", window=4))
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    [features] = (workspace / "runs" / "calendar").glob("features-*/out")
    assert json.loads((features / "preprocessing.json").read_text())["features"]["frequency"] == shown
    code, out, err = run_cli("predict", recipe)
    assert code == 0, err
    first = out.splitlines()[1].split(",")
    assert first[2] == following and first[3] == "1"              # the next point of the grid, one step ahead


def test_a_declared_monthly_frequency_fills_a_missing_month(workspace, run_cli):
    _panel(workspace, "MS", drop=20)
    text = RECIPE.format(extra=", frequency: MS, missing: fill", window=4)
    code, out, err = run_cli("apply", write(workspace, "r.yaml", text), "-q")
    assert code == 0, err
    [features] = (workspace / "runs" / "calendar").glob("features-*/out")
    assert json.loads((features / "metrics.json").read_text())["rows_filled"] == 1
    _panel(workspace, "MS", drop=20)
    code, out, err = run_cli("apply", write(workspace, "r.yaml", RECIPE.format(extra="", window=4)), "-q")
    assert code == 1 and "1 gap(s) in the MS time grid" in err          # not 28-, 30- or 31-day "gaps"


def test_a_frequency_pandas_cannot_read_is_a_positioned_error(workspace, run_cli):
    _panel(workspace, "MS")
    code, out, err = run_cli("validate", write(workspace, "r.yaml", RECIPE.format(extra=", frequency: 31days",
                                                                                  window=4)))
    assert code == 2 and "r.yaml:5:" in err and "`31days` is not a pandas frequency" in err
