"""Step `api_bundle`: the fitted models plus metadata, in a folder `modelops serve` runs; smoke-tested by
starting the API on 127.0.0.1 and forecasting the training data's latest rows over real HTTP."""

from __future__ import annotations

import json
import shutil
import time

import httpx
import pandas as pd

from modelops.forecast.predictor import Forecaster
from modelops.forecast.server import BackgroundServer, bundle_metadata, create_app
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    bundle = spec.out / "bundle"
    shutil.copytree(spec.inputs["models"], bundle / "models")
    forecaster = Forecaster(bundle / "models")
    fit_metrics = json.loads(spec.inputs["metrics.json"].read_text(encoding="utf-8"))
    metadata = bundle_metadata(spec.params.name, spec.fingerprint[:12], forecaster, fit_metrics)
    spec.write_json("bundle/metadata.json", metadata)

    recent = pd.read_csv(spec.inputs["recent.csv"], dtype=str, keep_default_na=False)
    rows = [{k: (v if forecaster.input_columns[k] != "number" else (float(v) if v != "" else None))
             for k, v in row.items()} for row in recent.to_dict(orient="records")]
    with BackgroundServer(create_app(bundle)) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/metadata").json()["version"] == metadata["version"]
        started = time.perf_counter()
        response = client.post("/predict", json={"rows": rows})
        latency = time.perf_counter() - started
        bad = client.post("/predict", json={"rows": [{"nope": 1}]})
    if response.status_code != 200:
        raise SystemExit(f"smoke test: POST /predict answered {response.status_code}: {response.text[:500]}")
    if bad.status_code != 422:
        raise SystemExit(f"smoke test: a malformed request answered {bad.status_code}, expected 422")
    body = response.json()
    expected = (
        recent.drop_duplicates(forecaster.panel_spec.groups).shape[0] - len(body["refused"])
    ) * forecaster.feature_spec.horizon
    if len(body["forecasts"]) != expected:
        raise SystemExit(f"smoke test: {len(body['forecasts'])} forecasts, expected {expected}")
    metrics = {
        "smoke_forecasts": len(body["forecasts"]),
        "smoke_latency_ms": round(latency * 1000, 1),
        "smoke_rows_sent": len(rows),
    }
    spec.write_json("metrics.json", metrics)
    print(
        f"bundle written (version {metadata['version']}); smoke test: {len(rows)} rows → "
        f"{len(body['forecasts'])} forecasts in {latency * 1000:.0f} ms over HTTP"
    )


if __name__ == "__main__":
    main(run)
