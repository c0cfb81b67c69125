"""benchmarks/gpu.py at its CPU size, so that the script a GPU machine runs cannot rot: it plans and trains
a catalog-shaped model from scratch and reports measured against estimated memory and step time."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def test_the_gpu_benchmark_runs_at_tiny_size_and_reports_measured_against_planned(tmp_path):
    out = tmp_path / "result.json"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--size", "tiny", "--variants",
                             "lora", "--steps", "2", "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = json.loads(out.read_text())
    assert "error" not in row, row
    assert row["parameters"] > 0 and row["tokens_per_second"] > 0 and 0 < row["mfu"] < 1
    assert row["peak_memory_gib"] > 0 and row["memory_estimate_gib"] > 0 and row["memory_ratio"] > 0
    assert row["seconds_per_step"] > 0 and row["step_ratio"] > 0
