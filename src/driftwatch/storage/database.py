"""The Database object: owns the DuckDB file, applies migrations, hands out cursors and transactions.

DuckDB allows one process to open a file for writing; a second process cannot even read it. So one object per
process owns the connection, and every thread works on its own cursor (a shared connection raises
"connection is busy").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

from driftwatch.config.settings import DatabaseSettings
from driftwatch.durations import naive_utc_now
from driftwatch.errors import DatabaseLockedError
from driftwatch.storage.prediction_identity import keyed_prediction_tables, rebuild_without_key
from driftwatch.storage.schema import MIGRATIONS, PUSHED_WINDOWS_SQL, RETENTION_SQL, RUN_ALERTS_SQL

log = logging.getLogger("driftwatch.storage")

# DuckDB's `max_vacuum_tasks`: how many row groups of one table a checkpoint may rewrite to merge adjacent partial
# row groups ("vacuum"); a merge of k row groups counts k. With DuckDB's default (100), every checkpoint of a
# predictions table holding many partial row groups (a bulk load leaves one per source row group) made about 25
# merges of 4 row groups: 8 s of CPU and 2 GB of memory with 22 feature columns, paid at the commit of each
# ingested file (once the WAL passes 16 MB) and again at close, so a cycle's cost grew with the rows already
# stored. With 4, a checkpoint still makes one merge per table (about 0.3 s of CPU there), so a backlog keeps
# shrinking, at a cost per checkpoint that does not depend on the table's size. Predictions are never deleted,
# so nothing is lost by merging them slowly. docs/benchmarks.md has the measurements (cycle with 20M rows stored
# 2.62x -> 1.17x the empty-DB cycle; the checkpoint at close 4.46 s -> 0.35 s) and what still grows.
MAX_VACUUM_TASKS = 4


# Naive UTC now, the form every TIMESTAMP column holds (one definition: durations.naive_utc_now).
utcnow = naive_utc_now


class Database:
    """One DuckDB file. Use `cursor()` per thread and `transaction()` for writes that must land together."""

    def __init__(
        self, path: str | Path, settings: DatabaseSettings | None = None, lock_hint: str = ""
    ) -> None:
        self.path = Path(path)
        settings = settings or DatabaseSettings()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = {
            "threads": str(settings.threads),
            "memory_limit": settings.memory_limit,
            "max_vacuum_tasks": str(MAX_VACUUM_TASKS),
        }
        temp = settings.temp_directory or str(self.path.parent / "duckdb_tmp")
        config["temp_directory"] = temp
        try:
            self._con = duckdb.connect(str(self.path), config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLockedError(self.path, lock_hint) from None
            raise
        self._con.execute("SET TimeZone = 'UTC'")
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._insert_locks: dict[str, threading.Lock] = {}
        self._insert_locks_guard = threading.Lock()
        self.migrate()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (created on first use)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cursor = cur
        return cur

    @contextmanager
    def side_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own, closed on exit: for a streamed read (`sources.files.stream_rows`) that goes on
        while this thread's cursor writes what it yields (one cursor cannot run a query while another's result
        is still being fetched)."""
        cur = self._con.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")  # readers cast times: the same zone as every other cursor
            yield cur
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on this thread's cursor; commits on success, rolls back on any error.

        Writers are serialised in-process so two threads never conflict on the same rows.
        """
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    @contextmanager
    def predictions_writer(self, monitor: str) -> Iterator[None]:
        """Hold the monitor's insert lock: wrap every transaction that inserts into `predictions:<monitor>`,
        taken BEFORE its BEGIN and released after its COMMIT.

        The predictions table has no primary key (storage/prediction_identity.py): a prediction's identity,
        (request_id, model_version), is kept exact by the anti-join of `storage.predictions.insert_batch`,
        which only sees rows committed before its transaction began. Two inserting transactions of one
        monitor at once (a push and a cycle's file batch, or two pushes) would each miss the other's rows
        and store a pair twice; under this lock they run one after the other, and each begins after the
        previous one committed. Lock order: this lock, then the serialised writers' lock (`transaction`),
        never the other way round, so a push holding it never waits for a cycle's other writes.
        """
        with self._insert_locks_guard:
            lock = self._insert_locks.setdefault(monitor, threading.Lock())
        with lock:
            yield

    @contextmanager
    def append_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on this thread's cursor that does not wait for the serialised writers.

        For pushed batches only, so that a push never waits behind a cycle's long transactions. It is safe
        because what such a transaction writes cannot meet another writer's rows: new predictions (inserted
        under `predictions_writer`, which the caller holds, so the anti-join sees every stored pair), an
        `ingested_files` row named for a fresh batch id and rows appended to `pushed_windows`, which the
        cycle only deletes once committed (DuckDB lets a delete of committed rows and an append to the same
        table commit side by side). Should DuckDB still refuse the COMMIT (optimistic concurrency) with a
        `duckdb.TransactionException`, `api.push` runs the whole transaction again.
        """
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            _rollback(cur)
            raise
        cur.execute("COMMIT")  # a refused COMMIT has rolled the transaction back already

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""
        cur = self.cursor()
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        row = first_row(cur.execute("SELECT coalesce(max(version), 0) FROM schema_version"))
        current = int(row[0]) if row else 0
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.transaction() as tx:
                tx.execute(sql)
                tx.execute("INSERT INTO schema_version VALUES (?, ?)", [version, utcnow()])
            current = version
        # Outside the numbered migrations: a table of the push path's own (storage/pushes.py), created
        # idempotently so it merges with any other branch's migrations.
        with self.transaction() as tx:
            tx.execute(PUSHED_WINDOWS_SQL)
            for statement in (*RETENTION_SQL, *RUN_ALERTS_SQL):
                tx.execute(statement)
        self._drop_prediction_keys()
        return current

    def _drop_prediction_keys(self) -> None:
        """Rebuild, once, each predictions table created with the old `request_id` primary key (one
        transaction per table; storage/prediction_identity.py says why). Found by its constraint, so it is
        idempotent and independent of the numbered migrations."""
        for table in keyed_prediction_tables(self.cursor()):
            started = time.monotonic()
            with self.transaction() as tx:
                rows = rebuild_without_key(tx, table)
            log.info(
                "rebuilt %s without its request_id primary key (identity is now request_id + model_version): "
                "%d rows in %.1f s",
                table,
                rows,
                time.monotonic() - started,
            )

    def table_exists(self, name: str) -> bool:
        row = first_row(
            self.cursor().execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
            )
        )
        return bool(row and row[0])

    def checkpoint(self) -> None:
        self.cursor().execute("CHECKPOINT")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, table: object) -> Iterator[None]:
    """`table` (Arrow) as the view `name` on `cur` for the block, unregistered after it.

    When the block fails, its own error is the one raised: in a transaction a failed statement aborts it, and
    unregistering then raises "Current transaction is aborted" in its place (the rollback that follows drops
    the view).
    """
    cur.register(name, table)
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            cur.unregister(name)
        raise
    cur.unregister(name)


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of an executed query, draining the result.

    DuckDB 2.0 keeps a half-read result open on the cursor and refuses the next relation query until it is
    drained, so never leave a `fetchone()` behind.
    """
    rows = result.fetchall()
    return tuple(rows[0]) if rows else None


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass  # DuckDB already ended a transaction that failed at commit


def is_conflict(exc: BaseException) -> bool:
    """A transaction refused by DuckDB's optimistic concurrency (two writers met on a row); worth a retry."""
    if not isinstance(exc, duckdb.TransactionException | duckdb.ConstraintException):
        return False
    text = str(exc).lower()
    return "conflict" in text or "duplicate key" in text
