"""Hourly panels shaped like an ad-activation log, for the example, the tests and the benchmarks.

Per (user_id, material_id) series: a daily cycle, a weekly cycle, a trend, noise, intermittent zero
hours, series of different lengths and levels, and a few missing hours. The `period` column has the
`YYYY-MM-DD HH:MM - HH:MM` form of hourly reports. Vectorised with numpy, so a million rows take seconds.
Run: python examples/forecast/generate.py   (writes activations.csv beside this file)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-03-01")


def make_panel(series: int, min_hours: int, max_hours: int, seed: int = 7, missing: float = 0.01,
               users: int | None = None) -> pd.DataFrame:
    """A panel of `series` hourly series of min_hours..max_hours each (ending together), as raw rows."""
    rng = np.random.default_rng(seed)
    hours = rng.integers(min_hours, max_hours + 1, size=series)
    level = rng.uniform(2, 20, size=series)
    trend = rng.uniform(-0.0005, 0.002, size=series)
    ids = np.repeat(np.arange(series), hours)
    end = max_hours
    t = np.concatenate([np.arange(end - n, end) for n in hours])
    when = START + pd.to_timedelta(t, unit="h")
    hour, weekend = when.hour.to_numpy(), when.dayofweek.to_numpy() >= 5
    daily = 1 + 0.6 * np.sin(2 * np.pi * (hour - 9) / 24)
    weekly = np.where(weekend, 0.8, 1.0)
    lvl = level[ids]
    clicks = np.maximum(0, lvl * 6 * daily * weekly * (1 + trend[ids] * t) + rng.normal(0, 1, ids.size) * lvl)
    activations = np.maximum(0, 0.15 * clicks + rng.normal(0, 1, ids.size) * lvl * 0.15)
    activations[rng.random(ids.size) < 0.05] = 0.0
    keep = rng.random(ids.size) >= missing
    users = users or max(1, int(np.sqrt(series)))
    frame = pd.DataFrame({
        "user_id": np.array([f"u{i:03d}" for i in range(users)])[ids % users],
        "material_id": np.array([f"m{i:03d}" for i in range(-(-series // users))])[ids // users],
        "period": when.strftime("%Y-%m-%d %H:%M") + " - " + (when + pd.Timedelta(hours=1)).strftime("%H:%M"),
        "activations": activations.round(2), "clicks": clicks.round(1)})
    return frame[keep].reset_index(drop=True)


def main() -> None:
    out = Path(__file__).with_name("activations.csv")
    frame = make_panel(6, 24 * 10, 24 * 14, users=3)
    frame.to_csv(out, index=False)
    print(f"wrote {len(frame)} rows to {out}")


if __name__ == "__main__":
    main()
