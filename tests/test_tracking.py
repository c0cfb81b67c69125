"""Experiment tracking against the real things: a forecast run logged to an `mlflow server` on 127.0.0.1
(SQLite store, served artifacts) and read back with MlflowClient, TensorBoard files read back with
tensorboard's own reader, and a server that does not answer costing a warning, never the run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import REGRESSION, write


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=subprocess.DEVNULL, stderr=(folder / "server.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("mlflow server did not start: " + (folder / "server.log").read_text()[-2000:])
    yield url
    server.terminate()
    server.wait(timeout=30)


def _fit_out(workspace: Path) -> Path:
    [out] = (workspace / "runs" / "forecast").glob("fit-*/out")
    return out


def test_a_forecast_run_is_logged_to_a_real_mlflow_server_and_to_tensorboard(workspace, run_cli, mlflow_server):
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = write(workspace, "r.yaml", REGRESSION + f"tracking: {{mlflow: {{uri: '{mlflow_server}'}}}}\n")
    code, out, err = run_cli("plan", recipe)
    assert f"tracking.mlflow.uri: MLflow server {mlflow_server}" in out          # the reviewer sees where it goes
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    metrics = json.loads((_fit_out(workspace) / "metrics.json").read_text())
    fingerprint = json.loads((workspace / "runs" / "forecast" / "state.json").read_text())["steps"]["fit"][
        "fingerprint"]
    client = MlflowClient(mlflow_server)
    [run] = client.search_runs([client.get_experiment_by_name("forecast").experiment_id])
    assert run.info.run_name == f"forecast/fit {fingerprint[:12]}" and run.info.status == "FINISHED"
    assert run.data.params["model.type"] == "lightgbm" and run.data.params["validation.folds"] == "2"
    assert run.data.metrics["mae"] == pytest.approx(metrics["mae"]) and "naive_mae" in run.data.metrics
    assert {"r.yaml", "metrics.json", "importance.png", "importance.csv"} <= {a.path for a in client.list_artifacts(
        run.info.run_id)}
    events = EventAccumulator(str(_fit_out(workspace) / "tensorboard"))
    events.Reload()
    assert events.Scalars("mae")[0].value == pytest.approx(metrics["mae"])
    assert "parameters" in events.Tags()["tensors"]
    code, out, err = run_cli("plan", write(workspace, "r.yaml", REGRESSION + "tracking: {tensorboard: false}\n"))
    assert "~" not in out.split("changes against the run directory:")[1]      # trackers change no fingerprint


def _wandb_records(path: Path) -> list:
    """The records of a W&B run log (`run-*.wandb`): LevelDB's log format (32 KiB blocks of records with a
    7-byte header: checksum, length, type full/first/middle/last) after W&B's 7-byte file header, each
    record one `wandb_internal_pb2.Record` — the file `wandb sync` uploads."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data, records, pending, at = path.read_bytes(), [], b"", 7
    assert data[:4] == b":W&B"
    while at + 7 <= len(data):
        room = 32768 - at % 32768
        if room < 7:                                   # a block's tail too short for a header is padding
            at += room
            continue
        _, length, kind = struct.unpack("<IHB", data[at:at + 7])
        if kind == 0:                                  # zero padding up to the end of the block
            at += room
            continue
        pending += data[at + 7:at + 7 + length]
        at += 7 + length
        if kind in (1, 4):                             # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_a_forecast_run_is_logged_to_weights_and_biases_offline(workspace, run_cli):
    pytest.importorskip("wandb")
    recipe = write(workspace, "r.yaml", REGRESSION + "tracking: {wandb: {project: demand}}\n")
    code, out, err = run_cli("plan", recipe)
    assert "network: none (nothing leaves this machine)" in out                # offline: it stays in the run
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0 and "tracking failed" not in err, out + err
    metrics = json.loads((_fit_out(workspace) / "metrics.json").read_text())
    fingerprint = json.loads((workspace / "runs" / "forecast" / "state.json").read_text())["steps"]["fit"][
        "fingerprint"]
    [log] = (_fit_out(workspace) / "wandb").glob("offline-run-*/run-*.wandb")
    records = _wandb_records(log)
    [run] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == f"forecast/fit {fingerprint[:12]}" and run.project == "demand"
    assert run.run_id == fingerprint[:32]                                      # a resumed step continues it
    config = {i.key or ".".join(i.nested_key): json.loads(i.value_json) for r in records
              if r.WhichOneof("record_type") == "config" for i in r.config.update}
    assert config["model.type"] == "lightgbm" and config["validation.folds"] == 2
    history = {i.key or ".".join(i.nested_key): json.loads(i.value_json) for r in records
               if r.WhichOneof("record_type") == "history" for i in r.history.item}
    assert history["mae"] == pytest.approx(metrics["mae"]) and "naive_mae" in history
    assert socket.gethostname().encode() not in log.read_bytes() or len(socket.gethostname()) < 6


def test_an_unreachable_tracking_server_is_a_warning_not_a_failed_run(workspace, run_cli):
    recipe = write(workspace, "r.yaml", REGRESSION + f"tracking: {{mlflow: {{uri: 'http://127.0.0.1:{_free_port()}'}}}}\n")
    started = time.monotonic()
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0, err
    assert time.monotonic() - started < 120
    assert "warning: forecast/fit: tracking failed, the run went on: MLflow" in err
    assert "the run goes on without MLflow" in (_fit_out(workspace).parent / "log.txt").read_text()
    assert "MLflow" in json.loads((_fit_out(workspace) / "metrics.json").read_text())["tracking_warning"]
    assert "⚠ tracking failed" in (workspace / "runs" / "forecast" / "report.md").read_text()
    assert (_fit_out(workspace) / "tensorboard").is_dir()                     # the other tracker still wrote


def test_the_tracking_uri_may_come_from_the_environment_only_when_the_step_runs(workspace, run_cli, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://secret.example:5000")
    recipe = write(workspace, "r.yaml", REGRESSION + "tracking: {mlflow: {uri: '${MLFLOW_TRACKING_URI}'}}\n")
    code, out, err = run_cli("plan", recipe, "-f", "json")
    assert code == 0 and "secret.example" not in out and "${MLFLOW_TRACKING_URI}" in out
