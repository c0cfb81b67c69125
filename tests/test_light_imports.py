"""validate and plan stay light: no ML framework is imported on their path."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

HEAVY = ("torch", "transformers", "trl", "peft", "lightgbm", "llama_cpp", "datasets", "accelerate", "pandas",
         "mlflow", "tensorboard")

PROBE = """
import sys
from modelops.cli import app
runs = (["validate", *sys.argv[1:]], ["plan", sys.argv[1], "--format", "json"],
        ["plan", sys.argv[2], "--format", "markdown"])
for args in runs:
    try:
        app(args)
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY})
print("HEAVY:", heavy)
"""


def test_validate_and_plan_import_no_heavy_library():
    recipes = [str(p) for p in sorted((ROOT / "recipes").glob("*.yaml"))]
    probe = PROBE.replace("{HEAVY}", repr(set(HEAVY)))
    result = subprocess.run([sys.executable, "-c", probe, *recipes], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "HEAVY: []" in result.stdout, result.stdout[-500:]
