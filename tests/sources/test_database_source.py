"""A prediction log table in a real PostgreSQL server (tests/sources/postgres.py), pulled by real cycles:
incremental pulls, late rows within the look-back, a table whose columns changed, and kill -9 of a
`driftwatch run` subprocess between pull and commit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest

from _configs import MONITOR_TAIL
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.errors import ConfigError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))
DAY = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 10, tzinfo=UTC)

TABLE_SQL = """CREATE TABLE {t} (request_id text PRIMARY KEY, timestamp timestamptz NOT NULL,
 model_version text, input_features jsonb, raw_prediction float8, business_output text, environment text)"""


def config(table: str, extra: str = "") -> str:
    return f"""\
storage: dw.duckdb
monitors:
  m:
    predictions:
      model_version: model_version
      database:
        driver: postgresql
        uri: postgresql://driftwatch:${{DW_TEST_PG_PASSWORD}}@127.0.0.1:${{DW_TEST_PG_PORT}}/postgres
        table: {table}
{extra}
{MONITOR_TAIL}"""


def rows(
    prefix: str, n: int, start: datetime, step: timedelta = timedelta(seconds=1)
) -> list[tuple[Any, ...]]:
    return [
        (
            f"{prefix}-{i:06d}",
            start + i * step,
            "v1",
            json.dumps({"age": 20 + i % 50, "income": 40000.0 + i, "region": ["north", "south"][i % 2]}),
            (i % 100) / 100,
            "approve",
            "prod",
        )
        for i in range(n)
    ]


class PgProject:
    def __init__(self, root: Path, pg: Any, extra: str = "") -> None:
        self.root = root
        self.pg = pg
        self.table = f"logs_{root.name[-20:].replace('-', '_').lower()}"
        os.environ["DW_TEST_PG_PASSWORD"] = "unused-trust-auth"
        os.environ["DW_TEST_PG_PORT"] = str(pg.port)
        with psycopg.connect(pg.uri, autocommit=True) as c:
            c.execute(f"DROP TABLE IF EXISTS {self.table}")
            c.execute(TABLE_SQL.format(t=self.table))
        pl.DataFrame(
            {
                "age": [20.0 + i % 50 for i in range(200)],
                "income": [40000.0 + 37 * i for i in range(200)],
                "region": ["north", "south"] * 100,
            }
        ).write_parquet(root / "train.parquet")
        (root / "driftwatch.yml").write_text(config(self.table, extra))
        self.monitor = load_settings(root / "driftwatch.yml").monitor("m")
        self.db = Database(root / "dw.duckdb")

    def insert(self, values: list[tuple[Any, ...]]) -> None:
        with psycopg.connect(self.pg.uri, autocommit=True) as c:
            with c.cursor() as cur:
                cur.executemany(f"INSERT INTO {self.table} VALUES (%s, %s, %s, %s, %s, %s, %s)", values)

    def ingest(self):  # type: ignore[no-untyped-def]
        return ingest_predictions(self.db, self.monitor, FEATURES)

    def stored(self) -> int:
        return int(self.db.cursor().execute('SELECT count(*) FROM "predictions:m"').fetchone()[0])


@pytest.fixture
def pg_project(tmp_path: Path, pg_server: Any) -> PgProject:
    return PgProject(tmp_path, pg_server)


def test_incremental_pulls_read_each_row_once(pg_project: PgProject) -> None:
    p = pg_project
    p.insert(rows("a", 500, DAY))
    first = p.ingest()
    assert (first.rows_inserted, first.rows_duplicate, first.failed_files) == (500, 0, [])
    assert p.ingest().rows_read == 0  # nothing new: the pull after the watermark is empty
    p.insert(rows("b", 300, DAY + timedelta(hours=1)))
    second = p.ingest()
    assert (second.rows_read, second.rows_inserted) == (300, 300)
    assert p.stored() == 800
    mark = p.db.cursor().execute("SELECT watermark_ts, watermark_id FROM source_watermarks").fetchone()
    assert mark == (datetime(2026, 3, 1, 1, 4, 59), "b-000299")


def test_an_interval_column_is_read_in_memory_and_stored(pg_project: PgProject) -> None:
    """PostgreSQL's `interval` has no Parquet type: a batch holding one failed the source every cycle (its
    temporary file could not be written). It is read as a struct of its signed parts now, in memory or from a
    file alike; a bad row's raw text keeps them."""
    p = pg_project
    with psycopg.connect(p.pg.uri, autocommit=True) as c:
        c.execute(f"ALTER TABLE {p.table} ADD COLUMN latency interval DEFAULT interval '3 seconds'")
    bad = ("i-bad", DAY + timedelta(minutes=1), "v1", "[1, 2]", 0.5, "approve", "prod")
    p.insert([*rows("i", 20, DAY), bad])  # seven values a row: `latency` takes its default
    summary = p.ingest()
    assert (summary.rows_read, summary.rows_inserted, summary.rows_quarantined) == (21, 20, 1)
    assert summary.failed_files == []
    reason, raw = p.db.cursor().execute("SELECT reason, raw FROM quarantine").fetchone()
    assert reason == "input_features is not a JSON object"
    assert '"latency":{"months":0,"days":0,"nanoseconds":3000000000}' in raw


def test_an_infinite_timestamp_is_quarantined_and_the_source_goes_on(pg_project: PgProject) -> None:
    """PostgreSQL's 'infinity' sorts after every time, so it ends the pull it is in; the ADBC driver hands it over
    as a timestamp Python cannot hold, and taking the watermark from it failed the source every cycle. The
    watermark is the last row with a time that can be held; the row itself is quarantined (outside the accepted
    range), once, and later rows are pulled as before."""
    p = pg_project
    inf = ("x-inf", "infinity", "v1", json.dumps({"age": 1}), 0.5, "approve", "prod")
    p.insert([*rows("a", 10, DAY), inf])
    first = p.ingest()
    assert (first.rows_read, first.rows_inserted, first.rows_quarantined, first.failed_files) == (
        11,
        10,
        1,
        [],
    )
    p.insert(rows("b", 5, DAY + timedelta(hours=1)))
    second = p.ingest()
    assert (second.rows_inserted, second.rows_quarantined, second.failed_files) == (5, 0, [])
    assert p.stored() == 15
    reasons = p.db.cursor().execute("SELECT request_id, reason FROM quarantine").fetchall()
    assert len(reasons) == 1 and reasons[0][0] == "x-inf" and "outside the accepted range" in reasons[0][1]


def test_same_timestamp_rows_split_across_batches_use_the_id_tiebreak(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server, extra="        batch_rows: 7")
    p.insert(rows("t", 50, DAY, step=timedelta(0)))  # 50 rows with one timestamp
    summary = p.ingest()
    assert (summary.files_read, summary.rows_inserted, summary.rows_duplicate) == (8, 50, 0)
    assert p.stored() == 50


def test_late_rows_within_lookback_are_pulled_and_their_window_recomputed(
    tmp_path: Path, pg_server: Any
) -> None:
    p = PgProject(tmp_path, pg_server, extra="        lookback: 6h")
    p.insert(rows("a", 100, DAY + timedelta(hours=10)))
    run_cycle(p.db, p.monitor, now=NOW)
    computed = p.db.cursor().execute("SELECT count(*) FROM window_summaries").fetchone()[0]
    assert computed == 1
    p.insert(rows("late", 10, DAY + timedelta(hours=8)))  # 2 h behind the watermark: within the look-back
    p.insert(rows("old", 5, DAY - timedelta(days=2)))  # days behind: outside it, not pulled
    again = run_cycle(p.db, p.monitor, now=NOW)
    assert again.ingest.rows_inserted == 10
    assert again.ingest.rows_duplicate == 0  # the look-back re-read the stored rows; they are not counted
    assert len(again.windows) == 1  # the one window the late rows fall in, computed again
    n = p.db.cursor().execute("SELECT rows FROM window_summaries WHERE segment = '*'").fetchall()
    assert n == [(110,)]
    quiet = run_cycle(p.db, p.monitor, now=NOW)  # no late row: the look-back queues no window
    assert (quiet.ingest.rows_inserted, len(quiet.windows)) == (0, 0)


def test_changed_columns_fail_the_source_clearly_and_other_monitors_run(pg_project: PgProject) -> None:
    p = pg_project
    p.insert(rows("a", 20, DAY))
    assert p.ingest().rows_inserted == 20
    with psycopg.connect(p.pg.uri, autocommit=True) as c:
        c.execute(f"ALTER TABLE {p.table} RENAME COLUMN timestamp TO served_at")
    p.insert([])
    summary = run_cycle(p.db, p.monitor, now=NOW)
    assert summary.ingest.rows_inserted == 0
    assert len(summary.ingest.failed_files) == 1
    label, reason = summary.ingest.failed_files[0]
    assert label == f"postgresql:{p.table}" and "timestamp" in reason
    error = p.db.cursor().execute("SELECT error FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
    assert f"source postgresql:{p.table} failed this cycle" in error
    assert "unused-trust-auth" not in error


def test_unreachable_database_fails_the_source_without_the_password(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server)
    os.environ["DW_TEST_PG_PORT"] = "1"  # nothing listens there
    try:
        summary = p.ingest()
    finally:
        os.environ["DW_TEST_PG_PORT"] = str(pg_server.port)
    assert len(summary.failed_files) == 1 and "cannot connect" in summary.failed_files[0][1]
    assert "unused-trust-auth" not in summary.failed_files[0][1]


def test_config_refuses_a_literal_password(tmp_path: Path) -> None:
    text = config("t").replace("${DW_TEST_PG_PASSWORD}", "hunter2")
    (tmp_path / "driftwatch.yml").write_text(text)
    with pytest.raises(ConfigError, match="holds a password") as err:
        load_settings(tmp_path / "driftwatch.yml")
    assert "hunter2" not in str(err.value)


@pytest.mark.slow
def test_kill_9_between_pull_and_commit_neither_skips_nor_doubles(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server)
    n = 300_000
    with psycopg.connect(pg_server.uri, autocommit=True) as c:
        c.execute(
            f"INSERT INTO {p.table} SELECT 'k-' || lpad(i::text, 7, '0'), timestamptz '2026-03-01' + i * "
            "interval '250 milliseconds', 'v1', jsonb_build_object('age', 20 + i % 50, 'income', 1000 + i, "
            f"'region', 'north'), 0.5, 'approve', 'prod' FROM generate_series(1, {n}) i"
        )
    p.db.close()  # the subprocess opens the DuckDB file itself
    env = {**os.environ, "DW_TEST_PG_PORT": str(pg_server.port)}
    cmd = [sys.executable, "-m", "driftwatch.cli", "run", "--config", str(tmp_path / "driftwatch.yml")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Wait for the pull's query to start on the server, then for it to end: the rows are now in the client,
    # on their way into DuckDB. Kill -9 there.
    saw_query = False
    deadline = time.monotonic() + 120
    with psycopg.connect(pg_server.uri, autocommit=True) as c:
        while time.monotonic() < deadline and proc.poll() is None:
            active = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                [f"%{p.table}%ORDER BY%"],
            ).fetchone()[0]
            if active:
                saw_query = True
            elif saw_query:
                break
            time.sleep(0.01)
    if proc.poll() is not None:
        pytest.fail(f"the subprocess ended before the kill: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    assert saw_query, "the pull's query was never seen on the server"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc.stderr.close()  # type: ignore[union-attr]
    db = Database(tmp_path / "dw.duckdb")
    before = db.cursor().execute('SELECT count(*) FROM "predictions:m"').fetchone()[0]
    mark = db.cursor().execute("SELECT count(*) FROM source_watermarks").fetchone()[0]
    assert (before, mark) == (0, 0)  # killed mid-store: neither the rows nor the watermark landed
    db.close()
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    db = Database(tmp_path / "dw.duckdb")
    stored = (
        db.cursor().execute('SELECT count(*), count(DISTINCT request_id) FROM "predictions:m"').fetchone()
    )
    assert stored == (n, n)


def warehouse_project(root: Path, extra: str = "") -> Path:
    """A project whose log table is a DuckDB file (`driver: duckdb`) of 40 rows; returns that file. The file's
    path is in `DW_TEST_WAREHOUSE`, as the config's `uri` names it."""
    import duckdb

    source = root / "warehouse.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute(
            "CREATE TABLE logs (request_id VARCHAR, timestamp TIMESTAMPTZ, model_version VARCHAR, "
            "input_features JSON, raw_prediction DOUBLE, business_output VARCHAR, environment VARCHAR)"
        )
        con.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?)", rows("d", 40, DAY))
    pl.DataFrame({"age": [1.0, 2.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        root / "train.parquet"
    )
    text = config("logs", extra).replace("driver: postgresql", "driver: duckdb")
    text = text.replace(
        "uri: postgresql://driftwatch:${DW_TEST_PG_PASSWORD}@127.0.0.1:${DW_TEST_PG_PORT}/postgres",
        "uri: ${DW_TEST_WAREHOUSE}",
    )
    (root / "driftwatch.yml").write_text(text)
    os.environ["DW_TEST_WAREHOUSE"] = str(source)
    return source


def test_another_database_plugs_in_by_configuration_alone(tmp_path: Path) -> None:
    """A DuckDB file as the log table: `driver: duckdb`, `?` parameters, the same watermark semantics."""
    import duckdb

    source = warehouse_project(tmp_path)
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    db = Database(tmp_path / "dw.duckdb")
    assert ingest_predictions(db, mon, FEATURES).rows_inserted == 40
    with duckdb.connect(str(source)) as con:
        con.executemany(
            "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?)", rows("e", 5, DAY + timedelta(hours=2))
        )
    second = ingest_predictions(db, mon, FEATURES)
    assert (second.rows_read, second.rows_inserted) == (5, 5)


@pytest.mark.parametrize(
    ("database", "message"),
    [
        (
            "        driver: postgresql\n        uri: postgresql://h/db\n",
            "needs exactly one of `table` or `query`",
        ),
        ("        uri: postgresql://h/db\n        table: t\n", "needs `driver`"),
        (
            "        driver: postgresql\n        uri: x\n        table: t\n        lookback: soon\n",
            "lookback",
        ),
        (
            "        driver: postgresql\n        uri: x\n        table: t\n        batch_rows: 0\n",
            "batch_rows",
        ),
        ("        driver: postgresql\n        uri: x\n        table: t\n        tabel: t\n", "unknown key"),
    ],
)
def test_database_section_errors_name_the_key(tmp_path: Path, database: str, message: str) -> None:
    text = config("t")
    start = text.index("      database:\n") + len("      database:\n")
    end = text.index("\n    reference:")
    (tmp_path / "driftwatch.yml").write_text(text[:start] + database.rstrip("\n") + text[end:])
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(tmp_path / "driftwatch.yml")
    assert "monitors.m.predictions.database" in str(err.value)


def test_path_and_database_together_are_refused(tmp_path: Path) -> None:
    text = config("t").replace("      model_version:", "      path: logs/*.parquet\n      model_version:")
    (tmp_path / "driftwatch.yml").write_text(text)
    with pytest.raises(ConfigError, match="either `path`"):
        load_settings(tmp_path / "driftwatch.yml")


def test_a_missing_uri_variable_is_named_never_valued(tmp_path: Path) -> None:
    from driftwatch.sources.database import expand_uri

    with pytest.raises(Exception, match="DW_NOT_SET_ANYWHERE is not set"):
        expand_uri("postgresql://u:${DW_NOT_SET_ANYWHERE}@h/db", env={})
    assert expand_uri("postgresql://u:${P}@h/db", env={"P": "s3cret"}) == "postgresql://u:s3cret@h/db"


def test_a_late_shadow_row_of_a_stored_request_is_pulled_by_the_look_back(
    tmp_path: Path, pg_server: Any
) -> None:
    """A prediction is (request_id, model_version) (issue 16): a shadow model's rows for requests already
    stored, committed late (behind the watermark), are stored by the look-back, not dropped as stored ids."""
    p = PgProject(tmp_path, pg_server, extra="        lookback: 6h")
    with psycopg.connect(p.pg.uri, autocommit=True) as c:  # the source's key is the pair too
        c.execute(f"ALTER TABLE {p.table} DROP CONSTRAINT {p.table}_pkey")
        c.execute(f"ALTER TABLE {p.table} ADD PRIMARY KEY (request_id, model_version)")
    stored = rows("a", 100, DAY + timedelta(hours=10))
    p.insert(stored)
    assert p.ingest().rows_inserted == 100
    p.insert([(r[0], r[1], "v2-shadow", *r[3:]) for r in stored[:40]])  # same ids and times, another version
    again = p.ingest()
    assert (again.rows_inserted, again.rows_duplicate) == (40, 0)
    quiet = p.ingest()  # read again by the next look-back: stored, so neither inserted nor counted
    assert (quiet.rows_inserted, quiet.rows_duplicate) == (0, 0)
    versions = (
        p.db.cursor()
        .execute('SELECT model_version, count(*) FROM "predictions:m" GROUP BY 1 ORDER BY 1')
        .fetchall()
    )
    assert versions == [("v1", 100), ("v2-shadow", 40)]


@pytest.mark.parametrize("in_memory", [True, False], ids=["in memory", "spilled"])
def test_a_store_failing_mid_source_keeps_the_batches_before_and_leaves_no_pulled_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    """The next batch is pulled (and, when spilled, written to a temporary file) while one is stored. When a
    store fails in the middle (the batch read and registered, its insert failing), the batches stored before it
    keep their rows and watermark, the source fails for the cycle with the insert's own error, the batch pulled
    ahead is not stored and its file is removed, no cursor is left open; the next cycle goes on from the
    watermark, nothing doubled."""
    import tempfile

    from driftwatch.pipeline import database_sources, spilled
    from driftwatch.storage import ingest_rows

    if not in_memory:  # as for a batch DuckDB would read otherwise than its Parquet file
        monkeypatch.setattr(spilled, "table_columns", lambda cur, table: None)
    kept: list[spilled.Pulled] = []
    real_of = spilled.Pulled.of.__func__  # type: ignore[attr-defined]

    def spy(cls: type[spilled.Pulled], db: Any, table: Any, kind: str) -> spilled.Pulled:
        kept.append(real_of(cls, db, table, kind))
        return kept[-1]

    monkeypatch.setattr(spilled.Pulled, "of", classmethod(spy))
    monkeypatch.setenv("DW_TEST_WAREHOUSE", "")  # restored after the test; set by warehouse_project
    warehouse_project(tmp_path, "        batch_rows: 10")
    pulls = tmp_path / "tmp"
    pulls.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(pulls))
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    db = Database(tmp_path / "dw.duckdb")
    real_insert = ingest_rows.insert_batch
    inserts = []

    def failing_second(*args: Any, **kwargs: Any) -> Any:
        inserts.append(1)
        if len(inserts) == 2:
            time.sleep(0.2)  # the third batch is being pulled ahead meanwhile
            # A statement that fails in DuckDB (the transaction is aborted, as by a full disk)
            args[0].execute("SELECT CAST('disk full (test)' AS INTEGER)")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(ingest_rows, "insert_batch", failing_second)
    first = ingest_predictions(db, mon, FEATURES)
    assert first.rows_inserted == 10
    assert [path for path, _ in first.failed_files] == ["duckdb:logs"]
    assert "disk full (test)" in first.failed_files[0][1]  # the error itself, not "transaction is aborted"
    assert list(pulls.iterdir()) == []  # the batch pulled ahead of the failed store left no file
    assert kept and all((p.table is not None) == in_memory for p in kept)
    assert all((p.spilled is None) == in_memory for p in kept)
    assert database_sources.PULL_ROWS >= 10  # the pulls here are batch_rows (10) rows each
    monkeypatch.setattr(ingest_rows, "insert_batch", real_insert)
    second = ingest_predictions(db, mon, FEATURES)
    assert (second.rows_inserted, second.rows_duplicate, second.failed_files) == (30, 0, [])
    stored = (
        db.cursor().execute('SELECT count(*), count(DISTINCT request_id) FROM "predictions:m"').fetchone()
    )
    assert stored == (40, 40)
    assert list(pulls.iterdir()) == []
    db.close()  # refuses while a cursor is still busy (`Database.close`)
