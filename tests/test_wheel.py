"""A normal (not editable) install works: the wheel carries the templates and catalogs, and from another
folder `init`, `validate`, `plan` and a regression `apply` with its report run from it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from conftest import ROOT


def _run(*command, cwd: Path) -> str:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def test_the_wheel_installed_into_a_fresh_virtualenv_inits_validates_plans_and_applies(tmp_path):
    _run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
         cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("modelops-*.whl")
    import zipfile

    carried = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"modelops/template_files/{p.relative_to(ROOT / 'templates').as_posix()}"
                 for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert templates <= carried, f"not in the wheel (list the folder in pyproject's packages): {templates - carried}"
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    # the dependencies come from this environment (a plain path: its editable modelops finder is not loaded)
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(python, "-c", "import modelops.templates as t; print(t.TEMPLATE_DIR)", cwd=work).strip()
    assert where.startswith(str(site)), where
    modelops = venv / "bin" / "modelops"
    _run(modelops, "init", "regression", "-o", "forecast.yaml", cwd=work)
    _run(modelops, "validate", "forecast.yaml", cwd=work)
    assert "LightGBM threads:" in _run(modelops, "plan", "forecast.yaml", cwd=work)
    _run(modelops, "apply", "forecast.yaml", "--quiet", cwd=work)
    [report] = work.glob("runs/*/report.html")
    assert "fit" in report.read_text(encoding="utf-8")
