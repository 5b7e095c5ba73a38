"""A Parquet file of one row group is read by pyarrow and normalised on every core (`sources.parquet_rows`):
the rows, their reasons, numbers and raw texts must be the ones DuckDB's own reader gives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.sources import parquet_rows
from driftwatch.sources.files import describe_columns
from driftwatch.sources.logs import LogLayout, normalise_query
from driftwatch.sources.typed_lines import normalising
from driftwatch.storage.database import Database

ROWS = parquet_rows.MIN_ROWS + 1_000


def messy_table(rows: int = ROWS) -> pa.Table:
    """Every kind of value the normalising query judges, bad ones scattered through the file."""
    rng = np.random.default_rng(5)
    i = np.arange(rows)
    ids = [None if k % 9_001 == 7 else (" " if k % 12_007 == 3 else f"r{k}") for k in range(rows)]
    stamps = [
        "yesterday" if k % 7_919 == 11 else f"2026-03-0{1 + k % 9}T{k % 24:02d}:00:00Z" for k in range(rows)
    ]
    age = rng.normal(40, 10, rows)
    age[i % 5_003 == 1] = np.nan
    age[i % 10_007 == 2] = np.inf
    income = [None if k % 3_001 == 5 else ("abc" if k % 15_013 == 4 else f"{k * 1.5}") for k in range(rows)]
    region = [["north", "south", "", None, "1.0", "TRUE", "inf"][k % 7] for k in range(rows)]
    feats = [
        "{not json" if k % 20_011 == 9 else json.dumps({"tenure": k % 50, "plan": ["a", "b"][k % 2]})
        for k in range(rows)
    ]
    return pa.table(
        {
            "request_id": pa.array(ids),
            "timestamp": pa.array(stamps),
            "age": pa.array(age),
            "income": pa.array(income),
            "region": pa.array(region),
            "count": pa.array(i % 13, pa.int32()),
            "flag": pa.array(i % 3 == 0),
            "extra": pa.array(feats),
            "score": pa.array(rng.random(rows)),
            "version": pa.array([["v1", "v2"][k % 2] for k in range(rows)]),
            "s": pa.array([f"sv{k % 3}" for k in range(rows)]),  # named like a table alias (it shadowed one)
        }
    )


LAYOUT = LogLayout(
    id="request_id",
    timestamp="timestamp",
    numeric=("age", "income", "count"),
    categorical=("region", "flag"),
    model_version="version",
    prediction="score",
)


def both_paths(path: Path, layout: LogLayout) -> tuple[pa.Table, pa.Table]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = describe_columns(con, "parquet", str(path))
    assert parquet_rows.single_row_group(path)
    assert parquet_rows.arrow_types_match(con, path, columns)
    sql, params = normalise_query("parquet", str(path), columns, layout)
    by_duckdb = con.sql(sql, params=params).to_arrow_table()
    sql, params = normalise_query("parquet", str(path), columns, layout, arrow_rows=True)
    con.register(parquet_rows.ARROW_VIEW, parquet_rows.numbered(path, parquet_rows.arrow_schema(path)))
    by_arrow = con.sql(sql, params=params).to_arrow_table()
    return by_duckdb, by_arrow


def test_the_rows_reasons_and_raw_texts_are_duckdbs_own(tmp_path: Path) -> None:
    path = tmp_path / "one-group.parquet"
    pq.write_table(messy_table(), path)  # pyarrow's default: one row group up to 1Mi rows
    by_duckdb, by_arrow = both_paths(path, LAYOUT)
    assert by_arrow.schema == by_duckdb.schema
    assert by_arrow.equals(by_duckdb)
    bad = by_duckdb.filter(by_duckdb.column("_reason").is_valid())
    assert 30 < bad.num_rows < ROWS // 100  # the scattered bad rows, each with its reason and raw text
    assert bad.column("_raw").null_count == 0
    raw = json.loads(bad.column("_raw")[0].as_py())
    assert list(raw) == list(messy_table(10).column_names)  # the whole row, whatever its columns are called
    assert by_duckdb.column("_row").to_pylist() == list(range(1, ROWS + 1))


def test_features_in_a_json_column_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "one-group.parquet"
    pq.write_table(messy_table(), path)
    layout = LogLayout(
        id="request_id",
        timestamp="timestamp",
        numeric=("tenure",),
        categorical=("plan",),
        features_json="extra",
    )
    by_duckdb, by_arrow = both_paths(path, layout)
    assert by_arrow.equals(by_duckdb)
    reasons = by_duckdb.column("_reason").to_pylist()
    assert reasons.count("extra is not a JSON object") == 4  # the rows whose features object is broken


def test_which_files_take_the_pyarrow_path(tmp_path: Path) -> None:
    table = messy_table()
    pq.write_table(table, tmp_path / "one.parquet")
    pq.write_table(
        table, tmp_path / "groups.parquet", row_group_size=20_000
    )  # DuckDB reads these in parallel
    pq.write_table(table.slice(0, 1_000), tmp_path / "small.parquet")  # one thread is quick anyway
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not a parquet file")
    assert parquet_rows.single_row_group(tmp_path / "one.parquet")
    assert not parquet_rows.single_row_group(tmp_path / "groups.parquet")
    assert not parquet_rows.single_row_group(tmp_path / "small.parquet")
    assert not parquet_rows.single_row_group(tmp_path / "broken.parquet")
    # A column pyarrow hands DuckDB with another type than DuckDB's reader gives it (milliseconds: TIMESTAMP
    # from the file, TIMESTAMP_MS from Arrow) keeps the file on DuckDB's reader.
    ms = table.append_column("at", pa.array(np.zeros(ROWS, dtype="datetime64[ms]")))
    pq.write_table(ms, tmp_path / "ms.parquet")
    con = duckdb.connect()
    columns = describe_columns(con, "parquet", str(tmp_path / "ms.parquet"))
    assert not parquet_rows.arrow_types_match(con, tmp_path / "ms.parquet", columns)
    plan = normalising(con, "parquet", str(tmp_path / "ms.parquet"), columns, LAYOUT)
    assert plan.arrow_file is None
    plan = normalising(
        con,
        "parquet",
        str(tmp_path / "one.parquet"),
        describe_columns(con, "parquet", str(tmp_path / "one.parquet")),
        LAYOUT,
    )
    assert plan.arrow_file == str(tmp_path / "one.parquet")
    # A file with a column named like the added row number keeps DuckDB's reader.
    pq.write_table(
        table.append_column(parquet_rows.ROW_COLUMN, pa.array(np.zeros(ROWS))), tmp_path / "r.parquet"
    )
    columns = describe_columns(con, "parquet", str(tmp_path / "r.parquet"))
    assert not parquet_rows.arrow_types_match(con, tmp_path / "r.parquet", columns)


CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*.parquet
      model_version: version
      prediction: score
      features: [age, income, count, region, flag]
    reference:
      path: train.parquet
    features:
      numeric: [age, income, count]
      categorical: [region, flag]
    min_rows: 1
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    pl.DataFrame(
        {
            "age": [20.0, 40.0],
            "income": [1.0, 2.0],
            "count": [1.0, 2.0],
            "region": ["a", "b"],
            "flag": ["true", "false"],
        }
    ).write_parquet(tmp_path / "train.parquet")
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    return tmp_path


def stored(
    project: Path, pyarrow_path: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[tuple], list[tuple], tuple]:
    if not pyarrow_path:
        monkeypatch.setattr(parquet_rows, "MIN_ROWS", 10**9)  # every file on DuckDB's reader
    features = FeatureSpec(numeric=("age", "income", "count"), categorical=("region", "flag"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(project / f"dw-{pyarrow_path}.duckdb") as db:
        s = ingest_predictions(db, settings.monitor("m"), features)
        cur = db.cursor()
        rows = cur.execute('SELECT * FROM "predictions:m" ORDER BY request_id, model_version').fetchall()
        quarantined = cur.execute(
            "SELECT source, row_number, request_id, reason, raw FROM quarantine ORDER BY row_number"
        ).fetchall()
    monkeypatch.undo()
    return rows, quarantined, (s.rows_read, s.rows_inserted, s.rows_duplicate, s.rows_quarantined)


def test_ingest_stores_and_quarantines_the_same_either_way(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq.write_table(messy_table(), project / "logs" / "day.parquet")
    read: list[str] = []
    real = parquet_rows.numbered

    def spy(path: str | Path, schema: pa.Schema, chunk_rows: int = 32_768) -> pa.Table:
        read.append(str(path))
        return real(path, schema, chunk_rows)

    import driftwatch.sources.typed_lines as typed_lines

    monkeypatch.setattr(typed_lines, "numbered", spy)
    by_arrow = stored(project, True, monkeypatch)
    assert read == [str(project / "logs" / "day.parquet")]
    by_duckdb = stored(project, False, monkeypatch)
    assert by_arrow == by_duckdb
    rows, quarantined, counts = by_arrow
    assert counts[0] == ROWS and counts[3] == len(quarantined) > 30
    ages = [r[5] for r in rows]  # `f:age`, after request_id, ts, model_version, prediction, output
    assert None in ages and all(
        a is None or math.isfinite(a) for a in ages
    )  # NaN stored as NULL, inf refused


def test_a_file_pyarrow_cannot_read_goes_through_duckdb(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq.write_table(messy_table(), project / "logs" / "day.parquet")
    import driftwatch.sources.typed_lines as typed_lines

    def refuse(path: str | Path, schema: pa.Schema, chunk_rows: int = 32_768) -> pa.Table:
        raise pa.ArrowInvalid("cannot read (test)")

    monkeypatch.setattr(typed_lines, "numbered", refuse)
    rows, quarantined, counts = stored(project, True, monkeypatch)
    assert counts[0] == ROWS and counts[1] == len(rows) > ROWS - 100 and counts[3] == len(quarantined)


def test_a_string_that_is_not_utf8_fails_its_file_alone(project: Path) -> None:
    """pyarrow reads such a string without checking it, and DuckDB's functions on it end in a FATAL error that
    invalidates the database: the file is read by DuckDB's own reader instead, which refuses that file alone;
    the next file is stored and the database goes on working."""
    table = messy_table()
    region = table.column("region").to_pylist()
    raw = pa.array([None if r is None else r.encode() for r in region], pa.binary())
    raw = pa.concat_arrays([raw.slice(0, 100), pa.array([b"n\xff"], pa.binary()), raw.slice(101)])
    broken = table.set_column(table.column_names.index("region"), "region", raw.cast(pa.string(), safe=False))
    pq.write_table(broken, project / "logs" / "01.parquet")
    pq.write_table(table, project / "logs" / "02.parquet")
    features = FeatureSpec(numeric=("age", "income", "count"), categorical=("region", "flag"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(project / "dw.duckdb") as db:
        summary = ingest_predictions(db, settings.monitor("m"), features)
        assert [Path(p).name for p, _ in summary.failed_files] == ["01.parquet"]
        assert "encoding" in summary.failed_files[0][1].lower() or "utf" in summary.failed_files[0][1].lower()
        assert summary.files_read == 1 and summary.rows_read == ROWS
        stored = db.cursor().execute('SELECT count(*) FROM "predictions:m"').fetchone()
    assert stored is not None and stored[0] > 0
