"""Reporting a step's parameters and metrics to the recipe's trackers: TensorBoard event files in the step's
output (written with tensorboard's own event writer, no TensorFlow or torch needed), an MLflow run named
after the step and its fingerprint, and a W&B run (offline by default: its log in the step's output, for
`wandb sync`). Tracking never breaks a run: a tracker that cannot be reached or refuses a call is one
warning in the step's log, recorded in its metrics (`tracking_warning`) for the report, and is not called
again. An interrupted training step that resumes continues its MLflow run, and its W&B run (whose id is
the step's fingerprint)."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

MLFLOW_RUN = "mlflow_run.json"       # in the step's output: the run a resumed attempt continues


class Tracker:
    def __init__(self, tracking: dict[str, Any], out: Path):
        self.warnings: list[str] = []
        self._events = self._mlflow = self._wandb = None
        self._run_id: str | None = None
        self._recipe = tracking.get("recipe")
        if tracking.get("tensorboard"):
            self._guard("TensorBoard", self._open_tensorboard, out / "tensorboard")
        if tracking.get("mlflow"):
            self._guard("MLflow", self._open_mlflow, tracking["mlflow"], out)
        if tracking.get("wandb"):
            self._guard("W&B", self._open_wandb, tracking["wandb"], out)

    @property
    def mlflow_run_id(self) -> str | None:
        return self._run_id

    def params(self, values: dict[str, Any]) -> None:
        flat = {k: v for k, v in _flat(values).items() if v is not None}
        if self._mlflow is not None:
            from mlflow.entities import Param

            params = [Param(k[:250], str(v)[:6000]) for k, v in flat.items()]
            for start in range(0, len(params), 100):     # MLflow takes at most 100 parameters per call
                if self._mlflow is not None:
                    self._guard("MLflow", self._mlflow.log_batch, self._run_id, params=params[start:start + 100])
        if self._events is not None:
            text = "\n".join(f"{k}: {v}" for k, v in sorted(flat.items()))
            self._guard("TensorBoard", self._text, "parameters", text)
        if self._wandb is not None:
            self._guard("W&B", self._wandb.config.update, flat, allow_val_change=True)

    def metrics(self, values: dict[str, Any], step: int) -> None:
        numbers = {k: float(v) for k, v in _flat(values).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        if not numbers:
            return
        if self._events is not None:
            self._guard("TensorBoard", self._scalars, numbers, step)
        if self._wandb is not None:
            self._guard("W&B", self._wandb.log, numbers, step=step)
        if self._mlflow is not None:
            from mlflow.entities import Metric

            stamp = int(time.time() * 1000)
            metrics = [Metric(k[:250], v, stamp, step) for k, v in numbers.items()]
            for start in range(0, len(metrics), 1000):
                if self._mlflow is not None:
                    self._guard("MLflow", self._mlflow.log_batch, self._run_id, metrics=metrics[start:start + 1000])

    def artifacts(self, *paths: Path) -> None:
        """Files or folders for the MLflow run (plots, metrics.json), and the recipe file itself."""
        if self._mlflow is None:
            return
        for path in [*paths, Path(self._recipe) if self._recipe else None]:
            if path is not None and path.exists() and self._mlflow is not None:
                log = self._mlflow.log_artifacts if path.is_dir() else self._mlflow.log_artifact
                self._guard("MLflow", log, self._run_id, str(path))

    def close(self, ok: bool = True) -> None:
        if self._events is not None:
            self._guard("TensorBoard", self._events.close)
        if self._mlflow is not None:
            self._guard("MLflow", self._mlflow.set_terminated, self._run_id, "FINISHED" if ok else "FAILED")
        if self._wandb is not None:
            self._guard("W&B", self._wandb.finish, exit_code=0 if ok else 1)

    # ---------------------------------------------------------------- internals

    def _guard(self, tracker: str, call, *args, **kwargs) -> None:
        try:
            call(*args, **kwargs)
        except Exception as exc:   # noqa: BLE001 - any failure of a tracker is a warning, never the run's end
            warning = f"{tracker}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            print(f"tracking: {warning}; the run goes on without {tracker}", flush=True)
            self.warnings.append(warning)
            if tracker == "MLflow":
                self._mlflow = None
            elif tracker == "W&B":
                self._wandb = None
            else:
                self._events = None

    def _open_tensorboard(self, folder: Path) -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        folder.mkdir(parents=True, exist_ok=True)
        self._events = EventFileWriter(str(folder))

    def _scalars(self, numbers: dict[str, float], step: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=k, simple_value=v) for k, v in numbers.items()]
        self._events.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=values)))
        self._events.flush()

    def _text(self, tag: str, text: str) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

        tensor = TensorProto(dtype=7, string_val=[text.encode()], tensor_shape=TensorShapeProto(dim=[]))  # DT_STRING
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        value = Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
        self._events.add_event(Event(wall_time=time.time(), step=0, summary=Summary(value=[value])))

    def _open_mlflow(self, settings: dict[str, Any], out: Path) -> None:
        from modelops.recipe.env import expand

        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")   # an unreachable server: one quick warning
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=expand(settings["uri"]))
        experiment = client.get_experiment_by_name(settings["experiment"])
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(settings["experiment"])
        saved = out / MLFLOW_RUN
        if saved.is_file():                   # a resumed attempt: the same run goes on
            self._run_id = json.loads(saved.read_text(encoding="utf-8"))["run_id"]
            client.update_run(self._run_id, status="RUNNING")
        else:
            self._run_id = client.create_run(experiment_id, run_name=settings["run_name"]).info.run_id
            saved.write_text(json.dumps({"run_id": self._run_id, "experiment_id": experiment_id}), encoding="utf-8")
        self._mlflow = client


    def _open_wandb(self, settings: dict[str, Any], out: Path) -> None:
        import wandb

        quiet = wandb.Settings(silent=True, console="off", x_disable_stats=True, x_disable_meta=True,
                               x_disable_machine_info=True, disable_git=True, save_code=False,
                               disable_job_creation=True)   # no host, user, git or system facts in the log
        self._wandb = wandb.init(mode=settings["mode"], dir=str(out), project=settings["project"],
                                 name=settings["run_name"], id=settings["run_id"], resume="allow", settings=quiet)


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flat(value, f"{name}.")
        elif isinstance(value, list):
            out[name] = json.dumps(value, default=str)[:500]
        else:
            out[name] = value
    return out
