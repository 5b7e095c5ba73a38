"""Value hygiene at the door (docs/values.md): a number that is not finite is quarantined with its row and a
reason, in features, the model's score and labels; NaN is missing; and no value that ingest accepts can stop a
later stage (windows, labels, performance, alerts). Real files, a real DuckDB file, the real cycle."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.alerts import alerting_settings, prepare_alerting
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 3, 2, tzinfo=UTC)
NOW = START + timedelta(days=20)

CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      model_version: model_version
      prediction: raw_prediction
    reference:
      path: ref.parquet
      prediction: raw_prediction
      target: y
    features:
      numeric: [income, age]
      categorical: [region]
    window: 1d
    min_rows: 5
    task: binary_classification
    labels:
      path: labels/*
    performance:
      min_labels: 5
      min_coverage: 0.1
"""


def write_project(root: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 400
    score = rng.random(n)
    pl.DataFrame(
        {
            "income": rng.normal(50_000, 9_000, n),
            "age": rng.integers(18, 80, n).astype(float),
            "region": rng.choice(["north", "south", "east"], n),
            "raw_prediction": score,
            "y": (rng.random(n) < score).astype(int),
        }
    ).write_parquet(root / "ref.parquet")
    (root / "logs").mkdir()
    (root / "labels").mkdir()
    (root / "driftwatch.yml").write_text(CONFIG)
    return root


def line(rid: str, day: int, *, score: object = 0.4, **features: object) -> str:
    values = {"income": 52_000.0, "age": 41, "region": "north", **features}
    return json.dumps(
        {
            "request_id": rid,
            "timestamp": (START + timedelta(days=day, hours=1)).isoformat(),
            "model_version": "v1",
            "raw_prediction": score,
            "input_features": values,
        }
    )


def good_day(day: int, n: int = 30) -> list[str]:
    rng = np.random.default_rng(day)
    return [
        line(f"d{day}-{i}", day, score=float(rng.random()), income=float(rng.normal(50_000, 9_000)))
        for i in range(n)
    ]


def labels_for(lines: list[str]) -> str:
    out = []
    for i, text in enumerate(lines):
        doc = json.loads(text)
        out.append(json.dumps({"request_id": doc["request_id"], "label": i % 2}))
    return "\n".join(out) + "\n"


def quarantine(db: Database) -> dict[str, str]:
    return dict(db.cursor().execute("SELECT request_id, reason FROM quarantine ORDER BY 1").fetchall())


def test_an_infinite_score_is_quarantined_and_every_later_cycle_completes(tmp_path: Path) -> None:
    """Today's main: one `"raw_prediction": "Infinity"` was stored and every later cycle failed with
    `ValueError: scores contain ±inf`, for good."""
    root = write_project(tmp_path)
    day0 = good_day(0)
    bad = line("bad-score", 0, score="Infinity")
    (root / "logs" / "day0.ndjson").write_text("\n".join([*day0, bad]) + "\n")
    (root / "labels" / "day0.ndjson").write_text(labels_for(day0))
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
        assert summary.ingest.rows_quarantined == 1
        assert quarantine(db) == {"bad-score": "prediction: 'Infinity' is not a finite number"}
        assert summary.performance is not None and summary.performance.windows_computed == 1
        # A later cycle with new rows still runs end to end.
        (root / "logs" / "day1.ndjson").write_text("\n".join(good_day(1)) + "\n")
        again = run_cycle(db, settings.monitor("m"), now=NOW)
        assert again.windows_computed == 1
        statuses = db.cursor().execute("SELECT DISTINCT status FROM runs").fetchall()
        assert statuses == [("ok",)]


def test_a_parquet_infinite_score_is_quarantined_too(tmp_path: Path) -> None:
    root = write_project(tmp_path)
    (root / "driftwatch.yml").write_text(
        CONFIG.replace("      model_version: model_version\n", "      features: [income, age, region]\n")
    )
    pl.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "timestamp": [START + timedelta(hours=h) for h in (1, 2, 3)],
            "raw_prediction": [0.2, float("inf"), -float("inf")],
            "income": [1.0, 2.0, 3.0],
            "age": [30.0, 31.0, 32.0],
            "region": ["north"] * 3,
        }
    ).write_parquet(root / "logs" / "day0.parquet")
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        run_cycle(db, settings.monitor("m"), now=NOW)
        assert quarantine(db) == {
            "b": "prediction: inf is not a finite number",
            "c": "prediction: -inf is not a finite number",
        }


def test_non_finite_feature_values_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    """Every spelling of an infinite number, and a literal too large for a double, is refused; NaN is missing."""
    root = write_project(tmp_path)
    lines = [
        line("text-inf", 0, income="inf"),
        line("text-neg-infinity", 0, income="-Infinity"),
        line("literal-1e999", 0, age=1e999),  # json.dumps writes Infinity: a bare token
        '{"request_id": "big-literal", "timestamp": "2026-03-02T01:00:00+00:00", "model_version": "v1", '
        '"raw_prediction": 0.1, "input_features": {"income": 1' + "0" * 400 + ', "age": 1, "region": "x"}}',
        '{"request_id": "text-1e999", "timestamp": "2026-03-02T01:00:00+00:00", "model_version": "v1", '
        '"raw_prediction": 0.1, "input_features": {"income": "1e999", "age": 1, "region": "x"}}',
        '{"request_id": "bare-nan", "timestamp": "2026-03-02T01:00:00+00:00", "model_version": "v1", '
        '"raw_prediction": NaN, "input_features": {"income": NaN, "age": 1, "region": "x"}}',
        '{"request_id": "bare-infinity", "timestamp": "2026-03-02T01:00:00+00:00", "model_version": "v1", '
        '"raw_prediction": 0.1, "input_features": {"income": -Infinity, "age": 1, "region": "x"}}',
        line("fine", 0),
    ]
    (root / "logs" / "day0.ndjson").write_text("\n".join(lines) + "\n")
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        run_cycle(db, settings.monitor("m"), now=NOW)
        assert quarantine(db) == {
            "text-inf": "feature 'income': 'inf' is not a finite number",
            "text-neg-infinity": "feature 'income': '-Infinity' is not a finite number",
            "literal-1e999": "feature 'age': 'Infinity' is not a finite number",
            "big-literal": "feature 'income': '" + ("1" + "0" * 400)[:60] + "' is not a finite number",
            "text-1e999": "feature 'income': '1e999' is not a finite number",
            "bare-infinity": "feature 'income': '-Infinity' is not a finite number",
        }
        stored = (
            db.cursor()
            .execute('SELECT request_id, prediction, "f:income" FROM "predictions:m" ORDER BY 1')
            .fetchall()
        )
        assert stored == [("bare-nan", None, None), ("fine", 0.4, 52_000.0)]  # NaN: missing


def test_a_window_with_infinite_incomes_is_bad_data_not_drift(tmp_path: Path) -> None:
    """Today's main judged a window where a third of `income` was 1e999 `drift` (PSI 0.52)."""
    root = write_project(tmp_path)
    rng = np.random.default_rng(1)
    lines = [
        line(f"r{i}", 0, income=(1e999 if i % 3 == 0 else float(rng.normal(50_000, 9_000))))
        for i in range(300)
    ]
    (root / "logs" / "day0.ndjson").write_text("\n".join(lines) + "\n")
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
        assert summary.ingest.rows_quarantined == 100
        overall = summary.windows[0].overall
        income = overall.decision.feature("income")
        assert income.status != "drift", income.reason


def test_infinite_labels_are_quarantined_and_nan_labels_missing(tmp_path: Path) -> None:
    root = write_project(tmp_path)
    day0 = good_day(0)
    (root / "logs" / "day0.ndjson").write_text("\n".join(day0) + "\n")
    ids = [json.loads(x)["request_id"] for x in day0]
    labels = [
        json.dumps({"request_id": ids[0], "label": "Infinity"}),
        json.dumps({"request_id": ids[1], "label": float("-inf")}),
        json.dumps({"request_id": ids[2], "label": float("nan")}),
        '{"request_id": "' + ids[3] + '", "label": 1' + "0" * 400 + "}",
        *(json.dumps({"request_id": i, "label": 1.0}) for i in ids[4:]),
    ]
    (root / "labels" / "day0.ndjson").write_text("\n".join(labels) + "\n")
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
        assert quarantine(db) == {
            ids[0]: "label: inf is not a finite number",
            ids[1]: "label: -inf is not a finite number",
            ids[2]: "missing label",
            ids[3]: "label: inf is not a finite number",
        }
        assert summary.labels.labels_new == len(ids) - 4
        # Labels are stored as their identity: 1.0 is the class 1.
        assert db.cursor().execute("SELECT DISTINCT label FROM labels").fetchall() == [("1",)]


def test_an_infinite_score_stored_by_an_older_version_does_not_stop_a_cycle(tmp_path: Path) -> None:
    """A database written before ingest refused ±inf may hold one: performance treats it as missing."""
    root = write_project(tmp_path)
    day0 = good_day(0)
    (root / "logs" / "day0.ndjson").write_text("\n".join(day0) + "\n")
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        run_cycle(db, settings.monitor("m"), now=NOW)
        with db.transaction() as tx:
            tx.execute("""UPDATE "predictions:m" SET prediction = 'inf'::DOUBLE WHERE request_id = 'd0-0'""")
        (root / "labels" / "day0.ndjson").write_text(labels_for(day0))
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
        assert summary.performance is not None and summary.performance.windows_computed == 1


# --- any value ingest accepts: every stage after it completes ---------------------------------------------

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["inf", "-Infinity", "NaN", "1e999", "", " ", "0", "1.0", "true", "TRUE", "nan", "1_000", "+-3"]
    ),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(ANY_VALUE, ANY_VALUE, ANY_VALUE, ANY_VALUE, ANY_VALUE, st.integers(0, 2)),
        min_size=1,
        max_size=40,
    )
)
def test_random_values_never_stop_a_cycle(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple]
) -> None:
    """Random values of every type in features, the score and the labels go through ingest → windows → labels
    → performance → alerts; every cycle is recorded `ok`."""
    root = write_project(tmp_path_factory.mktemp("hygiene"))
    shutil.copytree(REPO / "alert_rules", root / "alert_rules")
    lines, labels = [], []
    for i, (income, age, region, score, label, day) in enumerate(rows):
        doc = {
            "request_id": f"r{i}",
            "timestamp": (START + timedelta(days=day, minutes=i)).isoformat(),
            "model_version": "v1",
            "raw_prediction": score,
            "input_features": {"income": income, "age": age, "region": region},
        }
        lines.append(json.dumps(doc))
        labels.append(json.dumps({"request_id": f"r{i}", "label": label}))
    lines.extend(good_day(0, 10))
    (root / "logs" / "day.ndjson").write_text("\n".join(lines) + "\n")
    (root / "labels" / "day.ndjson").write_text("\n".join(labels) + "\n")
    settings = load_settings(root / "driftwatch.yml")
    alerting = prepare_alerting(alerting_settings(settings))
    with Database(settings.storage) as db:
        for _ in range(2):
            run_cycle(db, settings.monitor("m"), now=NOW, alerting=alerting)
        statuses = db.cursor().execute("SELECT status, error FROM runs").fetchall()
        assert statuses == [("ok", None), ("ok", None)]
        stored = db.cursor().execute('SELECT prediction, "f:income", "f:age" FROM "predictions:m"').fetchall()
        assert all(v is None or np.isfinite(v) for row in stored for v in row)
        label_values = db.cursor().execute("SELECT label_value FROM labels").fetchall()
        assert all(v is None or np.isfinite(v) for (v,) in label_values)


def test_a_pushed_infinite_score_is_refused_with_its_reason_and_the_monitor_keeps_running(
    tmp_path: Path,
) -> None:
    """The reproduction of the issue, through the API: a pushed `"raw_prediction": "Infinity"` was accepted and
    halted the monitor. Now the batch is refused (nothing stored) with the record's reason, and cycles run."""
    from _service import MONITOR, TOKEN, TestClient, make_project, next_day_records
    from driftwatch.api.app import create_app
    from driftwatch.config.server import ServerSettings

    settings = load_settings(make_project(tmp_path / "demo"))
    records = next_day_records(tmp_path / "extra" / "demo")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        bad = [dict(r) for r in records[:3]]
        bad[1]["raw_prediction"] = "Infinity"
        refused = client.post(f"/api/monitors/{MONITOR}/predictions", headers=auth, json={"records": bad})
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["errors"]
        assert (error["index"], error["reason"]) == (1, "prediction: 'Infinity' is not a finite number")
        accepted = client.post(
            f"/api/monitors/{MONITOR}/predictions", headers=auth, json={"records": records}
        )
        assert accepted.status_code == 200, accepted.text
        run = client.post(f"/api/monitors/{MONITOR}/runs", headers=auth)
        assert run.status_code == 200, run.text
        assert run.json()["windows_computed"] >= 1
