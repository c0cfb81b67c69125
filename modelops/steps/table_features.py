"""Step `table_features`: read the table, clean it into a panel, build lag/calendar/known features and
horizon targets. Outputs features.parquet, preprocessing.json (everything prediction needs to rebuild
the same features) and recent.csv (each series' latest rows, in the input's own shape)."""

from __future__ import annotations

import sys

import pandas as pd

from modelops.forecast.features import FeatureSpec, build_features
from modelops.forecast.frame import GROUP, TIME, PanelError, PanelSpec, load_panel, read_table
from modelops.forecast.history import required_length
from modelops.steps.runtime import Spec, main


def raw_rows(panel: pd.DataFrame, panel_spec: PanelSpec, depth: int, horizon: int) -> pd.DataFrame:
    """Each series' latest rows with the input's column names and time spelling: a ready prediction request.
    With known-in-advance features, its last `horizon` rows play the future (known values, no observations)."""
    future = horizon if panel_spec.known else 0
    recent = panel.groupby(GROUP, sort=False).tail(depth + future).copy()
    if future:
        ahead = recent.groupby(GROUP, sort=False).cumcount(ascending=False) < future
        observed = [c for c in panel_spec.numeric if c not in panel_spec.known]
        recent.loc[ahead.to_numpy(), observed] = None
    spelling = panel_spec.time_format or "%Y-%m-%d %H:%M:%S"
    columns = [*panel_spec.groups, *[s for s in panel_spec.static if s not in panel_spec.groups], *panel_spec.numeric]
    out = recent[columns].copy()
    out.insert(len(panel_spec.groups), panel_spec.time_column, recent[TIME].dt.strftime(spelling))
    return out


def run(spec: Spec) -> None:
    p = spec.params
    if p.remote_train:
        raise SystemExit(f"remote table `{p.remote_train}`: download it and point `data.train.path` at the file")
    panel_spec, feature_spec = PanelSpec.from_params(p), FeatureSpec.from_params(p)
    source = spec.inputs["train"]
    columns = list(dict.fromkeys([*panel_spec.groups, panel_spec.time_column, *panel_spec.numeric, *panel_spec.static]))
    needed = required_length(feature_spec.lags, feature_spec.lag_transforms, feature_spec.horizon)
    try:
        panel, counts = load_panel(read_table(source, columns), panel_spec, needed, source.name)
    except PanelError as exc:
        raise SystemExit(str(exc)) from None
    spec.emit(type="progress", done=1, total=2, rows=len(panel))
    feature_spec.frequency = counts["frequency"]
    feature_spec.categories = {s: sorted(panel[s].astype(str).unique()) for s in feature_spec.static}
    frame = build_features(panel, feature_spec)
    frame.to_parquet(spec.out / "features.parquet", index=False)
    raw_rows(panel, panel_spec, feature_spec.depth, feature_spec.horizon).to_csv(spec.out / "recent.csv", index=False)
    preprocessing = {"panel": vars(panel_spec), "features": feature_spec.to_dict(), "counts": counts}
    spec.write_json("preprocessing.json", preprocessing)
    metrics = {"rows": len(frame), "groups": counts["groups"]} | {
        k: v for k, v in counts.items() if isinstance(v, int) and k not in ("rows", "groups")}
    spec.write_json("metrics.json", metrics)
    spec.emit(type="progress", done=2, total=2, rows=len(frame))
    print(f"{counts['rows_read']} rows read, {counts['groups']} series at {counts['frequency']} spacing; "
          f"{len(frame)} forecast origins with {len(feature_spec.model_columns())} shared features", file=sys.stdout)
    for sample in counts.get("samples", []):
        print(f"skipped: {sample}")


if __name__ == "__main__":
    main(run)
