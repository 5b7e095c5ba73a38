"""A batch pulled from a database is read in memory when DuckDB reads it as it would read its Parquet file, and
spilled to a temporary Parquet file otherwise (`pipeline.spilled.Pulled`, `sources.parquet_rows.table_columns`).
Either way the same rows, reasons and raw texts are stored: the two paths are compared on a messy batch."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _configs import MONITOR_TAIL
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline import spilled
from driftwatch.pipeline.ingest import IngestSummary, ingest_predictions
from driftwatch.sources.files import describe_columns
from driftwatch.sources.parquet_copies import parquet_writable
from driftwatch.sources.parquet_rows import ARROW_VIEW, table_columns
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))
DAY = datetime(2026, 3, 1, tzinfo=UTC)

ALIKE: dict[str, pa.Array] = {
    "string": pa.array(["a", None, "ü"]),
    "large_string": pa.array(["a", None, "b"], pa.large_string()),
    "int64": pa.array([1, None, -(2**62)]),
    "uint32": pa.array([1, None, 2**32 - 1], pa.uint32()),
    "float64": pa.array([1.5, None, math.inf]),
    "float32": pa.array([1.5, None, -0.0], pa.float32()),
    "bool": pa.array([True, None, False]),
    "timestamp_us_utc": pa.array(
        [datetime(2020, 1, 1), None, datetime(2199, 12, 31)], pa.timestamp("us", "UTC")
    ),
    "timestamp_ns": pa.array([datetime(2020, 1, 1), None, datetime(2021, 1, 1)], pa.timestamp("ns")),
    "timestamp_s_paris": pa.array([datetime(2020, 1, 1), None, None], pa.timestamp("s", "Europe/Paris")),
    "date32": pa.array([date(2020, 1, 1), None, date(1900, 1, 1)]),
    "decimal": pa.array([Decimal("1.25"), None, Decimal("-3.00")], pa.decimal128(10, 2)),
    "dictionary": pa.array(["x", None, "y"]).dictionary_encode(),
    "time64": pa.array([time(1, 2), None, time(23, 59)], pa.time64("us")),
    "list": pa.array([[1.0], None, []]),
}
OTHERWISE: dict[str, pa.Array] = {
    "timestamp_ms (DuckDB scans TIMESTAMP_MS, reads the file's as TIMESTAMP)": pa.array(
        [datetime(2020, 1, 1), None, None], pa.timestamp("ms")
    ),
    "float16 (DuckDB does not scan it)": pa.array([1.5, None, 2.0], pa.float16()),
    "duration": pa.array([1, None, 2], pa.duration("us")),
}


@pytest.mark.parametrize("name", list(ALIKE))
def test_a_table_goes_in_memory_when_duckdb_reads_it_as_its_file(tmp_path: Path, name: str) -> None:
    """The columns given are those of the Parquet file, and DuckDB reads the same values from both."""
    table = pa.table(
        {"ts": pa.array([datetime(2020, 1, 1)] * 3, pa.timestamp("us", "UTC")), "c": ALIKE[name]}
    )
    cur = duckdb.connect()
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    assert table_columns(cur, table) == describe_columns(cur, "parquet", str(path))
    from_file = cur.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    cur.register(ARROW_VIEW, table)
    assert cur.execute(f"SELECT * FROM {ARROW_VIEW}").fetchall() == from_file


@pytest.mark.parametrize("name", list(OTHERWISE))
def test_a_table_duckdb_reads_otherwise_is_spilled(name: str) -> None:
    table = pa.table({"c": OTHERWISE[name]})
    assert table_columns(duckdb.connect(), table) is None


def test_invalid_utf8_and_the_row_number_column_are_spilled() -> None:
    """Invalid UTF-8 would end DuckDB's functions in a FATAL error; the reader of the file refuses it instead."""
    offsets = pa.py_buffer(b"\x00\x00\x00\x00\x02\x00\x00\x00")
    bad = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(b"\xff\xfe")])
    cur = duckdb.connect()
    assert table_columns(cur, pa.table({"c": bad})) is None
    assert table_columns(cur, pa.table({"_dw_row": [1]})) is None
    # DuckDB matches names in any case: the row number appended would be renamed and this column read instead
    assert table_columns(cur, pa.table({"_DW_ROW": [7]})) is None


def test_an_interval_column_is_read_as_its_parts_and_the_rest_compared() -> None:
    """An interval has no Parquet type: a pulled batch's intervals become structs of their parts first
    (`Pulled.of`), which DuckDB reads from memory as from the file; the other columns are compared as usual,
    and one of them read otherwise still sends the batch to a file. tests/sources/test_database_source.py
    stores such a batch from PostgreSQL."""
    table = duckdb.connect().sql("SELECT INTERVAL 3 SECOND AS latency, 'r1' AS request_id").to_arrow_table()
    assert table.schema.field("latency").type == pa.month_day_nano_interval()
    cur = duckdb.connect()
    assert table_columns(cur, table) is None  # as it is, it cannot be written: no file to compare with
    parts = parquet_writable(table)
    assert table_columns(cur, parts) == {
        "latency": 'STRUCT("months" INTEGER, "days" INTEGER, nanoseconds BIGINT)',
        "request_id": "VARCHAR",
    }
    odd = parts.append_column("sent", pa.array([datetime(2026, 1, 1)], pa.timestamp("ms")))
    assert table_columns(cur, odd) is None
    assert table_columns(cur, parts.append_column("_SRC", pa.array([1]))) is None  # refused by the reader


def _messy_rows() -> list[tuple[Any, ...]]:
    """Rows of every kind the normalising query tells apart: clean, bad features, bad ids, repeats, odd values."""
    good = [
        (
            f"r-{i:03d}",
            DAY + timedelta(minutes=i),
            "v1",
            json.dumps({"age": 20 + i, "income": 1e4 * i, "region": "n"}),
        )
        for i in range(20)
    ]
    odd = [
        ("r-900", DAY, "v1", "not json"),
        ("r-901", DAY, "v1", "[1, 2]"),
        ("r-902", DAY, "v1", json.dumps({"age": "12", "income": "1_000", "region": 3})),
        ("r-903", DAY, "v1", json.dumps({"age": "nan", "income": 1e308, "region": {"a": 1}})),
        ("r-904", DAY, "v1", '{"age": 1e400, "income": null, "region": true}'),
        ("r-905", DAY, None, json.dumps({"age": 1})),
        ("", DAY, "v1", json.dumps({"age": 1})),
        (None, DAY, "v1", json.dumps({"age": 2})),
        ("r-000", DAY, "v2", json.dumps({"age": 3, "region": "s"})),  # a shadow version of a stored request
        ("r-001", DAY, "v1", json.dumps({"age": 4})),  # a repeat: the first row is kept
        ("r-906", DAY, "v1", None),
        ("r-907", DAY, "v1", json.dumps({"age": 5.5, "income": -0.0, "region": "2.0"})),
    ]
    return [(*r, 0.5, "approve", "prod") for r in good + odd]


def _project(root: Path) -> Path:
    root.mkdir()
    source = root / "warehouse.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute(
            "CREATE TABLE logs (request_id VARCHAR, timestamp TIMESTAMPTZ, model_version VARCHAR, "
            "input_features VARCHAR, raw_prediction DOUBLE, business_output VARCHAR, environment VARCHAR)"
        )
        con.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?)", _messy_rows())
    pl.DataFrame({"age": [1.0, 2.0], "income": [1.0, 2.0], "region": ["n", "s"]}).write_parquet(
        root / "train.parquet"
    )
    (root / "driftwatch.yml").write_text(
        f"""\
storage: dw.duckdb
monitors:
  m:
    predictions:
      model_version: model_version
      database:
        driver: duckdb
        uri: {source}
        table: logs
        tiebreak: request_id
{MONITOR_TAIL}"""
    )
    return root


def _ingest(root: Path) -> tuple[IngestSummary, list[Any], list[Any]]:
    db = Database(root / "dw.duckdb")
    try:
        summary = ingest_predictions(db, load_settings(root / "driftwatch.yml").monitor("m"), FEATURES)
        cur = db.cursor()
        stored = cur.execute('SELECT * FROM "predictions:m" ORDER BY request_id, model_version').fetchall()
        quarantined = cur.execute(
            "SELECT row_number, request_id, reason, raw FROM quarantine ORDER BY row_number"
        ).fetchall()
    finally:
        db.close()
    return summary, stored, quarantined


def test_a_pulled_batch_is_stored_alike_in_memory_and_spilled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kept: list[spilled.Pulled] = []
    real_of = spilled.Pulled.of.__func__  # type: ignore[attr-defined]

    def spy(cls: type[spilled.Pulled], db: Any, table: pa.Table, kind: str) -> spilled.Pulled:
        pulled = real_of(cls, db, table, kind)
        kept.append(pulled)
        return pulled

    monkeypatch.setattr(spilled.Pulled, "of", classmethod(spy))
    memory = _ingest(_project(tmp_path / "memory"))
    assert kept and all(p.table is not None and p.spilled is None for p in kept)

    kept.clear()
    monkeypatch.setattr(spilled, "table_columns", lambda cur, table: None)
    spilled_run = _ingest(_project(tmp_path / "spilled"))
    assert kept and all(p.table is None and p.spilled is not None for p in kept)

    summary, stored, quarantined = memory
    assert (summary.rows_read, summary.failed_files) == (32, [])
    assert summary.rows_quarantined >= 8 and summary.rows_duplicate == 1
    assert [r[0] for r in quarantined] == sorted(r[0] for r in quarantined)
    assert stored == spilled_run[1]
    assert quarantined == spilled_run[2]
    other = spilled_run[0]
    assert (summary.rows_read, summary.rows_inserted, summary.rows_duplicate, summary.rows_quarantined) == (
        other.rows_read,
        other.rows_inserted,
        other.rows_duplicate,
        other.rows_quarantined,
    )
