"""Quarantined rows keep their raw text, and only they pay for it.

The raw text (`_raw`: the row as JSON for Parquet/CSV, the line for NDJSON) is built only for rejected rows. These
tests pin, per format, the exact quarantine rows (row number, request id, reason, raw text) that driftwatch stored
before that change, for prediction and label files with bad rows in the middle; that a re-read stores nothing
twice; and that a clean file ingests without building any raw text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest

from _configs import MONITOR_TAIL
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline.ingest import ingest_predictions, prediction_layout
from driftwatch.pipeline.labels import ingest_labels
from driftwatch.sources.files import describe_columns, list_files
from driftwatch.sources.labels import label_batch_sql
from driftwatch.sources.logs import normalise_query
from driftwatch.storage.database import Database
from driftwatch.storage.schema import prediction_table

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))

CONFIG = (
    """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      features: [age, income, region]
      prediction: score
"""
    + MONITOR_TAIL
    + """\
    task: binary_classification
    labels:
      path: labels/*
"""
)

GOOD = {
    "timestamp": "2026-03-02T10:00:00Z",
    "age": "31",
    "income": "52000.5",
    "region": "north",
    "score": "0.75",
}


def prediction_rows() -> list[dict[str, str | None]]:
    """Six rows; rows 2 and 5 (1-based) are bad, for different reasons."""
    rows: list[dict[str, str | None]] = [{"request_id": f"r{i}", **GOOD} for i in range(1, 7)]
    rows[1] = {**rows[1], "age": "abc", "timestamp": "yesterday"}
    rows[4] = {**rows[4], "request_id": None, "income": "1e3x"}
    return rows


def label_rows() -> list[dict[str, str | None]]:
    """Five labels; rows 2 (no label) and 4 (no request id) are bad."""
    rows: list[dict[str, str | None]] = [{"request_id": f"r{i}", "label": str(i % 2)} for i in range(1, 6)]
    rows[1] = {**rows[1], "label": None}
    rows[3] = {**rows[3], "request_id": None}
    return rows


def write(path: Path, rows: list[dict[str, str | None]], fmt: str) -> None:
    """Parquet keeps a typed column where it can (numbers become DOUBLE when every value parses)."""
    if fmt == "csv":
        pl.DataFrame(rows).write_csv(path)
    elif fmt == "parquet":
        frame = pl.DataFrame(rows)
        if "income" in frame.columns:
            frame = frame.with_columns(pl.col("income").cast(pl.Float64, strict=False))
        frame.write_parquet(path)
    else:
        lines = [json.dumps(r) for r in rows]
        # A blank line (skipped, but it still counts for row numbers) and a line that is not JSON.
        lines.insert(2, "")
        lines.insert(3, '{"request_id": "broken", ')
        path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "labels").mkdir()
    pl.DataFrame({"age": [20.0, 40.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        tmp_path / "train.parquet"
    )
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    return tmp_path


def quarantine(db: Database, kind: str) -> list[tuple]:
    return (
        db.cursor()
        .execute(
            "SELECT row_number, request_id, reason, raw FROM quarantine WHERE kind = ? ORDER BY row_number",
            [kind],
        )
        .fetchall()
    )


# Captured from driftwatch before the raw text became lazy (when `to_json(s)` was built for every row).
EXPECTED_PREDICTIONS: dict[str, list[tuple]] = {
    "parquet": [
        (
            2,
            "r2",
            "unparseable timestamp 'yesterday'; feature 'age': 'abc' is not a number",
            '{"request_id":"r2","timestamp":"yesterday","age":"abc","income":52000.5,"region":"north","score":"0.75"}',
        ),
        (
            5,
            None,
            "missing request_id",
            '{"request_id":null,"timestamp":"2026-03-02T10:00:00Z","age":"31","income":null,"region":"north",'
            '"score":"0.75"}',
        ),
    ],
    "csv": [
        (
            2,
            "r2",
            "unparseable timestamp 'yesterday'; feature 'age': 'abc' is not a number",
            '{"request_id":"r2","timestamp":"yesterday","age":"abc","income":"52000.5","region":"north",'
            '"score":"0.75"}',
        ),
        (
            5,
            None,
            "missing request_id; feature 'income': '1e3x' is not a number",
            '{"request_id":null,"timestamp":"2026-03-02T10:00:00Z","age":"31","income":"1e3x","region":"north",'
            '"score":"0.75"}',
        ),
    ],
    "ndjson": [
        (
            2,
            "r2",
            "unparseable timestamp 'yesterday'; feature 'age': 'abc' is not a number",
            '{"request_id": "r2", "timestamp": "yesterday", "age": "abc", "income": "52000.5", "region": "north", '
            '"score": "0.75"}',
        ),
        (4, None, "malformed JSON line", '{"request_id": "broken", '),
        (
            7,
            None,
            "missing request_id; feature 'income': '1e3x' is not a number",
            '{"request_id": null, "timestamp": "2026-03-02T10:00:00Z", "age": "31", "income": "1e3x", '
            '"region": "north", "score": "0.75"}',
        ),
    ],
}
EXPECTED_LABELS: dict[str, list[tuple]] = {
    "parquet": [
        (2, "r2", "missing label", '{"request_id":"r2","label":null}'),
        (4, None, "missing request_id", '{"request_id":null,"label":"0"}'),
    ],
    "csv": [
        (2, "r2", "missing label", '{"request_id":"r2","label":null}'),
        (4, None, "missing request_id", '{"request_id":null,"label":"0"}'),
    ],
    "ndjson": [
        (2, "r2", "missing label", '{"request_id": "r2", "label": null}'),
        (4, None, "malformed JSON line", '{"request_id": "broken", '),
        (6, None, "missing request_id", '{"request_id": null, "label": "0"}'),
    ],
}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ndjson"])
def test_bad_prediction_rows_in_the_middle_keep_row_number_and_raw_text(project: Path, fmt: str) -> None:
    log = project / "logs" / f"day.{fmt}"
    write(log, prediction_rows(), fmt)
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert summary.failed_files == []
        stored = quarantine(db, "predictions")
        assert stored == EXPECTED_PREDICTIONS[fmt]
        assert summary.rows_quarantined == len(stored)
        assert summary.rows_inserted == 4
        good = db.cursor().execute(f"SELECT request_id FROM {prediction_table('m')} ORDER BY 1").fetchall()
        assert [r[0] for r in good] == ["r1", "r3", "r4", "r6"]

        # A re-run reads nothing; a touched file is read again but stores nothing twice.
        assert ingest_predictions(db, settings.monitor("m"), FEATURES).files_read == 0
        os.utime(log, ns=(os.stat(log).st_atime_ns, os.stat(log).st_mtime_ns + 1_000_000_000))
        again = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert (again.files_read, again.rows_inserted, again.rows_duplicate) == (1, 0, 4)
        assert quarantine(db, "predictions") == EXPECTED_PREDICTIONS[fmt]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ndjson"])
def test_bad_label_rows_in_the_middle_keep_row_number_and_raw_text(project: Path, fmt: str) -> None:
    labels = project / "labels" / f"labels.{fmt}"
    write(labels, label_rows(), fmt)
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_labels(db, settings.monitor("m"))
        assert summary.failed_files == []
        stored = quarantine(db, "labels")
        assert stored == EXPECTED_LABELS[fmt]
        assert summary.rows_quarantined == len(stored)
        assert summary.labels_new == 3

        os.utime(labels, ns=(os.stat(labels).st_atime_ns, os.stat(labels).st_mtime_ns + 1_000_000_000))
        again = ingest_labels(db, settings.monitor("m"))
        assert (again.files_read, again.labels_new, again.labels_unchanged) == (1, 0, 3)
        assert quarantine(db, "labels") == EXPECTED_LABELS[fmt]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ndjson"])
def test_a_clean_file_ingests_without_building_raw_text(project: Path, fmt: str) -> None:
    rows = [r for r in prediction_rows() if r["request_id"] not in ("r2", None)]
    path = project / "logs" / f"day.{fmt}"
    if fmt == "ndjson":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        write(path, rows, fmt)
    settings = load_settings(project / "driftwatch.yml")
    monitor = settings.monitor("m")
    [f], _ = list_files(monitor.predictions.path)
    con = duckdb.connect()
    columns = describe_columns(con, f.format, f.path)
    sql, params = normalise_query(f.format, f.path, columns, prediction_layout(monitor, FEATURES))
    counts = con.execute(f"SELECT count(*), count(_reason), count(_raw) FROM ({sql})", params).fetchone()
    assert counts == (4, 0, 0)
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, monitor, FEATURES)
        assert (summary.failed_files, summary.rows_inserted, summary.rows_quarantined) == ([], 4, 0)
        assert quarantine(db, "predictions") == []


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ndjson"])
def test_raw_text_is_built_only_for_rejected_rows(project: Path, fmt: str) -> None:
    """In the normalised batch, `_raw` is set exactly where `_reason` is (labels add reasons of their own)."""
    write(project / "labels" / f"labels.{fmt}", label_rows(), fmt)
    settings = load_settings(project / "driftwatch.yml")
    monitor = settings.monitor("m")
    assert monitor.labels is not None
    [f], _ = list_files(monitor.labels.path)
    con = duckdb.connect()
    sql, params = label_batch_sql(f.format, f.path, describe_columns(con, f.format, f.path), monitor)
    rows = con.execute(
        f"SELECT _reason IS NULL, _raw IS NULL FROM ({sql})", {**params, "now": None}
    ).fetchall()
    assert len(rows) == (6 if fmt == "ndjson" else 5)
    assert all(good == no_raw for good, no_raw in rows)


@pytest.mark.parametrize("own_column", [False, True])
def test_parquet_row_numbers_hold_across_row_groups_and_a_column_named_like_the_readers(
    project: Path, own_column: bool
) -> None:
    """Parquet rows are numbered by the reader's `file_row_number` (the query stays parallel): the number is
    the row's 1-based position across many row groups, read on two threads. A file with a column of that
    very name is numbered by counting, and its column is kept in the raw text like any other."""
    rows = 300_000
    frame = pl.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "timestamp": ["2026-03-02T10:00:00Z"] * rows,
            "age": ["31"] * rows,
            "income": ["1.5"] * rows,
            "region": ["north"] * rows,
            "score": ["0.75"] * rows,
        }
    )
    bad = [7, 150_001, 299_999]  # 0-based: the first row group, a middle one, the last row
    frame = frame.with_columns(
        pl.when(pl.int_range(rows).is_in(bad)).then(pl.lit("abc")).otherwise(pl.col("age")).alias("age")
    )
    if own_column:
        frame = frame.with_columns(pl.lit(-5).alias("file_row_number"))
    frame.write_parquet(project / "logs" / "day.parquet", row_group_size=10_000)
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert (summary.rows_inserted, summary.rows_quarantined) == (rows - 3, 3)
        stored = quarantine(db, "predictions")
    assert [(r[0], r[1]) for r in stored] == [(i + 1, f"r{i}") for i in bad]
    raw = json.loads(stored[1][3])
    assert raw["request_id"] == "r150001"
    assert ("file_row_number" in raw) is own_column
