"""Reading a label source that is an SQL table or query (`labels.database`) in a cycle.

The same incremental pull as a prediction table (`pipeline.database_sources`, `sources.database`): a
(timestamp, id) watermark, here by default the label's own timestamp (`labels.timestamp`, e.g. `labelled_at`)
and its request id. Each batch after the watermark is written to a temporary Parquet file and upserted by the
label step's own file reader (`pipeline.labels.ingest_label_file`: normalising, quarantine, `label_history`,
performance windows queued), and the watermark moves to the batch's last row inside that same transaction: a
crash before the commit leaves both as they were, and the batch is pulled again, whole.

A corrected label is a new row (or an updated one) with the same request id and a newer timestamp: it sorts
after the watermark, so the next pull picks it up and the upsert replaces the stored label, keeping the old one
in `label_history`, exactly as a corrected label in a file. With `lookback`, rows written late (a timestamp up to
that far behind the watermark) are pulled again each cycle; those already stored upsert as unchanged.

A database that cannot be reached, a query that fails or a table whose columns changed fails this source for
this cycle (an entry in `failed_files`, a warning the run records in `runs.error` and the CLI prints); the
predictions and the rest of the cycle go on, and the next cycle retries from the same watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from driftwatch.config.monitors import MonitorConfig
from driftwatch.errors import SourceError, first_line
from driftwatch.pipeline.spilled import Spilled
from driftwatch.sources.database import (
    Watermark,
    connect,
    count_missing_timestamps,
    last_watermark,
    pull,
    source_label,
)
from driftwatch.sources.files import SourceFile
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.quarantine import pulled_source
from driftwatch.storage.sql_watermarks import ensure_watermark_table, load_watermark, save_watermark

KIND = "labels"
InTransaction = Callable[[duckdb.DuckDBPyConnection], None]
StoreOne = Callable[[SourceFile, str, InTransaction], None]


class LabelCounts(Protocol):
    files_seen: int
    failed_files: list[tuple[str, str]]
    warnings: list[str]


def ingest_label_database(
    db: Database, monitor: MonitorConfig, summary: LabelCounts, store: StoreOne
) -> None:
    """Pull the monitor's label table; `store(file, source, in_transaction)` upserts one batch file (counting it
    in the summary) and runs `in_transaction` inside its transaction. Never raises for the source's faults."""
    assert monitor.labels is not None and monitor.labels.database is not None
    label = source_label(monitor.labels.database)
    with db.transaction() as tx:
        ensure_watermark_table(tx)
    try:
        conn = connect(monitor.labels.database)
    except SourceError as exc:
        _failed(summary, label, exc.message)
        return
    try:
        _pull_all(db, monitor, conn, summary, store)
    except SourceError as exc:
        _failed(summary, label, exc.message)
    except duckdb.Error as exc:
        _failed(summary, label, f"cannot store: {first_line(exc)}")
    except Exception as exc:  # a driver's own error class, or a bug: this source fails, not the run
        _failed(summary, label, f"unexpected error: {type(exc).__name__}: {first_line(exc)}")
    finally:
        conn.close()


def _pull_all(db: Database, monitor: MonitorConfig, conn: Any, summary: LabelCounts, store: StoreOne) -> None:
    labels = monitor.labels
    assert labels is not None and labels.database is not None
    options = labels.database
    label = source_label(options)
    ts_col = options.watermark or labels.timestamp
    assert ts_col is not None  # config/monitors.py requires one of them
    id_col = options.tiebreak or labels.id
    missing = count_missing_timestamps(conn, options, ts_col)
    if missing:
        summary.warnings.append(
            f"source {label}: {missing} labels have no timestamp (column {ts_col!r} is NULL) and are not pulled"
        )
    stored = load_watermark(db.cursor(), monitor.name, KIND, label)
    mark = None if stored is None else Watermark(stored[0], stored[1])
    if mark is not None and options.lookback.total_seconds() > 0:
        late = pull(conn, options, ts_col, id_col, mark, late=True)
        if late.num_rows:
            _store(monitor.name, late, pulled_source(label, "lookback"), None, summary, store)
    while True:
        batch = pull(conn, options, ts_col, id_col, mark)
        new_mark = last_watermark(batch, ts_col, id_col)
        if new_mark is None:
            return
        source = pulled_source(label, f"{new_mark.ts.isoformat()}|{new_mark.id}")
        _store(monitor.name, batch, source, new_mark, summary, store)
        mark = new_mark
        if batch.num_rows < options.batch_rows:
            return


def _store(
    monitor: str, table: pa.Table, source: str, mark: Watermark | None, summary: LabelCounts, store: StoreOne
) -> None:
    """One pulled batch, upserted with (when `mark`) the watermark it reaches, in one transaction."""
    label = source.split("#", 1)[0]

    def save(tx: duckdb.DuckDBPyConnection) -> None:
        if mark is not None:
            save_watermark(tx, monitor, KIND, label, (mark.ts, mark.id), utcnow())

    spilled = Spilled.of(table, "labels")
    try:
        store(spilled.file, source, save)
    finally:
        spilled.remove()
    summary.files_seen += 1


def _failed(summary: LabelCounts, label: str, message: str) -> None:
    summary.files_seen += 1
    summary.failed_files.append((label, message))
    summary.warnings.append(f"source {label} failed this cycle: {message} (retried next cycle)")
