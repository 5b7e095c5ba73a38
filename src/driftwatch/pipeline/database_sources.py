"""Reading a prediction source that is an SQL table or query (`predictions.database`) in a cycle.

Each cycle: connect; pull the look-back rows (late rows up to `lookback` behind the watermark: the stored ones
are skipped by request id, the new ones queue their window for recomputation as any new row does); then pull
batches after the watermark until one comes back short. Each batch is stored by the step's own file reader
(`pipeline.ingest.ingest_file`: normalising, quarantine, window queue), read in memory as its Parquet file
would be read, or from a temporary Parquet file when DuckDB would read its types otherwise (`pipeline.spilled`),
and the watermark moves to the batch's last row inside that same transaction. A pull asks for at most
min(`batch_rows`, `PULL_ROWS`, the reader's slice size), so the reader stores it in one slice, one transaction:
a crash before the commit leaves both the rows and the watermark as they were, and the batch is pulled again,
whole. The next batch is pulled (on another thread) while one is stored.

Rows with a NULL timestamp are never pulled; each cycle counts them and warns ("N rows have no timestamp").
Any other error of a source (a driver's own exception class, a bug) fails that source with its name, never
the run with a traceback.

A database that cannot be reached, a query that fails, or a table whose columns changed fails the source for
this cycle, as for object storage: an entry in `failed_files`, a warning in the run (so in `runs.error` and the
CLI), and nothing stored; the next cycle tries again from the same watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.sources import DatabaseSourceOptions
from driftwatch.errors import SourceError, first_line
from driftwatch.pipeline.spilled import Pulled
from driftwatch.sources.database import (
    Watermark,
    connect,
    count_missing_timestamps,
    id_is_integer,
    last_watermark,
    pull,
    source_label,
)
from driftwatch.sources.logs import NO_SEGMENT_VALUE, NO_VERSION
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.quarantine import pulled_source
from driftwatch.storage.sql_watermarks import (
    ensure_watermark_table,
    load_watermark,
    save_watermark,
    unstored_predictions,
)

KIND = "predictions"
# Rows per pull at most (besides `batch_rows` and the ingest slice): each pull is stored while the next one is
# pulled, so a backlog should be a few pulls; 1M rows from PostgreSQL in pulls of 1M / 500k / 250k / 125k:
# 2.87 / 2.46-2.61 / 2.71 / 2.94 s (docs/benchmarks.md, "Pulls ahead").
PULL_ROWS = 500_000
Hook = Callable[[duckdb.DuckDBPyConnection], None]
ReadOne = Callable[[Pulled, str, Hook], tuple[int, int, int, int]]


class IngestCounts(Protocol):
    files_seen: int
    files_read: int
    rows_read: int
    rows_inserted: int
    rows_duplicate: int
    rows_quarantined: int
    failed_files: list[tuple[str, str]]
    warnings: list[str]


def ingest_database(
    db: Database, monitor: MonitorConfig, summary: IngestCounts, read_one: ReadOne, slice_rows: int
) -> None:
    """Pull the monitor's database source into its table; `read_one(pulled, source, in_transaction)` stores one
    pulled batch and runs `in_transaction` inside the batch's transaction; it commits every `slice_rows` rows,
    so no pull asks for more."""
    options = monitor.predictions.database
    assert options is not None
    label = source_label(options)
    with db.transaction() as tx:
        ensure_watermark_table(tx)
    try:
        conn = connect(options)
    except SourceError as exc:
        _failed(summary, label, exc.message)
        return
    try:
        _pull_all(db, monitor, conn, summary, read_one, slice_rows)
    except SourceError as exc:
        _failed(summary, label, exc.message)
    except duckdb.Error as exc:
        _failed(summary, label, f"cannot store: {first_line(exc)}")
    except Exception as exc:  # a driver's own error class, or a bug: this source fails, not the run
        _failed(summary, label, f"unexpected error: {type(exc).__name__}: {first_line(exc)}")
    finally:
        conn.close()


def _pull_all(
    db: Database, monitor: MonitorConfig, conn: Any, summary: IngestCounts, read_one: ReadOne, slice_rows: int
) -> None:
    options = monitor.predictions.database
    assert options is not None
    label = source_label(options)
    ts_col = options.watermark or monitor.predictions.timestamp
    id_col = options.tiebreak or monitor.predictions.id
    missing = count_missing_timestamps(conn, options, ts_col)
    if missing:
        summary.warnings.append(
            f"source {label}: {missing} rows have no timestamp (column {ts_col!r} is NULL) and are not pulled"
        )
    stored = load_watermark(db.cursor(), monitor.name, KIND, label)
    mark = None if stored is None else _typed(conn, options, id_col, *stored)
    if mark is not None and options.lookback.total_seconds() > 0:
        _pull_late(db, monitor, conn, mark, summary, read_one)
    limit = max(1, min(options.batch_rows, slice_rows, PULL_ROWS))

    def pull_after(after: Watermark | None) -> tuple[Pulled, Watermark] | None:
        batch = pull(conn, options, ts_col, id_col, after, limit=limit)
        reached = last_watermark(batch, ts_col, id_col)
        return None if reached is None else (Pulled.of(db, batch, "pull"), reached)

    # The next pull (and its temporary file, if any) runs on another thread while this batch is stored: the database
    # (its server, the driver's decoding) and the store then share the two cores instead of taking turns
    # (docs/benchmarks.md, "Sources"). The connection is used by one thread at a time: each pull starts after
    # the one before it returned. A failed store leaves the pull running then to finish; its file is removed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-pull-ahead") as ahead:
        pending = ahead.submit(pull_after, mark)
        try:
            while True:
                pulled = pending.result()
                if pulled is None:
                    return
                batch, reached = pulled
                more = batch.rows >= limit
                if more:
                    pending = ahead.submit(pull_after, reached)
                source = pulled_source(label, f"{reached.ts.isoformat()}|{reached.id}")
                _store(monitor, batch, source, reached, summary, read_one)
                # Stored: let its rows go now, not when the next pull is taken (memory: two pulled batches).
                del pulled, batch
                if not more:
                    return
        finally:
            _discard(pending)


def _typed(
    conn: Any, options: DatabaseSourceOptions, id_col: str, ts: datetime, rid: str | int, known: bool
) -> Watermark:
    """The stored watermark; one saved before ids kept their type has a text id, which for an integer column
    made every pull after the first fail (`integer > text`): its type is read from the column then."""
    if (
        not known
        and isinstance(rid, str)
        and rid.lstrip("-").isdigit()
        and id_is_integer(conn, options, id_col)
    ):
        rid = int(rid)
    return Watermark(ts, rid)


def _pull_late(
    db: Database, monitor: MonitorConfig, conn: Any, mark: Watermark, summary: IngestCounts, read_one: ReadOne
) -> None:
    """The look-back pull: the rows up to `lookback` behind the watermark whose prediction (request id, model
    version) is not stored (matched on the request-id column, not the tiebreak, which may be another column).
    A quarantined row is among them: corrected in the database since, it is stored now; unchanged, it is not
    quarantined again (same request id and raw text: `storage.quarantine.quarantine_batch`)."""
    options = monitor.predictions.database
    assert options is not None
    ts_col = options.watermark or monitor.predictions.timestamp
    id_col = options.tiebreak or monitor.predictions.id
    late = pull(conn, options, ts_col, id_col, mark, late=True)
    keys = _prediction_keys(monitor, late)
    unstored = unstored_predictions(db.cursor(), monitor.name, keys)
    late = late.filter(pa.array([k in unstored for k in keys], type=pa.bool_()))
    if late.num_rows:
        # Named per pull: quarantine is keyed by (source, row number), and a constant name made a bad late
        # row at the row number of an earlier pull's bad row be dropped as already quarantined.
        pulled = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
        source = pulled_source(source_label(options), f"lookback@{pulled}")
        _store(monitor, Pulled.of(db, late, "pull"), source, None, summary, read_one)


def _prediction_keys(monitor: MonitorConfig, table: pa.Table) -> list[tuple[str, str]]:
    """(request id, model version) of each pulled row, as the normalising query stores them (the version as
    text, `NO_SEGMENT_VALUE` when NULL, `NO_VERSION` without a version column). A value whose text Python
    renders differently from DuckDB's cast only makes the row look unstored: it is then read, and the insert's
    anti-join counts it as a duplicate; nothing is lost either way."""
    ids = [str(v) for v in table.column(monitor.predictions.id).to_pylist()]
    column = monitor.predictions.model_version
    if column is None:
        return [(i, NO_VERSION) for i in ids]
    if column not in table.column_names:  # the normalising query refuses such rows: let it say why
        return [(i, NO_SEGMENT_VALUE) for i in ids]
    versions = [NO_SEGMENT_VALUE if v is None else str(v) for v in table.column(column).to_pylist()]
    return list(zip(ids, versions, strict=True))


def _store(
    monitor: MonitorConfig,
    batch: Pulled,
    source: str,
    mark: Watermark | None,
    summary: IngestCounts,
    read_one: ReadOne,
) -> None:
    """One pulled batch, stored with (when `mark`) the watermark it reaches, in one transaction; its file (if
    spilled) is removed whatever happens."""
    label = source.split("#", 1)[0]

    def save(tx: duckdb.DuckDBPyConnection) -> None:
        if mark is not None:
            save_watermark(tx, monitor.name, KIND, label, (mark.ts, mark.id), utcnow())

    try:
        counts = read_one(batch, source, save)
    finally:
        batch.remove()
    summary.files_seen += 1
    summary.files_read += 1
    summary.rows_read += counts[0]
    summary.rows_inserted += counts[1]
    summary.rows_duplicate += counts[2]
    summary.rows_quarantined += counts[3]


def _discard(pending: Future[tuple[Pulled, Watermark] | None]) -> None:
    """Remove the file of a pull that was not stored (the store before it failed)."""
    try:
        pulled = pending.result()
    except BaseException:  # noqa: S110  (its error is not this cycle's: the store's is reported)
        return
    if pulled is not None:
        pulled[0].remove()  # already removed when it was stored: removing is idempotent


def _failed(summary: IngestCounts, label: str, message: str) -> None:
    summary.files_seen += 1
    summary.failed_files.append((label, message))
    summary.warnings.append(f"source {label} failed this cycle: {message} (retried next cycle)")
