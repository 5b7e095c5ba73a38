"""Ingest on real files into a real DuckDB file: typing, quarantine, de-duplication, idempotency."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from _configs import MONITOR_TAIL
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))
NOW = datetime(2026, 3, 10, tzinfo=UTC)

CONFIG = (
    """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      model_version: model_version
"""
    + MONITOR_TAIL
)


def record(
    rid: str, ts: str, age: object = 30, income: object = 50000.0, region: object = "north", **extra: object
) -> dict:
    return {
        "request_id": rid,
        "timestamp": ts,
        "model_version": "v1",
        "input_features": {"age": age, "income": income, "region": region},
        **extra,
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    pl.DataFrame(
        {
            "age": [20.0 + i % 50 for i in range(500)],
            "income": [40000.0 + 37 * i for i in range(500)],
            "region": ["north", "south"] * 250,
        }
    ).write_parquet(tmp_path / "train.parquet")
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    return tmp_path


def write_ndjson(path: Path, lines: list[object]) -> None:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")


def rows(db: Database, sql: str, params: list[object] | None = None) -> list[tuple]:
    return db.cursor().execute(sql, params or []).fetchall()


def test_ndjson_rows_are_typed_and_bad_rows_quarantined_with_reasons(project: Path) -> None:
    write_ndjson(
        project / "logs" / "a.ndjson",
        [
            record("r1", "2026-03-01T10:00:00Z"),
            record("r2", "2026-03-01T12:30:00+02:00", age=None, region=None),
            "{not json",
            record("r3", "last tuesday"),
            record("r4", "2026-03-01T11:00:00Z", age="forty"),
            record("r5", "2026-03-01T11:00:00Z", region={"nested": 1}),
            {"request_id": "r6", "timestamp": "2026-03-01T11:00:00Z", "input_features": "[1, 2]"},
            record("", "2026-03-01T11:00:00Z"),
            record("r7", "2026-03-01T11:00:00Z", age="41"),
        ],
    )
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert (summary.rows_read, summary.rows_inserted, summary.rows_quarantined) == (9, 3, 6)
        stored = rows(
            db,
            'SELECT request_id, ts, model_version, "f:age", "f:income", "f:region" FROM "predictions:m" ORDER BY 1',
        )
        assert stored == [
            ("r1", datetime(2026, 3, 1, 10, 0), "v1", 30.0, 50000.0, "north"),
            ("r2", datetime(2026, 3, 1, 10, 30), "v1", None, 50000.0, None),
            ("r7", datetime(2026, 3, 1, 11, 0), "v1", 41.0, 50000.0, "north"),
        ]
        reasons = dict(rows(db, "SELECT row_number, reason FROM quarantine ORDER BY row_number"))
        assert reasons == {
            3: "malformed JSON line",
            4: "unparseable timestamp 'last tuesday'",
            5: "feature 'age': 'forty' is not a number",
            6: "feature 'region' is a nested value, expected a category",
            7: "input_features is not a JSON object",
            8: "missing request_id",
        }
        raw = rows(db, "SELECT raw, source FROM quarantine WHERE row_number = 3")[0]
        assert raw == ("{not json", str(project / "logs" / "a.ndjson"))


def test_csv_and_parquet_plain_columns(project: Path) -> None:
    (project / "driftwatch.yml").write_text(
        CONFIG.replace("      model_version: model_version\n", "      features: [age, income, region]\n")
    )
    (project / "logs" / "a.csv").write_text(
        "request_id,timestamp,age,income,region\n"
        "c1,2026-03-01 08:00:00,31,1000.5,east\n"
        "c2,2026-03-01T09:00:00Z,,2000,\n"
        "c3,2026-03-01T09:00:00Z,abc,2000,west\n"
    )
    pl.DataFrame(
        {
            "request_id": ["p1", "p2"],
            "timestamp": [datetime(2026, 3, 2, 1, tzinfo=UTC), datetime(2026, 3, 2, 2, tzinfo=UTC)],
            "age": [float("nan"), float("inf")],
            "income": [1.0, 2.0],
            "region": ["north", None],
        }
    ).write_parquet(project / "logs" / "b.parquet")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert (summary.rows_inserted, summary.rows_quarantined) == (3, 2)
        stored = rows(
            db, 'SELECT request_id, "f:age", "f:region", model_version FROM "predictions:m" ORDER BY 1'
        )
        # NaN is stored as missing; +inf is not a finite number: its row is quarantined (docs/values.md).
        assert stored == [
            ("c1", 31.0, "east", "*"),
            ("c2", None, None, "*"),
            ("p1", None, "north", "*"),
        ]
        assert rows(db, "SELECT reason FROM quarantine WHERE source LIKE '%b.parquet'") == [
            ("feature 'age': inf is not a finite number",)
        ]


def test_files_are_not_reread_and_duplicates_never_double(project: Path) -> None:
    log = project / "logs" / "a.ndjson"
    write_ndjson(
        log,
        [
            record("r1", "2026-03-01T10:00:00Z"),
            record("r1", "2026-03-01T10:05:00Z"),
            record("r2", "2026-03-01T11:00:00Z"),
        ],
    )
    settings = load_settings(project / "driftwatch.yml")
    mon = settings.monitor("m")
    with Database(settings.storage) as db:
        first = ingest_predictions(db, mon, FEATURES)
        assert (first.files_read, first.rows_inserted, first.rows_duplicate) == (1, 2, 1)
        second = ingest_predictions(db, mon, FEATURES)
        assert (second.files_seen, second.files_read, second.rows_inserted) == (1, 0, 0)
        # The file grows: it is read again, and only the new id is added.
        write_ndjson(
            log,
            [
                record("r1", "2026-03-01T10:00:00Z"),
                record("r2", "2026-03-01T11:00:00Z"),
                record("r3", "2026-03-01T12:00:00Z"),
            ],
        )
        os.utime(log, ns=(1, 2))
        third = ingest_predictions(db, mon, FEATURES)
        assert (third.files_read, third.rows_inserted, third.rows_duplicate) == (1, 1, 2)
        assert rows(db, 'SELECT count(*) FROM "predictions:m"') == [(3,)]
        # A second file repeating an id does not double it either.
        write_ndjson(project / "logs" / "b.ndjson", [record("r3", "2026-03-01T12:00:00Z")])
        fourth = ingest_predictions(db, mon, FEATURES)
        assert (fourth.rows_inserted, fourth.rows_duplicate) == (0, 1)
        assert rows(db, 'SELECT count(*) FROM "predictions:m"') == [(3,)]


def test_unreadable_file_is_named_and_the_rest_is_ingested(project: Path) -> None:
    (project / "logs" / "a.parquet").write_bytes(b"PAR1 this is not parquet")
    write_ndjson(project / "logs" / "b.ndjson", [record("r1", "2026-03-01T10:00:00Z")])
    (project / "logs" / "c.txt").write_text("hello")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert rows(db, 'SELECT request_id FROM "predictions:m"') == [("r1",)]
    assert summary.rows_inserted == 1
    failed = dict(summary.failed_files)
    assert set(failed) == {str(project / "logs" / "a.parquet"), str(project / "logs" / "c.txt")}
    assert failed[str(project / "logs" / "a.parquet")].startswith("cannot read as parquet")
    assert "unknown file type '.txt'" in failed[str(project / "logs" / "c.txt")]


def test_unknown_file_types_do_not_hide_good_files(project: Path) -> None:
    (project / "driftwatch.yml").write_text(CONFIG.replace("path: logs/*", "path: logs/*.*json*"))
    (project / "logs" / "a.ndjson").write_text("")
    write_ndjson(project / "logs" / "b.ndjson", [record("r1", "2026-03-01T10:00:00Z")])
    (project / "logs" / "bad.ndjson").write_bytes(b"\xff\xfe\x00garbage")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert summary.rows_inserted == 1
        assert rows(db, 'SELECT request_id FROM "predictions:m"') == [("r1",)]


def test_late_rows_requeue_their_window_and_results_are_replaced_not_doubled(project: Path) -> None:
    write_ndjson(
        project / "logs" / "a.ndjson",
        [record(f"a{i}", f"2026-03-01T{i % 24:02d}:00:00Z", age=20 + i) for i in range(40)],
    )
    settings = load_settings(project / "driftwatch.yml")
    mon = settings.monitor("m")
    with Database(settings.storage) as db:
        first = run_cycle(db, mon, now=NOW)
        assert first.windows_computed == 1
        before = rows(db, "SELECT rows FROM window_summaries WHERE segment = '*'")
        again = run_cycle(db, mon, now=NOW)
        assert again.windows_computed == 0
        write_ndjson(
            project / "logs" / "b.ndjson",
            [record(f"b{i}", "2026-03-01T23:00:00Z", age=90) for i in range(10)],
        )
        late = run_cycle(db, mon, now=NOW)
        assert late.windows_computed == 1
        after = rows(db, "SELECT rows FROM window_summaries WHERE segment = '*'")
        assert (before, after) == ([(40,)], [(50,)])
        assert rows(db, "SELECT count(*) FROM feature_results") == [(3,)]
        assert rows(db, "SELECT count(*) FROM window_queue") == [(0,)]


def test_open_windows_wait_until_closed(project: Path) -> None:
    write_ndjson(project / "logs" / "a.ndjson", [record(f"a{i}", "2026-03-10T05:00:00Z") for i in range(5)])
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        assert run_cycle(db, settings.monitor("m"), now=NOW).windows_computed == 0
        assert (
            run_cycle(db, settings.monitor("m"), now=datetime(2026, 3, 11, tzinfo=UTC)).windows_computed == 1
        )
