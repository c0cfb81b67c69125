"""The forecasting API under a burst: 3,000 POST /predict requests at concurrency 1,000 (each forecasting
every series of the demo recipe from its latest rows; the body is encoded once, so the client spends its
CPU on connections), against `modelops serve`'s limits (4 requests in progress per usable core, then 503
with Retry-After) and against the same app without them. Reported: answers by status,
connection errors, and latency percentiles of the answered requests.
Run: .venv/bin/python benchmarks/api_load.py
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
from second_apply import apply, demo_copy

REQUESTS, CONCURRENCY = 3000, 1000
SERVER = """
import sys, uvicorn
from pathlib import Path
from modelops.forecast.server import create_app
app = create_app(Path(sys.argv[1]), max_in_flight=int(sys.argv[3]) or None)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error", backlog=2048)
"""


def payload(folder: Path) -> dict:
    [features] = (folder / "runs" / "activations-forecast").glob("features-*/out")
    recent = pd.read_csv(features / "recent.csv", dtype=str, keep_default_na=False)
    numbers = {"activations", "clicks"}
    return {
        "rows": [
            {k: (float(v) if v else None) if k in numbers else v for k, v in row.items()}
            for row in recent.to_dict(orient="records")
        ]
    }


async def burst(url: str, body: bytes) -> dict:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:

        async def one() -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    answer = await client.post("/predict", content=body, headers={"content-type": "application/json"})
                    key = str(answer.status_code)
                    if answer.status_code == 200:
                        latencies.append(time.perf_counter() - started)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                statuses[key] = statuses.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(REQUESTS)))
        wall = time.perf_counter() - started
    latencies.sort()
    pick = (
        (lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2))
        if latencies
        else (lambda q: None)
    )
    return {"statuses": statuses, "p50_s": pick(0.5), "p99_s": pick(0.99), "wall_s": round(wall, 1)}


def serve(bundle: Path, limit: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(bundle), str(port), str(limit)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/health", timeout=1)
            return server, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def main() -> None:
    with demo_copy() as folder:
        apply(folder)
        [bundle] = (folder / "runs" / "activations-forecast").glob("api-*/out/bundle")
        body = json.dumps(payload(folder)).encode()
        results = {}
        for name, limit in (("modelops serve (4 per core in progress, then 503)", 0), ("no limit", 10**9)):
            server, url = serve(bundle, limit)
            try:
                results[name] = asyncio.run(burst(url, body))
            finally:
                server.terminate()
                server.wait()
            print(name, json.dumps(results[name]), flush=True)


if __name__ == "__main__":
    main()
