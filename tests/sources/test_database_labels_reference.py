"""Labels and the reference in a real PostgreSQL server (tests/sources/postgres.py): labels pulled incrementally
by their timestamp, a corrected label replacing the stored one (the old kept in `label_history`), the reference
read once into a local Parquet copy and rebuilt only when its data changes, and an unreachable database failing
only that source."""

from __future__ import annotations

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
import pyarrow as pa
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.errors import ConfigError, SourceError
from driftwatch.pipeline import database_reference
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.labels import ingest_labels
from driftwatch.pipeline.object_sources import local_reference
from driftwatch.storage.database import Database

DAY = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 10, tzinfo=UTC)
URI = "postgresql://driftwatch:${DW_TEST_PG_PASSWORD}@127.0.0.1:${DW_TEST_PG_PORT}/postgres"


def config(labels: str, ref: str, reference: str | None = None) -> str:
    reference = (
        reference
        or f"""\
    reference:
      prediction: score
      database:
        driver: postgresql
        uri: {URI}
        query: SELECT x1, score FROM {ref} ORDER BY id
"""
    )
    return f"""\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: preds.parquet
      features: [x1]
      prediction: score
{reference}    features:
      numeric: [x1]
    min_rows: 1
    task: binary_classification
    labels:
      timestamp: labelled_at
      database:
        driver: postgresql
        uri: {URI}
        table: {labels}
        batch_rows: 40
"""


class Project:
    def __init__(self, root: Path, pg: Any, reference: str | None = None) -> None:
        self.root, self.pg = root, pg
        stem = root.name[-20:].replace("-", "_").lower()
        self.labels, self.ref = f"labels_{stem}", f"ref_{stem}"
        os.environ["DW_TEST_PG_PASSWORD"] = "unused-trust-auth"
        os.environ["DW_TEST_PG_PORT"] = str(pg.port)
        self.sql(f"DROP TABLE IF EXISTS {self.labels}, {self.ref}")
        self.sql(f"CREATE TABLE {self.labels} (request_id text, label int, labelled_at timestamptz)")
        self.sql(f"CREATE TABLE {self.ref} (id int PRIMARY KEY, x1 float8, score float8)")
        self.sql(f"INSERT INTO {self.ref} SELECT i, i % 17, (i % 10) / 10.0 FROM generate_series(1, 300) i")
        n = 100
        pl.DataFrame(
            {
                "request_id": [f"r{i:04d}" for i in range(n)],
                "timestamp": [DAY + timedelta(minutes=i) for i in range(n)],
                "x1": [float(i % 17) for i in range(n)],
                "score": [(i % 10) / 10 for i in range(n)],
            }
        ).write_parquet(root / "preds.parquet")
        (root / "driftwatch.yml").write_text(config(self.labels, self.ref, reference))
        self.monitor = load_settings(root / "driftwatch.yml").monitor("m")
        self.db = Database(root / "dw.duckdb")

    def sql(self, statement: str, params: list[Any] | None = None) -> None:
        with psycopg.connect(self.pg.uri, autocommit=True) as c:
            c.execute(statement, params)

    def add_labels(self, first: int, n: int, at: datetime, label: int | None = None) -> None:
        with psycopg.connect(self.pg.uri, autocommit=True) as c, c.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.labels} VALUES (%s, %s, %s)",
                [(f"r{i:04d}", i % 2 if label is None else label, at) for i in range(first, first + n)],
            )

    def stored(self, sql: str) -> Any:
        return self.db.cursor().execute(sql).fetchall()


@pytest.fixture
def project(tmp_path: Path, pg_server: Any) -> Project:
    return Project(tmp_path, pg_server)


def test_labels_are_pulled_incrementally_and_a_correction_replaces_the_label(project: Project) -> None:
    p = project
    p.add_labels(0, 90, DAY + timedelta(hours=5))  # 90 rows, batches of 40: three pulls, three transactions
    first = ingest_labels(p.db, p.monitor)
    assert (first.labels_new, first.rows_read, first.failed_files) == (90, 90, [])
    assert first.files_read == 3
    again = ingest_labels(p.db, p.monitor)  # nothing after the watermark
    assert (again.rows_read, again.labels_new) == (0, 0)
    mark = p.stored("SELECT kind, watermark_ts, watermark_id FROM source_watermarks")
    assert mark == [("labels", datetime(2026, 3, 1, 5, 0), "r0089")]

    # r0003 was labelled 1; the source corrects it to 0 later (a new row, newer labelled_at), and 10 new come.
    p.add_labels(3, 1, DAY + timedelta(hours=8), label=0)
    p.add_labels(90, 10, DAY + timedelta(hours=9))
    second = ingest_labels(p.db, p.monitor)
    assert (second.rows_read, second.labels_new, second.labels_replaced) == (11, 10, 1)
    assert p.stored("SELECT label FROM labels WHERE request_id = 'r0003'") == [("0",)]
    history = p.stored("SELECT label, labelled_at FROM label_history WHERE request_id = 'r0003'")
    assert history == [("1", datetime(2026, 3, 1, 5, 0))]
    assert p.stored("SELECT count(*) FROM labels") == [(100,)]


def test_reference_is_made_local_once_and_rebuilt_only_when_its_data_changes(project: Project) -> None:
    p = project
    local = local_reference(p.db, p.monitor)
    path = Path(local.reference.path)
    assert path.is_file() and path.parent.parent == p.root / ".driftwatch-sql-reference"
    assert pl.read_parquet(path).height == 300
    first = run_cycle(p.db, p.monitor, now=NOW)
    assert first.profile_rebuilt and first.ingest.rows_inserted == 100
    assert first.labels is not None and first.labels.labels_new == 0
    same = run_cycle(p.db, p.monitor, now=NOW)
    assert not same.profile_rebuilt  # the same query result: the same local copy, the same profile
    assert local_reference(p.db, p.monitor).reference.path == str(path)
    p.sql(f"UPDATE {p.ref} SET x1 = x1 + 100 WHERE id <= 150")
    changed = run_cycle(p.db, p.monitor, now=NOW)
    assert changed.profile_rebuilt
    assert not path.exists()  # the old copy is removed once the new one is written
    assert len(list(path.parent.iterdir())) == 1


def table_reference(table: str, extra: str = "") -> str:
    """The `reference:` block of a reference read from a whole table (`extra`: one more key of `database:`)."""
    more = f"        {extra}\n" if extra else ""
    return (
        "    reference:\n      prediction: score\n      database:\n        driver: postgresql\n"
        f"        uri: {URI}\n        table: {table}\n{more}"
    )


def test_a_version_query_skips_reading_an_unchanged_reference(tmp_path: Path, pg_server: Any) -> None:
    ref = f"ref_{tmp_path.name[-20:].replace('-', '_').lower()}"
    p = Project(tmp_path, pg_server, table_reference(ref, f"version: SELECT max(id) FROM {ref}"))
    path = Path(local_reference(p.db, p.monitor).reference.path)
    assert pl.read_parquet(path).height == 300
    p.sql(f"UPDATE {p.ref} SET x1 = -1")  # the version (max id) does not move: the copy is kept, not re-read
    assert local_reference(p.db, p.monitor).reference.path == str(path)
    assert pl.read_parquet(path)["x1"].min() == 0
    p.sql(f"INSERT INTO {p.ref} VALUES (301, 5, 0.5)")  # a new version: read again
    newer = Path(local_reference(p.db, p.monitor).reference.path)
    assert newer != path and pl.read_parquet(newer).height == 301


def test_an_interval_column_in_the_labels_and_the_reference_is_read(tmp_path: Path, pg_server: Any) -> None:
    """PostgreSQL's `interval` has no Parquet type: a labels or reference table holding one failed its source
    every cycle (the pulled batch's file, the reference's local copy, could not be written). It is written as
    a struct of its signed parts now, negative values too, and left out of the features."""
    ref = f"ref_{tmp_path.name[-20:].replace('-', '_').lower()}"
    p = Project(tmp_path, pg_server, table_reference(ref))
    p.sql(f"ALTER TABLE {p.labels} ADD COLUMN took interval DEFAULT interval '-3 seconds'")
    p.sql(
        f"ALTER TABLE {p.labels} ADD COLUMN tooks interval[] DEFAULT ARRAY[interval '1 s', interval '-2 s']"
    )
    p.sql(f"ALTER TABLE {p.ref} ADD COLUMN took interval DEFAULT interval '1 day -2 hours'")
    p.sql(f"UPDATE {p.ref} SET took = interval '1.234567 seconds' WHERE id = 7")
    p.add_labels(0, 90, DAY + timedelta(hours=5))
    done = run_cycle(p.db, p.monitor, now=NOW)
    assert done.profile_rebuilt and done.ingest.rows_inserted == 100
    assert done.labels is not None
    assert (done.labels.labels_new, done.labels.failed_files) == (90, [])
    copy = local_reference(p.db, p.monitor).reference.path
    took = p.db.cursor().execute("SELECT DISTINCT took FROM read_parquet(?) ORDER BY 1", [copy]).fetchall()
    assert took == [
        ({"months": 0, "days": 0, "nanoseconds": 1_234_567_000},),
        ({"months": 0, "days": 1, "nanoseconds": -7_200_000_000_000},),
    ]


def test_unreachable_label_database_fails_only_the_labels(project: Project) -> None:
    p = project
    p.add_labels(0, 10, DAY + timedelta(hours=5))
    local_reference(p.db, p.monitor)  # the reference's copy exists (made while the database was up)
    os.environ["DW_TEST_PG_PORT"] = "1"  # nothing listens there
    try:
        summary = run_cycle(p.db, p.monitor, now=NOW)
    finally:
        os.environ["DW_TEST_PG_PORT"] = str(p.pg.port)
    assert summary.ingest.rows_inserted == 100  # predictions and drift go on
    assert summary.labels is not None and len(summary.labels.failed_files) == 1
    label, reason = summary.labels.failed_files[0]
    assert label == f"postgresql:{p.labels}" and "cannot connect" in reason
    assert "unused-trust-auth" not in reason
    error, failed = p.stored("SELECT error, files_failed FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    assert f"source postgresql:{p.labels} failed this cycle" in error
    # so /metrics' driftwatch_last_cycle_files_failed and its alert rule see it; the reference is in the same
    # (unreachable) database: it fell back to its copy and counts as the second
    assert failed == 2 and "the last copy read is used" in error
    retried = ingest_labels(p.db, p.monitor)  # the database is back: nothing was lost
    assert (retried.labels_new, retried.failed_files) == (10, [])


def test_unreachable_reference_database_is_a_clear_failure(project: Project) -> None:
    p = project
    os.environ["DW_TEST_PG_PORT"] = "1"
    try:
        with pytest.raises(SourceError, match="cannot connect") as err:
            local_reference(p.db, p.monitor)
    finally:
        os.environ["DW_TEST_PG_PORT"] = str(p.pg.port)
    assert err.value.path == "postgresql:query" and "unused-trust-auth" not in str(err.value)


def test_reference_database_with_a_cached_copy_keeps_the_cycle_going(project: Project) -> None:
    p = project
    path = local_reference(p.db, p.monitor).reference.path
    os.environ["DW_TEST_PG_PORT"] = "1"
    try:
        summary = run_cycle(p.db, p.monitor, now=NOW)
        again = local_reference(p.db, p.monitor)
    finally:
        os.environ["DW_TEST_PG_PORT"] = str(p.pg.port)
    assert again.reference.path == path  # the last copy read, while the database cannot be reached
    assert summary.ingest.rows_inserted == 100 and summary.profile_rebuilt
    warning = "reference postgresql:query failed this cycle: cannot connect"
    assert any(w.startswith(warning) for w in summary.warnings)
    error, failed = p.stored("SELECT error, files_failed FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    assert warning in error and "unused-trust-auth" not in error
    assert failed == 2  # the reference, and the labels (in the same database)


def test_a_reference_copy_that_cannot_be_written_keeps_the_last_one(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table Parquet cannot hold (a column type pyarrow refuses, a full disk) fails the reference as an
    unreachable database does: the last copy is used, with a warning, and no half-written file is left."""
    p = project
    path = local_reference(p.db, p.monitor).reference.path
    p.sql(f"UPDATE {p.ref} SET x1 = x1 + 1")  # new data: a new copy is to be written

    def refused(table: pa.Table, target: Path, **options: object) -> None:
        Path(target).write_bytes(b"PAR1 half")
        raise pa.ArrowNotImplementedError("Unhandled type for Arrow to Parquet schema conversion: x")

    monkeypatch.setattr(database_reference, "write_parquet", refused)
    summary = run_cycle(p.db, p.monitor, now=NOW)
    assert summary.ingest.rows_inserted == 100
    warning = (
        "reference postgresql:query failed this cycle: its local copy could not be written: Unhandled type"
    )
    assert any(w.startswith(warning) for w in summary.warnings), summary.warnings
    assert [f.name for f in Path(path).parent.iterdir()] == [Path(path).name]


def test_a_crash_inside_the_labels_transaction_stores_neither_labels_nor_watermark(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watermark is saved in the labels' transaction: a failure after it (here: raised right after the
    save, as a crash before the commit would) rolls back both, and the next pull stores every label once."""
    import driftwatch.pipeline.database_labels as database_labels

    p = project
    p.add_labels(0, 30, DAY + timedelta(hours=5))
    real_save = database_labels.save_watermark

    def save_then_crash(*args: Any) -> None:
        real_save(*args)
        raise RuntimeError("crash before the commit")

    monkeypatch.setattr(database_labels, "save_watermark", save_then_crash)
    crashed = ingest_labels(p.db, p.monitor)
    assert "crash before the commit" in crashed.failed_files[0][1]
    assert p.stored("SELECT count(*) FROM labels") == [(0,)]
    assert p.stored("SELECT count(*) FROM source_watermarks") == [(0,)]
    monkeypatch.setattr(database_labels, "save_watermark", real_save)
    after = ingest_labels(p.db, p.monitor)
    assert (after.labels_new, after.failed_files) == (30, [])
    assert p.stored("SELECT count(*), count(DISTINCT request_id) FROM labels") == [(30, 30)]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("      database: {driver: postgresql, uri: 'postgresql://h/db', table: t}", "needs `watermark`"),
        (
            "      path: l.csv\n      database: {driver: postgresql, uri: 'postgresql://h/db', table: t, "
            "watermark: at}",
            "not both",
        ),
    ],
)
def test_label_database_config_errors_name_the_key(tmp_path: Path, labels: str, message: str) -> None:
    (tmp_path / "driftwatch.yml").write_text(
        "monitors:\n  m:\n    predictions: {path: p.parquet, prediction: s}\n    reference: {path: r.parquet}\n"
        f"    task: binary_classification\n    labels:\n{labels}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path / "driftwatch.yml")


def test_reference_database_refuses_a_watermark_key(tmp_path: Path) -> None:
    (tmp_path / "driftwatch.yml").write_text(
        "monitors:\n  m:\n    predictions: {path: p.parquet}\n    reference:\n      database: {driver: "
        "postgresql, uri: 'postgresql://h/db', table: t, watermark: at}\n"
    )
    with pytest.raises(ConfigError, match=r"reference\.database\.watermark.*unknown key"):
        load_settings(tmp_path / "driftwatch.yml")


def test_a_label_written_late_within_the_lookback_is_picked_up(tmp_path: Path, pg_server: Any) -> None:
    p = Project(tmp_path, pg_server)
    text = (
        (tmp_path / "driftwatch.yml")
        .read_text()
        .replace("batch_rows: 40", "batch_rows: 40\n        lookback: 2h")
    )
    (tmp_path / "driftwatch.yml").write_text(text)
    p.monitor = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    p.add_labels(0, 50, DAY + timedelta(hours=5))
    assert ingest_labels(p.db, p.monitor).labels_new == 50
    p.add_labels(50, 5, DAY + timedelta(hours=4))  # committed now, stamped an hour behind the watermark
    p.add_labels(60, 5, DAY + timedelta(hours=1))  # beyond the look-back: not pulled
    late = ingest_labels(p.db, p.monitor)
    assert (late.labels_new, late.labels_replaced, late.failed_files) == (5, 0, [])
    assert late.labels_unchanged == 50  # the look-back re-reads the stored ones: unchanged, nothing doubled
    assert p.stored("SELECT count(*) FROM labels") == [(55,)]


def test_a_label_table_whose_columns_changed_fails_clearly(project: Project) -> None:
    p = project
    p.add_labels(0, 10, DAY + timedelta(hours=5))
    assert ingest_labels(p.db, p.monitor).labels_new == 10
    p.sql(f"ALTER TABLE {p.labels} RENAME COLUMN labelled_at TO written_at")
    summary = ingest_labels(p.db, p.monitor)
    assert summary.labels_new == 0 and len(summary.failed_files) == 1
    label, reason = summary.failed_files[0]
    assert label == f"postgresql:{p.labels}" and "labelled_at" in reason
    assert summary.warnings[-1].startswith(f"source postgresql:{p.labels} failed this cycle")


def test_a_reference_query_with_no_rows_is_refused(project: Project) -> None:
    p = project
    p.sql(f"DELETE FROM {p.ref}")
    with pytest.raises(SourceError, match="returned no rows") as err:
        local_reference(p.db, p.monitor)
    assert err.value.path == "postgresql:query"


@pytest.mark.slow
def test_kill_9_during_a_label_pull_neither_skips_nor_doubles(tmp_path: Path, pg_server: Any) -> None:
    """A `driftwatch run` subprocess killed after the label pull's query ended (the rows in the client, on their
    way into DuckDB): no label and no watermark landed; the next run stores every label once."""
    p = Project(tmp_path, pg_server)
    text = (tmp_path / "driftwatch.yml").read_text().replace("batch_rows: 40", "batch_rows: 1000000")
    (tmp_path / "driftwatch.yml").write_text(text)
    n = 300_000
    p.sql(
        f"INSERT INTO {p.labels} SELECT 'k-' || lpad(i::text, 7, '0'), i % 2, timestamptz '2026-03-01' + "
        f"i * interval '250 milliseconds' FROM generate_series(1, {n}) i"
    )
    p.db.close()  # the subprocess opens the DuckDB file itself
    env = {**os.environ, "DW_TEST_PG_PORT": str(pg_server.port)}
    cmd = [sys.executable, "-m", "driftwatch.cli", "run", "--config", str(tmp_path / "driftwatch.yml")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    saw_query = False
    deadline = time.monotonic() + 120
    with psycopg.connect(pg_server.uri, autocommit=True) as c:
        while time.monotonic() < deadline and proc.poll() is None:
            active = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                [f"%{p.labels}%ORDER BY%"],
            ).fetchone()
            if active and active[0]:
                saw_query = True
            elif saw_query:
                break
            time.sleep(0.01)
    if proc.poll() is not None:
        pytest.fail(f"the subprocess ended before the kill: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    assert saw_query, "the label pull's query was never seen on the server"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc.stderr.close()  # type: ignore[union-attr]
    db = Database(tmp_path / "dw.duckdb")
    labels = db.cursor().execute("SELECT count(*) FROM labels").fetchone()
    marks = db.cursor().execute("SELECT count(*) FROM source_watermarks WHERE kind = 'labels'").fetchone()
    assert (labels, marks) == ((0,), (0,))  # killed mid-store: neither the labels nor the watermark landed
    db.close()
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    db = Database(tmp_path / "dw.duckdb")
    stored = db.cursor().execute("SELECT count(*), count(DISTINCT request_id) FROM labels").fetchone()
    assert stored == (n, n)
