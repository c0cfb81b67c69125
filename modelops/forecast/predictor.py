"""A fitted forecaster loaded from its folder (LightGBM text models + forecaster.json): forecasts the next
H steps of every series from its latest observations, refusing series with too little history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from modelops.forecast.features import LAST, FeatureSpec, build_features
from modelops.forecast.frame import GROUP, TIME, PanelError, PanelSpec, advance, load_panel, series_names, step_of
from modelops.forecast.recursive import forecast as iterate
from modelops.forecast.recursive import origin_history
from modelops.forecast.transforms import predict_steps

FORMAT = 2      # forecaster.json's: since 2, a direct `changes` model predicts the change into its own step


class StaleForecaster(Exception):
    """Models whose forecasts this modelops would compute differently from the fit that made them."""


class Forecaster:
    def __init__(self, folder: Path):
        self.config: dict[str, Any] = json.loads((folder / "forecaster.json").read_text(encoding="utf-8"))
        self.panel_spec = PanelSpec(**self.config["panel"])
        self.feature_spec = FeatureSpec(**self.config["features"])
        self.transform: str = self.config["transform"]
        self.strategy: str = self.config.get("strategy", "direct")
        if self.config.get("format", 1) < FORMAT and (self.strategy, self.transform) == ("direct", "changes"):
            raise StaleForecaster(f"{folder}: these direct `changes` models were fitted by an older modelops, whose "
                                  "models predicted the whole change from the latest value; refit them: "
                                  "`modelops apply RECIPE --force fit`")
        self.boosters = {
            int(h): lgb.Booster(model_file=str(folder / name)) for h, name in self.config["models"].items()
        }

    @property
    def input_columns(self) -> dict[str, str]:
        """Columns a request row carries, with their kind: `group`, `time`, `number` or `category`."""
        p = self.panel_spec
        columns = {g: "group" for g in p.groups} | {p.time_column: "time"}
        columns |= {s: "category" for s in p.static if s not in p.groups}
        return columns | {n: "number" for n in p.numeric}

    @property
    def future_columns(self) -> dict[str, str]:
        """Columns of a future table (the known features over the horizon): `group`, `time` or `known`."""
        p = self.panel_spec
        return {g: "group" for g in p.groups} | {p.time_column: "time"} | {k: "known" for k in p.known}

    def with_future(self, raw: pd.DataFrame, future: pd.DataFrame, source: str) -> pd.DataFrame:
        """The recent rows and, after them, the future table's: each series' known features at its next times,
        its static columns copied from its latest row, no target and no other feature. `source` names the
        future table in errors."""
        p = self.panel_spec
        if not p.known:
            raise PanelError(f"{source}: this model has no known-in-advance features (`task.known_features`), so "
                             "there is nothing a future table could give it")
        missing = [c for c in self.future_columns if c not in future.columns]
        if missing:
            raise PanelError(f"{source}: no column {', '.join(f'`{c}`' for c in missing)}; a future table holds "
                             f"{', '.join(f'`{c}`' for c in self.future_columns)}")
        keys, wanted = p.groups, future[list(self.future_columns)]
        static = [c for c in p.static if c not in keys]
        if not keys:                                                    # one series: its static columns as last seen
            rows = wanted.assign(**{c: raw[c].iloc[-1] for c in static})
            return pd.concat([raw, rows], ignore_index=True)[list(raw.columns)]
        latest = raw.drop_duplicates(keys, keep="last")[[*keys, *static]]
        rows = wanted.merge(latest, on=keys, how="left", indicator=True)
        unknown = sorted({"/".join(map(str, row)) for row in rows.loc[rows["_merge"] == "left_only", keys].values})
        if unknown:
            raise PanelError(f"{source}: rows for series the input does not have: {', '.join(unknown[:5])}; each "
                             "series needs its recent rows in the input")
        return pd.concat([raw, rows.drop(columns="_merge")], ignore_index=True)[list(raw.columns)]

    def predict(self, raw: pd.DataFrame, source: str = "input") -> tuple[pd.DataFrame, list[dict[str, str]]]:
        """(forecasts in long form: groups, origin, time, step_ahead, forecast) and the refused series.
        `source` names the rows in errors: a file, or `frame.REQUEST` for the API's request rows."""
        spec = self.feature_spec
        panel, _ = load_panel(raw, PanelSpec(**{**vars(self.panel_spec), "on_bad_rows": "error"}), 1, source)
        panel = panel[panel[spec.target].notna().groupby(panel[GROUP]).cumsum() > 0]  # drop leading blank targets
        observed = panel[spec.target].notna()
        counts = observed.groupby(panel[GROUP]).sum()
        short = counts[counts < spec.history].index
        names = series_names(panel[panel[GROUP].isin(short)], self.panel_spec.groups)
        refused = [
            {
                "series": names[g],
                "reason": f"{int(counts[g])} observation(s); needs at least {spec.history} (the largest lag or window)",
            }
            for g in short
        ]
        panel = panel[~panel[GROUP].isin(short)]
        if panel.empty:
            return pd.DataFrame(), refused
        frame = build_features(panel, spec, with_targets=False)
        latest = frame[frame[LAST].notna()].groupby(GROUP).tail(1).reset_index(drop=True)
        missing_known = [
            f"`{k}` {h} step(s) ahead"
            for k in spec.known
            for h in range(1, spec.horizon + 1)
            if latest[f"__known_{k}_h{h}"].isna().any()
        ]
        if missing_known:
            raise PanelError(
                "known-in-advance features need values for the next "
                f"{spec.horizon} time(s) of every series (a future table: `predict --future FILE`, the API's "
                "`future` rows; or rows after the last observed target); missing: " + ", ".join(missing_known[:6])
            )
        history = origin_history(panel, latest, spec) if self.strategy == "recursive" else None
        return forecast_latest(
            latest, spec, self.boosters, self.transform, self.panel_spec.time_format or "%Y-%m-%d %H:%M:%S",
            self.intervals, history,
        ), refused

    @property
    def intervals(self) -> dict[str, dict[str, float]]:
        """{level: {step ahead: half-width}} of the conformal intervals (none for models fitted without)."""
        return self.config.get("intervals") or {}


def forecast_latest(
    latest: pd.DataFrame, spec: FeatureSpec, boosters: dict[int, lgb.Booster], transform: str, spelling: str,
    intervals: dict[str, dict[str, float]] | None = None, history: np.ndarray | None = None,
) -> pd.DataFrame:
    """Forecasts in long form (groups, origin, time, step_ahead, forecast, and lo_<level>/hi_<level> for each
    interval) from feature rows taken as origins: by the direct model of each step ahead, or, given the origins'
    recent target values (`recursive.origin_history`), by the next-step model iterated."""
    if history is not None:
        forecasts = iterate(latest, history, spec, boosters[1], transform)
    else:
        forecasts = predict_steps(boosters, latest, spec, transform)
    step = step_of(spec.frequency)
    parts = []
    for h, values in sorted(forecasts.items()):
        part = latest[spec.groups].copy()
        part["origin"] = latest[TIME].dt.strftime(spelling)
        part["time"] = advance(latest[TIME], step, h).dt.strftime(spelling)
        part["step_ahead"] = h
        part["forecast"] = values
        for level, widths in (intervals or {}).items():
            part[f"lo_{level}"] = part["forecast"] - widths[str(h)]
            part[f"hi_{level}"] = part["forecast"] + widths[str(h)]
        parts.append(part)
    return pd.concat(parts).sort_values([*spec.groups, "step_ahead"], kind="stable").reset_index(drop=True)
