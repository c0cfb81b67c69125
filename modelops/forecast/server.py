"""The forecasting HTTP API: POST /predict (rows in, forecasts out), GET /health, GET /metadata.
Request rows are validated by a pydantic model built from the forecaster's columns, so a bad request
gets FastAPI's 422 with the field that is wrong. (No `from __future__ import annotations` here: FastAPI
reads the request model from the endpoint's real annotation.)"""

import json
from pathlib import Path
from typing import Any, Optional

import pandas as pd
from pandas.tseries.frequencies import to_offset
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, create_model

from modelops.forecast.frame import REQUEST, PanelError
from modelops.forecast.predictor import Forecaster

FIELD_TYPES = {"group": (str, ...), "time": (str, ...), "category": (str, ...), "number": (Optional[float], None)}


def create_app(bundle: Path) -> FastAPI:
    forecaster = Forecaster(bundle / "models")
    metadata: dict[str, Any] = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    columns = forecaster.input_columns
    Row = create_model("Row", __config__=ConfigDict(extra="forbid"),
                       **{name: FIELD_TYPES[kind] for name, kind in columns.items()})

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        rows: list[Row] = Field(min_length=1, description="Recent observations of one or more series.")  # type: ignore[valid-type]

    # no /docs or /redoc: their pages load Swagger UI and ReDoc from a CDN, which an offline server cannot reach
    app = FastAPI(title=f"{metadata['name']} forecasts", version=metadata["version"], docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata")
    def get_metadata() -> dict[str, Any]:
        return metadata

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        frame = pd.DataFrame([row.model_dump() for row in request.rows], columns=list(columns))
        try:
            forecasts, refused = forecaster.predict(frame, REQUEST)
        except PanelError as exc:
            raise HTTPException(status_code=422, detail=[{"loc": ["body", "rows"], "msg": str(exc)}]) from None
        return {"model_version": metadata["version"], "forecasts": forecasts.to_dict(orient="records"),
                "refused": refused}

    return app


def bundle_metadata(name: str, version: str, forecaster: Forecaster, metrics: dict[str, Any]) -> dict[str, Any]:
    spec = forecaster.feature_spec
    return {"name": name, "version": version, "target": spec.target, "horizon": spec.horizon,
            "frequency": to_offset(pd.Timedelta(spec.frequency)).freqstr, "history_needed": spec.history,
            "input_columns": forecaster.input_columns,
            "features": forecaster.config["feature_names"], "target_transform": forecaster.transform,
            "validation": {k: metrics[k] for k in ("mae", "naive_mae", "beats_naive") if k in metrics}}


class BackgroundServer:
    """uvicorn serving `app` on 127.0.0.1 and a free port in a thread, for smoke tests: `with ... as url:`."""

    def __init__(self, app: FastAPI):
        import socket

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the API server did not start on port {self.port}")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
