"""The forecasting HTTP API: POST /predict (rows in, forecasts out), GET /health, GET /metadata.
Request rows are validated by a pydantic model built from the forecaster's columns, so a bad request
gets FastAPI's 422 with the field that is wrong. (No `from __future__ import annotations` here: FastAPI
reads the request model from the endpoint's real annotation.)"""

import json
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from modelops.forecast.frame import LARGEST, REQUEST, PanelError, step_of
from modelops.forecast.guard import Guard
from modelops.forecast.predictor import Forecaster

Number = Annotated[float, Field(allow_inf_nan=False, ge=-LARGEST, le=LARGEST)]     # no NaN, Infinity, 1e308
FIELD_TYPES = {"group": (str, ...), "time": (str, ...), "category": (str, ...), "number": (Optional[Number], None),
               "known": (Number, ...)}
SHOWN_KEY = 64            # longest field name echoed in a 422's `loc`


class Refused(BaseModel):
    series: str
    reason: str


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 without the `input` it echoes (a 100 MB field would come back whole)."""
    detail = [{"loc": [part if not isinstance(part, str) else part[:SHOWN_KEY] for part in error["loc"]],
               "msg": error["msg"], "type": error["type"]} for error in exc.errors()[:20]]
    return JSONResponse(status_code=422, content={"detail": detail})


def create_app(bundle: Path, max_in_flight: Optional[int] = None):
    forecaster = Forecaster(bundle / "models")
    metadata: dict[str, Any] = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    columns = forecaster.input_columns
    example = _example_row(columns, forecaster)
    Row = create_model("Row", __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
                       **{name: FIELD_TYPES[kind] for name, kind in columns.items()})
    bands = {f"{side}_{level}": (float, ...) for level in forecaster.intervals for side in ("lo", "hi")}
    Forecast = create_model("Forecast", **{g: (str, ...) for g in forecaster.panel_spec.groups},
                            origin=(str, ...), time=(str, ...), step_ahead=(int, ...), forecast=(float, ...), **bands)

    fields: dict[str, Any] = {"rows": (list[Row], Field(  # type: ignore[valid-type]
        min_length=1, description="Recent observations of one or more series."))}
    if forecaster.panel_spec.known:
        Future = create_model("FutureRow", __config__=ConfigDict(extra="forbid"),
                              **{name: FIELD_TYPES[kind] for name, kind in forecaster.future_columns.items()})
        fields["future"] = (list[Future], Field(default_factory=list, description=(  # type: ignore[valid-type]
            "The known-in-advance features over the horizon: a row per series and future time.")))
    PredictRequest = create_model("PredictRequest", __config__=ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rows": [example]}]}), **fields)

    class PredictResponse(BaseModel):
        model_version: str
        forecasts: list[Forecast]  # type: ignore[valid-type]
        refused: list[Refused]

    # no /docs or /redoc: their pages load Swagger UI and ReDoc from a CDN, which an offline server cannot reach
    app = FastAPI(title=f"{metadata['name']} forecasts", version=metadata["version"], docs_url=None, redoc_url=None)
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata")
    def get_metadata() -> dict[str, Any]:
        return metadata

    @app.post("/predict", responses={413: {"description": "Request body too large"},
                                     503: {"description": "Busy: retry after the `Retry-After` seconds"}})
    def predict(request: PredictRequest) -> PredictResponse:  # type: ignore[valid-type]
        frame = pd.DataFrame([row.model_dump() for row in request.rows], columns=list(columns))
        future = getattr(request, "future", [])
        try:
            if future:
                frame = forecaster.with_future(frame, pd.DataFrame([row.model_dump() for row in future]), "future")
        except PanelError as exc:
            raise HTTPException(status_code=422, detail=[{"loc": ["body", "future"], "msg": str(exc)}]) from None
        try:
            forecasts, refused = forecaster.predict(frame, REQUEST)
        except PanelError as exc:
            raise HTTPException(status_code=422, detail=[{"loc": ["body", "rows"], "msg": str(exc)}]) from None
        return PredictResponse(model_version=metadata["version"], forecasts=forecasts.to_dict(orient="records"),
                               refused=refused)

    return Guard(app, max_in_flight=max_in_flight)


def _example_row(columns: dict[str, str], forecaster: Forecaster) -> dict[str, Any]:
    spelling = forecaster.panel_spec.time_format or "%Y-%m-%d %H:%M:%S"
    values = {"group": "a", "category": "a", "number": 1.0, "time": pd.Timestamp("2025-03-01").strftime(spelling)}
    return {name: values[kind] for name, kind in columns.items()}


def bundle_metadata(name: str, version: str, forecaster: Forecaster, metrics: dict[str, Any]) -> dict[str, Any]:
    spec = forecaster.feature_spec
    return {"name": name, "version": version, "target": spec.target, "horizon": spec.horizon,
            "frequency": step_of(spec.frequency).freqstr, "history_needed": spec.history,
            "input_columns": forecaster.input_columns,
            "features": forecaster.config["feature_names"], "target_transform": forecaster.transform,
            "validation": {k: metrics[k] for k in ("mae", "naive_mae", "beats_naive") if k in metrics}}


class BackgroundServer:
    """uvicorn serving `app` on 127.0.0.1 and a free port in a thread, for smoke tests: `with ... as url:`."""

    def __init__(self, app: Callable):
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
