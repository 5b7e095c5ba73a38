"""Review findings on the SQL-database source (issue 15), each against the real PostgreSQL server
(tests/sources/postgres.py) or a real DuckDB file: integer ids, NULL timestamps, plain DB-API drivers, a
process in another time zone, the look-back's id column and quarantine, a failure in the middle of a pull, and
passwords in libpq's keyword form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import psycopg
import pytest
from test_database_source import DAY, FEATURES, NOW, PgProject, config, rows

from driftwatch.config.loading import load_settings
from driftwatch.errors import ConfigError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.sources.database import _scrub

COLUMNS = (
    "model_version text, input_features jsonb, raw_prediction float8, business_output text, environment text"
)


def features(i: int) -> str:
    return json.dumps({"age": 20 + i % 50, "income": 40000.0 + i, "region": ["north", "south"][i % 2]})


def recreate(p: PgProject, columns_sql: str) -> None:
    with psycopg.connect(p.pg.uri, autocommit=True) as c:
        c.execute(f"DROP TABLE {p.table}")
        c.execute(f"CREATE TABLE {p.table} ({columns_sql})")


def pg_exec(p: PgProject, sql: str, params: list[Any] | None = None) -> None:
    with psycopg.connect(p.pg.uri, autocommit=True) as c:
        c.execute(sql, params)


def insert_int_ids(p: PgProject, first: int, n: int, ts: datetime) -> None:
    with psycopg.connect(p.pg.uri, autocommit=True) as c, c.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {p.table} VALUES (%s, %s, 'v1', %s, 0.5, 'approve', 'prod')",
            [(first + i, ts, features(i)) for i in range(n)],
        )


def test_integer_id_is_compared_as_an_integer_over_several_cycles(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server, extra="        batch_rows: 7")
    recreate(p, f"request_id bigserial PRIMARY KEY, timestamp timestamptz NOT NULL, {COLUMNS}")
    # One timestamp for all: only the id orders them, and 9 < 10 as integers (not as text).
    insert_int_ids(p, 1, 20, DAY)
    first = p.ingest()
    assert (first.failed_files, first.rows_inserted, first.files_read) == ([], 20, 3)
    idle = p.ingest()
    assert (idle.failed_files, idle.rows_read) == ([], 0)
    insert_int_ids(p, 21, 10, DAY)
    third = p.ingest()
    assert (third.failed_files, third.rows_inserted, third.rows_duplicate) == ([], 10, 0)
    assert p.stored() == 30
    mark = p.db.cursor().execute("SELECT watermark_id, watermark_id_type FROM source_watermarks").fetchone()
    assert mark == ("30", "int")


def test_a_watermark_saved_as_text_before_the_type_was_kept_resumes(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server, extra="        batch_rows: 7")
    recreate(p, f"request_id bigserial PRIMARY KEY, timestamp timestamptz NOT NULL, {COLUMNS}")
    insert_int_ids(p, 1, 20, DAY)
    # The state the old code left: the first 7 rows stored, the watermark's id as text, no type column.
    p.db.cursor().execute(
        "CREATE TABLE source_watermarks (monitor VARCHAR NOT NULL, kind VARCHAR NOT NULL, source VARCHAR NOT NULL, "
        "watermark_ts TIMESTAMP NOT NULL, watermark_id VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL, "
        "PRIMARY KEY (monitor, kind, source))"
    )
    p.db.cursor().execute(
        "INSERT INTO source_watermarks VALUES ('m', 'predictions', ?, ?, '7', ?)",
        [f"postgresql:{p.table}", DAY.replace(tzinfo=None), DAY.replace(tzinfo=None)],
    )
    resumed = p.ingest()
    assert (resumed.failed_files, resumed.rows_inserted) == ([], 13)  # ids 8..20, compared as integers
    mark = p.db.cursor().execute("SELECT watermark_id, watermark_id_type FROM source_watermarks").fetchone()
    assert mark == ("20", "int")


def test_null_timestamps_are_not_pulled_and_are_reported(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server)
    recreate(p, f"request_id text PRIMARY KEY, timestamp timestamptz, {COLUMNS}")
    p.insert(rows("a", 5, DAY))
    p.insert([("null-1", None, "v1", features(1), 0.5, "approve", "prod")])  # sorts last in PostgreSQL
    first = p.ingest()
    assert (first.failed_files, first.rows_inserted) == ([], 5)
    assert any("1 rows have no timestamp" in w for w in first.warnings), first.warnings
    p.insert(rows("b", 3, DAY + timedelta(hours=1)))
    p.insert([("null-2", None, "v1", features(2), 0.5, "approve", "prod")])
    second = p.ingest()  # a watermark exists now: the new rows come, the NULL ones are still reported
    assert (second.failed_files, second.rows_inserted) == ([], 3)
    assert any("2 rows have no timestamp" in w for w in second.warnings), second.warnings
    assert p.stored() == 8


def test_an_unexpected_error_fails_the_source_by_name_not_the_run(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftwatch.pipeline.database_sources as ds

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ds, "last_watermark", broken)
    pg_project = PgProject(tmp_path, pg_server)
    pg_project.insert(rows("a", 3, DAY))
    summary = pg_project.ingest()
    assert summary.failed_files == [
        (f"postgresql:{pg_project.table}", "unexpected error: RuntimeError: boom")
    ]
    assert pg_project.stored() == 0


PLAIN_DBAPI = '''\
"""A DB-API 2 module without fetch_arrow_table, over a DuckDB file."""
import duckdb

paramstyle = "qmark"


class Cursor:
    def __init__(self, cur):
        self._cur = cur

    @property
    def description(self):
        return self._cur.description

    def execute(self, sql, params=None):
        self._cur.execute(sql, params) if params else self._cur.execute(sql)

    def fetchall(self):
        return self._cur.fetchall()

    def fetchone(self):
        return self._cur.fetchone()

    def close(self):
        self._cur.close()


class Connection:
    def __init__(self, path):
        self._con = duckdb.connect(path, read_only=True)

    def cursor(self):
        return Cursor(self._con.cursor())

    def close(self):
        self._con.close()


def connect(uri):
    return Connection(uri)
'''


def warehouse_project(tmp_path: Path, driver: str, ts_type: str, extra: str = "") -> Path:
    """A DuckDB file as the log table behind `driver`; returns the file."""
    source = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute(
            f"CREATE TABLE logs (request_id VARCHAR, timestamp {ts_type}, model_version VARCHAR, "
            "input_features JSON, raw_prediction DOUBLE, business_output VARCHAR, environment VARCHAR)"
        )
    pl.DataFrame({"age": [1.0, 2.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        tmp_path / "train.parquet"
    )
    text = config("logs", extra).replace("driver: postgresql", f"driver: {driver}")
    text = text.replace(
        "uri: postgresql://driftwatch:${DW_TEST_PG_PASSWORD}@127.0.0.1:${DW_TEST_PG_PORT}/postgres",
        f"uri: {source}",
    )
    (tmp_path / "driftwatch.yml").write_text(text)
    return source


def add_rows(source: Path, values: list[tuple[Any, ...]]) -> None:
    with duckdb.connect(str(source)) as con:
        con.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?)", values)


def test_a_plain_dbapi_driver_survives_an_idle_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dw_plain_dbapi.py").write_text(PLAIN_DBAPI)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = warehouse_project(tmp_path, "dw_plain_dbapi", "TIMESTAMPTZ")
    add_rows(source, rows("d", 10, DAY))
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    from driftwatch.storage.database import Database

    db = Database(tmp_path / "dw.duckdb")
    first = ingest_predictions(db, mon, FEATURES)
    assert (first.failed_files, first.rows_inserted) == ([], 10)
    idle = ingest_predictions(db, mon, FEATURES)  # no new row: an empty result still has its columns
    assert (idle.failed_files, idle.rows_read) == ([], 0)
    add_rows(source, rows("e", 2, DAY + timedelta(hours=1)))
    assert ingest_predictions(db, mon, FEATURES).rows_inserted == 2


def test_a_naive_timestamp_column_in_another_process_time_zone_skips_nothing(tmp_path: Path) -> None:
    source = warehouse_project(tmp_path, "duckdb", "TIMESTAMP", extra="        batch_rows: 3")
    naive = [(r[0], r[1].replace(tzinfo=None), *r[2:]) for r in rows("n", 9, DAY, step=timedelta(minutes=20))]
    add_rows(source, naive)
    script = textwrap.dedent(
        """\
        import sys
        from driftwatch.config.loading import load_settings
        from driftwatch.config.monitors import FeatureSpec
        from driftwatch.pipeline.ingest import ingest_predictions
        from driftwatch.storage.database import Database

        mon = load_settings(sys.argv[1] + "/driftwatch.yml").monitor("m")
        db = Database(sys.argv[1] + "/dw.duckdb")
        s = ingest_predictions(db, mon, FeatureSpec(numeric=("age", "income"), categorical=("region",)))
        assert not s.failed_files, s.failed_files
        print(db.cursor().execute('SELECT count(*) FROM "predictions:m"').fetchone()[0])
        """
    )
    env = {**os.environ, "TZ": "Europe/Paris"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "9"


def test_lookback_matches_stored_rows_by_request_id_when_the_tiebreak_is_another_column(
    tmp_path: Path, pg_server: Any
) -> None:
    p = PgProject(tmp_path, pg_server, extra="        tiebreak: seq\n        lookback: 6h")
    recreate(p, f"request_id text PRIMARY KEY, timestamp timestamptz NOT NULL, {COLUMNS}, seq text NOT NULL")
    with psycopg.connect(p.pg.uri, autocommit=True) as c, c.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {p.table} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(*r, f"s-{i:04d}") for i, r in enumerate(rows("a", 10, DAY + timedelta(hours=10)))],
        )
    first = run_cycle(p.db, p.monitor, now=NOW)
    assert (first.ingest.failed_files, first.ingest.rows_inserted) == ([], 10)
    for _ in range(2):
        idle = run_cycle(p.db, p.monitor, now=NOW)
        assert (idle.ingest.failed_files, idle.ingest.rows_read, idle.ingest.rows_duplicate) == ([], 0, 0)
        assert len(idle.windows) == 0  # nothing re-read, so no window queued


def test_lookback_quarantines_a_bad_row_once(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server, extra="        lookback: 6h")
    good = rows("a", 4, DAY + timedelta(hours=10))
    bad = (
        "bad-1",
        DAY + timedelta(hours=10, seconds=1, milliseconds=500),
        "v1",
        "[1, 2]",
        0.5,
        "approve",
        "prod",
    )
    p.insert([*good, bad])
    counts = [p.ingest().rows_quarantined for _ in range(3)]
    assert counts == [1, 0, 0]
    n = p.db.cursor().execute("SELECT count(*) FROM quarantine WHERE request_id = 'bad-1'").fetchone()[0]
    assert n == 1
    assert p.stored() == 4


def test_a_failure_in_the_middle_of_a_pull_stores_neither_rows_nor_watermark(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftwatch.pipeline.database_sources as ds
    import driftwatch.pipeline.ingest as ingest

    monkeypatch.setattr(ingest, "BATCH_ROWS", 10)  # the reader commits every 10 rows
    p = PgProject(tmp_path, pg_server, extra="        batch_rows: 25")
    p.insert(rows("a", 25, DAY))
    save = ds.save_watermark

    def failing(*args: Any) -> None:
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(ds, "save_watermark", failing)
    failed = p.ingest()
    assert len(failed.failed_files) == 1 and "disk full" in failed.failed_files[0][1]
    marks = p.db.cursor().execute("SELECT count(*) FROM source_watermarks").fetchone()[0]
    assert (p.stored(), marks) == (0, 0)  # the pull was one slice: rolled back whole with its watermark
    monkeypatch.setattr(ds, "save_watermark", save)
    again = p.ingest()
    assert (again.failed_files, again.rows_inserted, again.rows_duplicate, again.files_read) == ([], 25, 0, 3)
    stored = (
        p.db.cursor().execute('SELECT count(*), count(DISTINCT request_id) FROM "predictions:m"').fetchone()
    )
    assert stored == (25, 25)


def test_config_refuses_a_literal_password_in_keyword_form(tmp_path: Path) -> None:
    text = config("t").replace(
        "uri: postgresql://driftwatch:${DW_TEST_PG_PASSWORD}@127.0.0.1:${DW_TEST_PG_PORT}/postgres",
        "uri: host=db user=u password=hunter2 dbname=x",
    )
    (tmp_path / "driftwatch.yml").write_text(text)
    with pytest.raises(ConfigError, match="holds a password") as err:
        load_settings(tmp_path / "driftwatch.yml")
    assert "hunter2" not in str(err.value)
    (tmp_path / "driftwatch.yml").write_text(text.replace("hunter2", "${DW_TEST_PG_PASSWORD}"))
    load_settings(tmp_path / "driftwatch.yml")  # a reference is fine


def test_scrub_hides_a_keyword_form_password() -> None:
    uri = "host=db user=u password=${P} dbname=x"
    message = "connection to server failed: host=db user=u password=hunter2 dbname=x: FATAL"
    assert "hunter2" not in _scrub(message, uri)
    assert "hunter2" not in _scrub("bad dsn: password = 'hunter2' host=db", uri)
    assert "hunter2" not in _scrub("url postgresql://u:hunter2@h/db?x=1&password=hunter2", uri)
