"""How LightGBM fits share the CPUs (usable CPUs, threads per fit, parallel processes) and how an interrupted
search resumes from its journal — with the same result as a search that ran straight through."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "forecast"))
from generate import make_panel  # noqa: E402

from modelops.forecast.features import FeatureSpec, build_features  # noqa: E402
from modelops.forecast.fit import FitConfig, Fitter  # noqa: E402
from modelops.forecast.frame import PanelSpec, load_panel  # noqa: E402
from modelops.forecast.journal import Journal  # noqa: E402
from modelops.forecast.parallel import SMALL_FIT_CELLS, Parallelism, choose  # noqa: E402
from modelops.machine import UsableCpus, usable_cpus  # noqa: E402


@pytest.mark.parametrize("cpu_max, v1, expected", [
    ("max 100000\n", None, 2),            # cgroup v2, no quota: the affinity mask decides
    ("100000 100000\n", None, 1),         # --cpus 1
    ("150000 100000\n", None, 1),         # --cpus 1.5: whole CPUs only
    (None, ("50000", "100000"), 1),       # cgroup v1 quota of half a CPU: still one
    (None, ("-1", "100000"), 2),          # cgroup v1 without quota
])
def test_usable_cpus_are_the_affinity_mask_capped_by_the_cgroup_quota(tmp_path, monkeypatch, cpu_max, v1, expected):
    monkeypatch.setattr("os.sched_getaffinity", lambda _: {0, 1})
    if cpu_max:
        (tmp_path / "cpu.max").write_text(cpu_max)
    if v1:
        (tmp_path / "cpu").mkdir()
        (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(v1[0])
        (tmp_path / "cpu" / "cpu.cfs_period_us").write_text(v1[1])
    cpus = usable_cpus(tmp_path)
    assert cpus.count == expected and "affinity 2" in cpus.reason


def test_small_fits_get_one_thread_each_and_run_side_by_side_large_ones_get_every_thread():
    four = UsableCpus(4, "4 usable CPU(s)")
    small = choose(1_857, 12, None, four)
    assert (small.processes, small.threads) == (4, 1) and "small" in small.reason
    large = choose(SMALL_FIT_CELLS, 2, None, four)
    assert (large.processes, large.threads) == (1, 4)
    pinned = choose(1_857, 12, 1, four)
    assert (pinned.processes, pinned.threads) == (1, 1) and "hardware.threads 1" in pinned.reason


@pytest.fixture(scope="module", params=["direct", "auto"])
def frame_and_spec(request):
    """A search with the direct strategy (lags of clicks too), and one choosing between direct and recursive."""
    strategy = request.param
    features = ["clicks"] if strategy == "direct" else []
    raw = make_panel(4, 24 * 6, 24 * 7, seed=5).rename(columns={})
    panel_spec = PanelSpec("period", "%Y-%m-%d %H:%M", " - ", "h", "fill", "error", "activations", features,
                           ["user_id", "material_id"])
    panel, report = load_panel(raw, panel_spec, 8, "panel")
    spec = FeatureSpec("activations", features, ["user_id", "material_id"], [1, 2, 3], 2, calendar=["hour"])
    spec.frequency = report["frequency"]
    config = FitConfig({"n_estimators": 60}, 10, {"grid": {"num_leaves": [7, 15, 31]}, "method": "grid",
                                                  "metric": "mae"}, 2, None, 0, ["mae"], "auto", 0, strategy=strategy)
    return build_features(panel, spec), spec, config


def _fit(frame_and_spec, parallelism, journal=None, emit=lambda **_: None):
    frame, spec, config = frame_and_spec
    return Fitter(frame, spec, config, emit, parallelism, journal)


def _summary(result):
    return (result.strategy, result.transform, result.params,
            {h: (round(e.score, 12), e.best_iterations) for h, e in result.evaluations.items()},
            {h: b.model_to_string() for h, b in result.boosters.items()})


def test_parallel_processes_give_exactly_the_sequential_result(frame_and_spec):
    sequential = _fit(frame_and_spec, Parallelism(1, 1, "")).run()
    parallel = _fit(frame_and_spec, Parallelism(2, 1, "")).run()
    assert _summary(parallel) == _summary(sequential)


def test_an_interrupted_search_resumes_from_its_journal_with_the_same_result(frame_and_spec, tmp_path):
    straight = _fit(frame_and_spec, Parallelism(1, 1, "")).run()

    class Interrupt(Exception):
        pass

    def stop_after_some(done, total, **_):
        if done >= total // 2:
            raise Interrupt
    journal = Journal(tmp_path / "evaluations")
    with pytest.raises(Interrupt):
        _fit(frame_and_spec, Parallelism(1, 1, ""), journal, stop_after_some).run()
    journalled = len(list((tmp_path / "evaluations").glob("*.npz")))
    assert journalled >= 2
    (tmp_path / "evaluations" / "garbage.npz").write_bytes(b"not a zip")       # ignored, not trusted
    progress = []
    resumed_fitter = _fit(frame_and_spec, Parallelism(2, 1, ""), journal, lambda **event: progress.append(event))
    resumed = resumed_fitter.run()
    assert resumed_fitter.resumed == journalled
    assert _summary(resumed) == _summary(straight)
    assert progress[-1]["done"] == progress[-1]["total"]
    assert np.all(np.diff([event["done"] for event in progress]) > 0)


def test_journal_entries_of_another_format_are_computed_again(tmp_path, monkeypatch):
    """An entry an older modelops wrote may mean something else (a direct `changes` unit held forecasts)."""
    from modelops.forecast import journal as journal_module

    journal, unit = Journal(tmp_path / "evaluations"), ("changes", (), 2)
    journal.save(unit, {"score": np.array(1.5)})
    assert float(journal.load(unit)["score"]) == 1.5
    monkeypatch.setattr(journal_module, "FORMAT", journal_module.FORMAT - 1)
    assert journal.load(unit) is None


def test_usable_memory_is_ram_capped_by_the_cgroup_limit(tmp_path):
    from modelops.machine import usable_memory_gib

    (tmp_path / "meminfo").write_text("MemTotal:       24683584 kB\nMemFree: 1 kB\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert usable_memory_gib(tmp_path / "meminfo", tmp_path) == pytest.approx(23.54, abs=0.01)
    (tmp_path / "memory.max").write_text(str(8 * 2**30) + "\n")
    assert usable_memory_gib(tmp_path / "meminfo", tmp_path) == 8
    assert usable_memory_gib(tmp_path / "missing", tmp_path) is None


def test_apply_interrupted_mid_search_resumes_from_the_journal(workspace):
    import signal
    import subprocess
    import time

    from conftest import REGRESSION, write

    recipe = write(
        workspace,
        "r.yaml",
        REGRESSION.replace(
            "validation: {folds: 2}",
            "validation: {folds: 2}\n  search: "
            "{grid: {num_leaves: [3, 5, 7, 9, 11, 13, 15, 17], learning_rate: [0.05, 0.1, 0.2, 0.3]}}",
        ),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops", "apply", str(recipe), "-q"],
        cwd=workspace,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    journalled: list = []
    for _ in range(600):
        journalled = list(workspace.glob("runs/forecast/fit-*/evaluations/*.npz"))
        if len(journalled) >= 3 or process.poll() is not None:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and len(journalled) >= 3, err[-2000:]
    rerun = subprocess.run(
        [sys.executable, "-m", "modelops", "apply", str(recipe), "-q"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    [log] = workspace.glob("runs/forecast/fit-*/log.txt")
    resumed = int(log.read_text().split("resumed: ")[1].split()[0])
    assert resumed >= len(journalled)
    assert not list(workspace.glob("runs/forecast/fit-*/evaluations"))  # removed once the step finished
