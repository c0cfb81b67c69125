"""The regression task end to end: apply a forecasting recipe on a generated panel, then predict and serve;
plus the pieces that must be right on their own (features, folds, transforms, bad input)."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, screenshot, write

sys.path.insert(0, str(ROOT / "examples" / "forecast"))
from generate import make_panel  # noqa: E402

from modelops.forecast.features import FeatureSpec, build_features, horizon_matrix  # noqa: E402
from modelops.forecast.folds import make_folds  # noqa: E402
from modelops.forecast.frame import GROUP, TIME, PanelError, PanelSpec, load_panel  # noqa: E402
from modelops.forecast.transforms import TRANSFORMS, invert, transform_inputs, transform_target  # noqa: E402

RECIPE = textwrap.dedent("""
    version: 1
    name: fc
    data:
      train: {path: panel.csv}
      time: {column: period, format: "%Y-%m-%d %H:%M", range_separator: " - ", frequency: h, missing: fill}
    task:
      kind: regression
      target: activations
      features: [clicks]
      groups: [user_id, material_id]
      window: 3
      horizon: 2
      calendar: [hour, dayofweek]
      lag_transforms: [{type: rolling_mean, window: 6}]
      static_features: [segment]
      known_features: [promo]
      season: 24
      model: {params: {n_estimators: 200}}
      search: {grid: {num_leaves: [7, 31]}}
      validation: {folds: 2, gap: 1}
      metrics: [mae, rmse, r2, mape, smape]
    deploy: {target: api}
""").lstrip()


def _panel_csv(folder, series=6):
    frame = make_panel(series, 24 * 8, 24 * 10, seed=3)
    frame["segment"] = np.where(frame["material_id"] == "m000", "a", "b")
    frame["promo"] = (pd.util.hash_array(frame["period"].to_numpy()) % 5 == 0).astype(int)
    frame.to_csv(folder / "panel.csv", index=False)
    return frame


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """The recipe applied once (features → fit → api bundle) for the tests that read its results."""
    from typer.testing import CliRunner

    from modelops.cli import app

    folder = tmp_path_factory.mktemp("forecast")
    _panel_csv(folder)
    recipe = write(folder, "fc.yaml", RECIPE + "workdir: " + str(folder / "runs") + "\n")
    result = CliRunner().invoke(app, ["apply", str(recipe), "-v"])
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder, recipe, result.stdout


def _out(folder, step):
    [path] = (folder / "runs").glob(f"{step}-*/out")
    return path


def test_apply_fits_one_text_model_per_step_and_beats_the_naive_baselines(applied):
    folder, _, stdout = applied
    fit = _out(folder, "fit")
    models = sorted(p.name for p in (fit / "models").iterdir())
    assert models == ["forecaster.json", "model_h1.txt", "model_h2.txt"]
    assert (fit / "models" / "model_h1.txt").read_text().startswith("tree")
    metrics = json.loads((fit / "metrics.json").read_text())
    assert set(metrics["by_horizon"]) == {"1", "2"}
    assert {"naive", "seasonal_naive", "model"} == set(metrics["by_horizon"]["1"])
    assert metrics["beats_naive"] and metrics["mae"] < metrics["naive_mae"]
    # scale-free, per series: each series' MAE over its naive forecast's, on the same rows
    assert metrics["relative_mae_geomean"] < 1 and metrics["series_beating_naive"] > 0.5
    assert metrics["series_compared"] == 6                              # every series of the panel
    assert 0 < metrics["mase"] < 2 and set(metrics["mase_by_horizon"]) == {"1", "2"}
    shown = json.loads((fit / "tables.json").read_text())
    assert "Per series, the worst MASE first (6 of 6)" in shown
    assert metrics["target_transform"] in TRANSFORMS and set(metrics["target_transform_scores"]) >= {
        "none",
        "difference",
    }
    assert {p.name for p in (fit / "plots").iterdir()} == {
        "actual_vs_predicted.png",
        "importance.png",
        "error_by_horizon.png",
    }
    gains = pd.read_csv(fit / "importance.csv")
    assert {"segment", "promo", "hour", "activations_rolling_mean6_lag1"} <= set(gains["feature"])
    assert "smoke test" in stdout


def test_the_report_is_one_self_contained_page_with_its_summary_first(applied, tmp_path):
    import base64
    import io
    from html.parser import HTMLParser

    from PIL import Image

    folder, _, _ = applied
    report = folder / "runs" / "report.html"
    html = report.read_text()

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.text, self.sources, self.open = [], [], []

        def handle_starttag(self, tag, attrs):
            self.open.append(tag)
            self.sources += [value for name, value in attrs if name in ("src", "href")]

        def handle_endtag(self, tag):
            self.open.pop()

        def handle_data(self, data):
            if "style" not in self.open:
                self.text.append(data)

    page = Page()
    page.feed(html)
    text = "".join(page.text)
    assert len(page.sources) == 3 and all(s.startswith("data:image/png;base64,") for s in page.sources)
    for source in page.sources:                                     # the plots travel inside the page
        assert Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).size[0] > 300
    assert "`" not in text                                          # code spans are <code>, not backticks
    assert text.index("Summary") < text.index("beats the naive baselines") < text.index("fingerprint")
    assert {"Actual vs predicted", "Importance", "Error by horizon"} <= set(re.findall(r"<figcaption>(.*?)<", html))
    headline, detailed = html.split("detailed metrics</summary>", 1)
    assert "by_fold." not in headline and "by_fold." in detailed    # the dump is folded away
    pixels = screenshot(report, tmp_path / "report.png")
    colourful = (pixels.max(-1) - pixels.min(-1) > 60).sum()         # plots, not just text on white
    assert colourful > 20_000, colourful


def test_predict_forecasts_every_series_and_refuses_short_ones(applied, run_cli):
    folder, recipe, _ = applied
    raw = pd.read_csv(folder / "panel.csv")
    recent = raw.groupby(["user_id", "material_id"]).tail(10)
    recent.to_csv(folder / "recent.csv", index=False)
    code, _, err = run_cli("predict", recipe, "--input", folder / "recent.csv")
    assert code == 2 and "known-in-advance features need values for the next 2" in err

    rows = _with_future_rows(recent, 2)
    first = (rows["user_id"] + rows["material_id"]) == rows["user_id"].iloc[0] + rows["material_id"].iloc[0]
    rows = pd.concat([rows[~first], rows[first].tail(4)])  # one series with too little history
    rows.to_csv(folder / "recent.csv", index=False)
    code, _, err = run_cli("predict", recipe, "--input", folder / "recent.csv", "--output", folder / "out.csv")
    assert code == 0, err
    forecasts = pd.read_csv(folder / "out.csv")
    series = raw.groupby(["user_id", "material_id"]).ngroups
    assert len(forecasts) == (series - 1) * 2
    assert f"refused {rows['user_id'].iloc[-1]}/{rows['material_id'].iloc[-1]}: 2 observation(s)" in err
    assert list(forecasts.columns) == ["user_id", "material_id", "origin", "time", "step_ahead", "forecast"]
    assert forecasts["forecast"].notna().all()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (
            b"user_id,material_id,period,activations\nu,m,2025-03-01 00:00,1\n",
            "no column `segment`, `clicks`, `promo`; expected the columns",
        ),
        (
            b"user_id,material_id,period,activations,clicks,segment,promo\nu,m,2025-03-01 00:00 - 01:00,inf,1,s,0\n",
            "column `activations` has infinite or too large values",
        ),
    ],
)
def test_predict_refuses_bad_input_files_by_name(applied, run_cli, content, message):
    folder, recipe, _ = applied
    (folder / "bad.csv").write_bytes(content)
    code, _, err = run_cli("predict", recipe, "--input", folder / "bad.csv")
    assert code == 2 and str(folder / "bad.csv") in err and message in err and "Traceback" not in err, err


def _with_future_rows(recent: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Append each series' next `horizon` hours with a known promo flag and no target."""
    rows = []
    for _, last in recent.groupby(["user_id", "material_id"]).tail(1).iterrows():
        start = pd.Timestamp(last["period"].split(" - ")[0])
        for h in range(1, horizon + 1):
            when = start + pd.Timedelta(hours=h)
            rows.append(
                {
                    **last.to_dict(),
                    "period": f"{when:%Y-%m-%d %H:%M}",
                    "activations": np.nan,
                    "clicks": np.nan,
                    "promo": h % 2,
                }
            )
    return pd.concat([recent, pd.DataFrame(rows)]).sort_values(["user_id", "material_id", "period"], kind="stable")


def _future_table(recent: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The same known promo flags as `_with_future_rows`, as a future table: groups, time, known features."""
    rows = _with_future_rows(recent, horizon)
    return rows[rows["activations"].isna() & rows["clicks"].isna()][["user_id", "material_id", "period", "promo"]]


def test_known_features_come_as_a_future_table_through_predict(applied, run_cli):
    folder, recipe, _ = applied
    recent = pd.read_csv(folder / "panel.csv").groupby(["user_id", "material_id"]).tail(10)
    recent.to_csv(folder / "recent.csv", index=False)
    _with_future_rows(recent, 2).to_csv(folder / "appended.csv", index=False)
    _future_table(recent, 2).to_csv(folder / "future.csv", index=False)
    code, appended, err = run_cli("predict", recipe, "--input", folder / "appended.csv")
    assert code == 0, err
    code, tabled, err = run_cli("predict", recipe, "--input", folder / "recent.csv", "--future", folder / "future.csv")
    assert code == 0, err
    assert tabled == appended and len(tabled.splitlines()) > 2                      # the same forecasts either way

    _future_table(recent, 2).drop(columns="promo").to_csv(folder / "no-promo.csv", index=False)
    code, _, err = run_cli("predict", recipe, "--input", folder / "recent.csv", "--future", folder / "no-promo.csv")
    assert code == 2 and f"{folder / 'no-promo.csv'}: no column `promo`" in err
    stranger = _future_table(recent, 2).assign(user_id="nobody")
    stranger.to_csv(folder / "stranger.csv", index=False)
    code, _, err = run_cli("predict", recipe, "--input", folder / "recent.csv", "--future", folder / "stranger.csv")
    assert code == 2 and "rows for series the input does not have: nobody/" in err
    _future_table(recent, 1).to_csv(folder / "short.csv", index=False)                 # one hour of a horizon of two
    code, _, err = run_cli("predict", recipe, "--input", folder / "recent.csv", "--future", folder / "short.csv")
    assert code == 2 and "known-in-advance features need values for the next 2" in err and "--future" in err


def test_the_api_answers_over_real_http(applied):
    from modelops.forecast.server import BackgroundServer, create_app

    folder, _, _ = applied
    bundle = _out(folder, "api") / "bundle"
    raw = pd.read_csv(folder / "panel.csv")
    rows = _with_future_rows(raw.groupby(["user_id", "material_id"]).tail(6), 2)
    payload = json.loads(rows.to_json(orient="records"))
    with BackgroundServer(create_app(bundle)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        meta = client.get("/metadata").json()
        assert meta["version"] == bundle.parent.parent.name.split("-")[-1] and meta["horizon"] == 2
        answer = client.post("/predict", json={"rows": payload})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["forecasts"]) == raw.groupby(["user_id", "material_id"]).ngroups * 2
        bad = client.post("/predict", json={"rows": [{**payload[0], "clicks": "many"}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "rows", 0, "clicks"]
        missing = client.post("/predict", json={"rows": [{"user_id": "u"}]})
        assert missing.status_code == 422 and {"period", "material_id"} <= {
            e["loc"][-1] for e in missing.json()["detail"]
        }
        assert meta["frequency"] == "h"
        recent = raw.groupby(["user_id", "material_id"]).tail(6)
        future = json.loads(_future_table(recent, 2).to_json(orient="records"))
        split = client.post("/predict", json={"rows": json.loads(recent.to_json(orient="records")), "future": future})
        assert split.status_code == 200, split.text
        assert split.json()["forecasts"] == answer.json()["forecasts"]            # as with the rows appended
        gap = client.post("/predict", json={"rows": payload[:6], "future": [{**future[0], "promo": None}]})
        assert gap.status_code == 422 and gap.json()["detail"][0]["loc"] == ["body", "future", 0, "promo"]
        stranger = client.post("/predict", json={"rows": payload[:6], "future": [{**future[0], "user_id": "x"}]})
        assert stranger.status_code == 422 and stranger.json()["detail"][0]["loc"] == ["body", "future"]
        assert client.get("/docs").status_code == 404  # no Swagger page that needs a CDN
        when = client.post("/predict", json={"rows": [{**payload[0], "period": "yesterday"}, payload[1]]})
        message = when.json()["detail"][0]["msg"]
        assert when.status_code == 422 and "rows[0]" in message and "line" not in message and "data." not in message


def test_the_api_refuses_huge_hostile_and_non_finite_requests_and_sheds_load(applied):
    import threading

    from modelops.forecast.server import BackgroundServer, create_app

    folder, _, _ = applied
    bundle = _out(folder, "api") / "bundle"
    raw = pd.read_csv(folder / "panel.csv")
    row = json.loads(_with_future_rows(raw.groupby(["user_id", "material_id"]).tail(6), 2).to_json(orient="records"))[0]
    release = threading.Event()

    def slow_body():
        yield b'{"rows": ['
        release.wait(30)
        yield json.dumps(row).encode() + b"]}"

    app = create_app(bundle, max_in_flight=1)
    with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        huge = client.post(
            "/predict", content=b'{"rows": [' + b" " * (2 << 20) + b"]}", headers={"content-type": "application/json"}
        )
        assert huge.status_code == 413
        chunked = client.post(
            "/predict", content=(b" " * (1 << 16) for _ in range(40)), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        junk = client.post("/predict", json={"rows": [{**row, "clicks": "x" * 100_000, "y" * 100_000: 1}]})
        assert junk.status_code == 422 and len(junk.content) < 2_000 and "xxxxxxxxxx" not in junk.text
        for spelling in ("Infinity", "NaN", "-1e308"):
            body = json.dumps({"rows": [{**row, "clicks": 0}]}).replace('"clicks": 0', f'"clicks": {spelling}')
            answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "rows", 0, "clicks"]

        def hold() -> None:                                    # its own connection, held open by a slow body
            with httpx.Client(base_url=url, timeout=60) as own:
                own.post("/predict", content=slow_body(), headers={"content-type": "application/json"})

        holder = threading.Thread(target=hold)
        holder.start()
        deadline = time.monotonic() + 60                       # a loaded machine may take a while to connect
        while app.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        busy = client.post("/predict", json={"rows": [row]})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        release.set()
        holder.join(30)
        assert client.post("/predict", json={"rows": [row]}).status_code == 200
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert schema["Forecast"]["properties"]["forecast"]["type"] == "number"
        assert schema["PredictRequest"]["examples"][0]["rows"][0]["user_id"] == "a"
        assert set(schema["PredictResponse"]["properties"]) == {"model_version", "forecasts", "refused"}


def test_a_second_apply_does_nothing(applied, run_cli):
    _, recipe, _ = applied
    code, out, _ = run_cli("apply", recipe)
    assert code == 0 and "nothing to do" in out
    code, _, _ = run_cli("plan", recipe, "--detailed-exitcode")
    assert code == 0


def _tamper(path):
    """Change one digit of a model file in place: same size, different content."""
    text = path.read_bytes()
    at = text.index(b"leaf_value=") + len(b"leaf_value=") + 1
    digit = next(i for i in range(at, len(text)) if text[i : i + 1].isdigit())
    path.write_bytes(text[:digit] + (b"7" if text[digit : digit + 1] != b"7" else b"3") + text[digit + 1 :])


def test_tampered_models_are_refused_by_predict_and_serve_and_rebuilt_by_apply(applied, run_cli):
    folder, recipe, _ = applied
    _tamper(_out(folder, "api") / "bundle" / "models" / "model_h2.txt")
    code, _, err = run_cli("serve", recipe)
    assert code == 1 and "outputs changed since the step ran" in err and "bundle" in err, err
    model = _out(folder, "fit") / "models" / "model_h1.txt"
    size = model.stat().st_size
    _tamper(model)
    assert model.stat().st_size == size
    code, _, err = run_cli("predict", recipe)
    assert code == 1 and "outputs changed since the step ran" in err and str(model.parent) in err, err
    code, out, _ = run_cli("status", recipe)
    assert "! outputs changed since the step ran" in out and "fc/fit" in out
    code, out, err = run_cli("apply", recipe, "-q")
    assert code == 0 and "! outputs changed since the step ran" in out, out + err
    code, _, err = run_cli("verify", recipe)
    assert code == 0, err
    model.unlink()
    code, _, err = run_cli("predict", recipe)
    assert code == 1 and str(model.parent) in err and "Traceback" not in err
    assert run_cli("apply", recipe, "-q")[0] == 0 and model.is_file()


# ---------------------------------------------------------------- the pieces

SPEC = PanelSpec("period", "%Y-%m-%d %H:%M", " - ", "h", "error", "error", "y", ["x"], ["g"])


def _single_key(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw.assign(g=raw["user_id"] + raw["material_id"]).drop(columns=["user_id", "material_id"])
    return raw.rename(columns={"activations": "y", "clicks": "x"})


def _frame(rows):
    return pd.DataFrame(rows, columns=["g", "period", "y", "x"]).astype(str)


def test_vectorised_features_match_a_per_series_loop():
    raw = make_panel(5, 40, 60, seed=1, missing=0)
    raw = _single_key(raw)
    panel, _ = load_panel(raw.astype(str), SPEC, 1, "t")
    spec = FeatureSpec(
        "y",
        ["x"],
        ["g"],
        [1, 2, 4],
        2,
        [
            {"type": "rolling_mean", "window": 3, "lag": 2},
            {"type": "rolling_std", "window": 4, "lag": 1},
            {"type": "expanding_mean", "lag": 1},
        ],
        frequency="1h",
    )
    frame = build_features(panel, spec)
    expected = []
    for _, series in panel.groupby(GROUP):
        y = series["y"].reset_index(drop=True)
        part = pd.DataFrame(
            {
                "y_lag1": y,
                "y_lag4": y.shift(3),
                "x_lag2": series["x"].reset_index(drop=True).shift(1),
                "y_rolling_mean3_lag2": y.shift(1).rolling(3).mean(),
                "y_rolling_std4_lag1": y.rolling(4).std(),
                "y_expanding_mean_lag1": y.expanding().mean(),
                "__y_h2": y.shift(-2),
            }
        )
        expected.append(part[part["y_lag4"].notna()])
    expected = pd.concat(expected).reset_index(drop=True)
    for column in expected:
        np.testing.assert_allclose(
            frame[column].to_numpy(dtype=float), expected[column].to_numpy(), rtol=1e-5, atol=1e-4
        )


def test_folds_validate_after_training_for_every_series():
    raw = make_panel(4, 100, 150, seed=2, missing=0)
    raw = _single_key(raw)
    panel, _ = load_panel(raw.astype(str), SPEC, 1, "t")
    spec = FeatureSpec("y", ["x"], ["g"], [1, 2], 3, frequency="1h")
    frame = build_features(panel, spec)
    step = pd.Timedelta("1h")
    folds = make_folds(frame, 3, 4, None, step)
    assert [f.first_origin for f in folds] == sorted(f.first_origin for f in folds)
    for fold in folds:
        for h in (1, 3):
            train, valid = fold.masks(frame, h, step, gap=2)
            assert train.any() and valid.any()
            assert (frame[TIME][train] + h * step).max() < frame[TIME][valid].min() - 2 * step + step
            assert frame[GROUP][valid].nunique() == 4


def test_target_transforms_invert_exactly():
    y = pd.Series([4.0, 12.0])
    frame = pd.DataFrame({"__last": [3.0, 10.0], "__mean": [2.0, 8.0], "__std": [1.5, 0.0], "__y_h1": y})
    for kind in TRANSFORMS:
        np.testing.assert_allclose(invert(transform_target(frame, kind, 1).to_numpy(), frame, kind), y)


def test_changes_makes_every_lag_a_lag_of_the_differenced_series():
    """As mlforecast's `Differences([1])`: lag k becomes y(t-k+1) - y(t-k), the largest and sparse ones too,
    missing only where the series has no value before it."""
    raw = _single_key(make_panel(3, 30, 40, seed=4, missing=0))
    panel, _ = load_panel(raw.astype(str), SPEC, 1, "t")
    spec = FeatureSpec("y", [], ["g"], [1, 2, 5], 1, frequency="1h")
    frame = build_features(panel, spec)
    changed = transform_inputs(horizon_matrix(frame, spec, 1), frame, spec, "changes")
    expected = pd.concat([
        pd.DataFrame({f"y_lag{k}": series["y"].reset_index(drop=True).diff().shift(k - 1) for k in spec.lags})[4:]
        for _, series in panel.groupby(GROUP)])
    for column in expected:
        np.testing.assert_allclose(changed[column].to_numpy(dtype=float), expected[column].to_numpy(),
                                   rtol=1e-5, atol=1e-4)
    assert changed["y_lag5"].isna().sum() == 3 and changed[["y_lag1", "y_lag2"]].notna().all().all()


@pytest.mark.parametrize(
    "rows, policy, message",
    [
        (
            [("a", "2025-03-01 00:00 - 01:00", "1", "1"), ("a", "yesterday", "1", "1")],
            "error",
            "unparseable `period` values",
        ),
        (
            [("a", "2025-03-01 00:00 - 01:00", "1", "1"), ("a", "2025-03-01 01:00 - 02:00", "lots", "1")],
            "error",
            "column `y` has non-numeric values at line(s) 3",
        ),
        (
            [("a", "2025-03-01 00:00", "1", "1"), ("a", "2025-03-01 00:00", "2", "1")],
            "error",
            "duplicate (g, period) rows at line(s) 2, 3",
        ),
        (
            [("a", "2025-03-01 00:00", "1", "1"), ("a", "2025-03-01 03:00", "2", "1")],
            "error",
            "gap(s) in the h time grid",
        ),
        (
            [("a", "2025-03-01 00:00", "1", "1"), ("a", "2025-03-01 01:00", "2", "1")],
            "error",
            "1 series shorter than 5 rows",
        ),
        (
            [("a", "2025-03-01 00:00", "1", "1"), ("a", "2025-03-01 01:00", "inf", "1")],
            "error",
            "column `y` has infinite or too large values (beyond ±3.4e+38, the float32 range of the features) "
            "at line(s) 3",
        ),
        (
            [("a", "2025-03-01 00:00", "1", "1e308"), ("a", "2025-03-01 01:00", "-Infinity", "1")],
            "error",
            "column `x` has infinite or too large values",
        ),
        (
            [("a", "2025-03-01 00:00", "", "1"), ("a", "2025-03-01 01:00", " ", "1")],
            "error",
            "column `y` (the target) has no values",
        ),
    ],
)
def test_bad_rows_are_named(rows, policy, message):
    with pytest.raises(PanelError) as error:
        load_panel(_frame(rows), SPEC, 5 if "shorter" in message else 1, "data.csv")
    assert message in str(error.value) and "data.csv" in str(error.value)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "the file is empty"),
        (
            "latin.csv",
            b"g,period,y,x\na,2025-03-01 00:00,1,1\nb\xe9,2025-03-01 00:00,1,1\n",
            "not UTF-8 text (byte 0xe9 on line 3)",
        ),
        ("junk.parquet", b"PAR1 not really", "not a readable Parquet file"),
        (
            "comma.csv",
            b"g,period,y,x\na,2025-03-01 00:00,1,1\na,2025-03-01 01:00,1,5,47.6\n",
            "line(s) 3 (5 fields) do not have the header's 4 fields; a decimal comma",
        ),
        ("first.csv", b"g,period,y,x\na,2025-03-01 00:00,1,5,47\n", "line(s) 2 (5 fields)"),
        ("short.csv", b"g,period,y,x\na,2025-03-01 00:00,1,1\na,2025-03-01 01:00,1\n", "line(s) 3 (3 fields)"),
        ("twice.csv", b"g,period,y,y\na,2025-03-01 00:00,1,1\n", "`y` named twice"),
        (
            "nox.csv",
            b"g,period,y\na,2025-03-01 00:00,1\n",
            "no column `x`; expected the columns `g`, `period`, `y`, `x`",
        ),
    ],
)
def test_unreadable_tables_name_the_file_and_lines(tmp_path, name, content, message):
    from modelops.forecast.frame import read_table

    (tmp_path / name).write_bytes(content)
    with pytest.raises(PanelError) as error:
        read_table(tmp_path / name, ["g", "period", "y", "x"])
    assert str(error.value).startswith(str(tmp_path / name)) and message in str(error.value), str(error.value)


def test_empty_fields_and_quoted_separators_read_as_written(tmp_path):
    from modelops.forecast.frame import read_table

    (tmp_path / "ok.csv").write_bytes(b'\xef\xbb\xbfg,period,y,x\n"a,b",2025-03-01 00:00,,1\n')
    assert read_table(tmp_path / "ok.csv").to_dict("records") == [
        {"g": "a,b", "period": "2025-03-01 00:00", "y": "", "x": "1"}
    ]


def test_skip_policy_counts_what_it_drops():
    rows = [("a", f"2025-03-01 {h:02d}:00", str(h), "1") for h in range(6)] + [
        ("a", "bad", "1", "1"),
        ("a", "2025-03-01 02:00", "9", "1"),
        ("b", "2025-03-01 00:00", "1", "1"),
    ]
    spec = PanelSpec(**{**vars(SPEC), "on_bad_rows": "skip"})
    panel, counts = load_panel(_frame(rows), spec, 3, "data.csv")
    assert counts["rows_bad_time"] == 1 and counts["rows_duplicate"] == 1 and counts["groups_too_short"] == 1
    assert panel["y"].tolist() == [0, 1, 9, 3, 4, 5]


def test_the_dask_engine_trains_on_a_local_cluster(tmp_path, run_cli):
    make_panel(4, 24 * 6, 24 * 7, seed=5).to_csv(tmp_path / "panel.csv", index=False)
    recipe = "\n".join(line for line in RECIPE.splitlines() if "static_features" not in line and "known_" not in line)
    recipe = (
        recipe.replace("search: {grid: {num_leaves: [7, 31]}}", "target_transform: difference")
        .replace("folds: 2, gap: 1", "folds: 1")
        .replace("deploy: {target: api}", "hardware: {engine: dask}")
    )
    code, out, err = run_cli("apply", write(tmp_path, "dask.yaml", recipe), cwd=tmp_path)
    assert code == 0, out + err
    [models] = (tmp_path / "runs" / "fc").glob("fit-*/out/models")
    assert (models / "model_h2.txt").read_text().startswith("tree")
    metrics = json.loads((models.parent / "metrics.json").read_text())
    assert metrics["best_iteration"] == {"1": 200, "2": 200}  # no early stopping in lightgbm.dask


def test_per_fold_scores_are_logged_and_tabled(applied):
    folder, _, stdout = applied
    fit = _out(folder, "fit")
    metrics = json.loads((fit / "metrics.json").read_text())
    assert set(metrics["by_fold"]) == {"1", "2"} and set(metrics["by_fold"]["1"]["2"]) == {"mae", "rmse", "r2"}
    folds = json.loads((fit / "tables.json").read_text())["Validation folds"]
    assert folds[0][:6] == ["fold", "validation origins", "rows h1", "mae h1", "rmse h1", "r2 h1"] and len(folds) == 3
    assert "fold 1: h1 mae" in stdout


def test_every_kind_of_bad_row_is_reported_in_one_run():
    rows = [
        ("a", "2025-03-01 00:00", "1", "1"),
        ("a", "yesterday", "1", "1"),
        ("a", "2025-03-01 01:00", "lots", "1"),
        ("b", "2025-03-01 00:00", "1", "1"),
        ("b", "2025-03-01 00:00", "2", "1"),
    ]
    with pytest.raises(PanelError) as error:
        load_panel(_frame(rows), SPEC, 1, "data.csv")
    text = str(error.value)
    assert "unparseable `period`" in text and "non-numeric values at line(s) 4" in text and "duplicate" in text


def test_mase_is_scale_free_across_series_and_steps_ahead():
    """Two series, one ten times the other, each forecast with twice its in-sample naive error: MASE is 2 for
    both, every step ahead, while their MAEs are 2 and 20."""
    from modelops.forecast.features import LAST
    from modelops.forecast.fit import Evaluation, FitResult
    from modelops.forecast.folds import Fold
    from modelops.forecast.summary import per_series, scale_free, series_table

    times = pd.date_range("2025-01-01", periods=10, freq="h")
    frame = pd.concat([pd.DataFrame({GROUP: g, "shop": name, TIME: times, LAST: np.arange(10.0) * size})
                       for g, (name, size) in enumerate([("small", 1.0), ("large", 10.0)])], ignore_index=True)
    for h in (1, 2):
        frame[f"__y_h{h}"] = frame[LAST] + h * np.where(frame[GROUP] == 1, 10.0, 1.0)
    rows = np.flatnonzero(frame[TIME] >= times[6])
    evaluations = {h: Evaluation(0.0, frame[f"__y_h{h}"].to_numpy()[rows] + 2 * np.where(frame[GROUP].to_numpy()[rows]
                                 == 1, 10.0, 1.0), rows, [len(rows)], [1]) for h in (1, 2)}
    result = FitResult("none", {}, {1: {}, 2: {}}, evaluations, folds=[Fold(times[6], times[9])])
    spec = FeatureSpec(target="y", features=[], groups=["shop"], lags=[1], horizon=2)
    table = per_series(frame, spec, result)
    assert table["model"].tolist() == [2.0, 20.0] and table["scale"].tolist() == [1.0, 10.0]
    metrics = scale_free(table, spec)
    assert metrics["mase"] == pytest.approx(2.0) and metrics["mase_by_horizon"] == {"1": 2.0, "2": 2.0}
    assert metrics["relative_mae_geomean"] == pytest.approx(2 / 1.5)    # the naive forecast errs h, the model 2
    rows = series_table(table)
    assert rows[0][-1] == "mase" and {r[0] for r in rows[1:]} == {"small", "large"}
    assert {r[-1] for r in rows[1:]} == {"2"}
