"""Write activations.csv: an hourly panel shaped like an ad-activation log.

Per (user_id, material_id) series: a daily cycle, a weekly cycle, a trend, noise,
intermittent zero hours, series of different lengths and a few missing hours.
The `period` column has the `YYYY-MM-DD HH:MM - HH:MM` form of hourly reports.
Run: python examples/forecast/generate.py
"""

from __future__ import annotations

import csv
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

START = datetime(2025, 3, 1)


def series(rng: random.Random, level: float, trend: float, hours: int):
    for t in range(hours):
        when = START + timedelta(hours=t)
        daily = 1 + 0.6 * math.sin(2 * math.pi * (when.hour - 9) / 24)
        weekly = 0.8 if when.weekday() >= 5 else 1.0
        clicks = max(0.0, level * 6 * daily * weekly * (1 + trend * t) + rng.gauss(0, level))
        activations = max(0.0, 0.15 * clicks + rng.gauss(0, level * 0.15))
        if rng.random() < 0.05:
            activations = 0.0
        yield when, round(activations, 2), round(clicks, 1)


def main() -> None:
    rng = random.Random(7)
    rows = []
    for user in ("u01", "u02", "u03"):
        for material in ("m1", "m2"):
            level = rng.uniform(2, 20)
            hours = rng.choice((24 * 10, 24 * 14, 24 * 14))
            for when, activations, clicks in series(rng, level, rng.uniform(-0.0005, 0.002), hours):
                if rng.random() < 0.01:
                    continue  # a missing hour
                period = f"{when:%Y-%m-%d %H:%M} - {when + timedelta(hours=1):%H:%M}"
                rows.append((user, material, period, activations, clicks))
    out = Path(__file__).with_name("activations.csv")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("user_id", "material_id", "period", "activations", "clicks"))
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
