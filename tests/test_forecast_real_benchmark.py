"""benchmarks/forecast_real.py on one real data set with two origins, so that the script cannot rot: both
tools forecast every origin, and modelops beats the naive forecast on quarterly beer production with each
strategy."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


def test_the_real_data_benchmark_scores_both_tools_on_the_same_origins():
    pytest.importorskip("mlforecast")
    pytest.importorskip("pmdarima")
    import forecast_real

    [name] = [n for n in forecast_real.DATASETS if n.startswith("ausbeer")]
    rows = {row["method"].split(" (")[0]: row for row in forecast_real.bench(name, replace(
        forecast_real.DATASETS[name], windows=2))}
    assert len(rows) == 8 and all(row["mae"] > 0 for row in rows.values())
    for strategy in ("direct", "recursive", "auto"):
        assert rows[f"modelops, strategy {strategy}"]["mae"] < rows["naive"]["mae"]
        assert rows[f"modelops, strategy {strategy}"]["seconds"] > 0
    assert [m for m, r in rows.items() if r["ratio"] == 1.0][0].startswith("mlforecast")   # the anchor
    for row in rows.values():
        low, high = row["interval"]
        assert low <= row["ratio"] <= high
