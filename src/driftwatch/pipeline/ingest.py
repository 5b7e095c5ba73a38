"""Step 1 of a cycle: pull new prediction-log rows from files into the monitor's table.

Per file, streamed in bounded batches (one transaction each): the good rows are inserted (a prediction seen
before, the same request_id and model_version, is skipped), the bad rows go to quarantine with their reason,
the windows the rows fall in are queued for (re)computation, and, in the last batch's transaction, the file is
recorded as ingested (path, size and mtime), so it is not read again unless it changes. A crash mid-file
leaves the file unrecorded; the next run reads it again from the start and stores only what is not stored yet
((request_id, model_version) is the identity).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.errors import SourceError
from driftwatch.pipeline.database_sources import ingest_database
from driftwatch.pipeline.files_ahead import (
    FilesAhead,
    Opened,
    close_batches,
    opened_table,
    prepared_batches,
    turn_over,
)
from driftwatch.pipeline.object_sources import ingest_objects
from driftwatch.pipeline.spilled import Pulled
from driftwatch.sources.files import (
    Readable,
    SourceFile,
    first_line,
    is_empty,
    list_files,
    read_source,
)
from driftwatch.sources.logs import LogLayout
from driftwatch.sources.objectstore import is_object_url
from driftwatch.sources.typed_lines import normalising
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.ingest_rows import BatchCounts, store_prediction_batch
from driftwatch.storage.ingested_files import already_ingested, record_ingested
from driftwatch.storage.predictions import ensure_prediction_table
from driftwatch.storage.quarantine import quarantine_rejected

# Rows per streamed batch. Large enough that per-batch statements (a DESCRIBE, a key aggregate, an anti-join
# that scans the stored request ids) are a small share, small enough that one batch of 26 columns (~0.2 GB
# as Arrow) bounds memory whatever the file's size (docs/benchmarks.md, "Ingest in bounded batches").
BATCH_ROWS = 1_000_000

_T = TypeVar("_T")


@dataclass
class IngestSummary:
    files_seen: int = 0
    files_read: int = 0
    rows_read: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    failed_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)  # e.g. a glob that matched no file


def prediction_layout(monitor: MonitorConfig, features: FeatureSpec) -> LogLayout:
    src = monitor.predictions
    return LogLayout(
        id=src.id,
        timestamp=src.timestamp,
        numeric=features.numeric,
        categorical=features.categorical,
        features_json=src.features if isinstance(src.features, str) else None,
        model_version=src.model_version,
        prediction=src.prediction,
        output=src.output,
        segments=src.segments,
        probabilities=src.probabilities,
    )


def ingest_predictions(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    on_file: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Ingest every new or changed prediction file of a monitor. Never raises for a bad file: it is reported."""
    summary = IngestSummary()
    layout = prediction_layout(monitor, features)
    with db.transaction() as tx:
        probabilities = tuple(c.name for c in layout.probabilities)
        ensure_prediction_table(
            tx, monitor.name, features.numeric, features.categorical, layout.segments, probabilities
        )
    if monitor.predictions.database is not None:  # an SQL table/query: pipeline.database_sources
        ingest_database(
            db,
            monitor,
            summary,
            lambda pulled, name, hook: ingest_pulled(db, monitor, layout, pulled, name, hook),
            BATCH_ROWS,
        )
        return summary
    if is_object_url(monitor.predictions.path):  # s3://, gs://: listed and fetched by pipeline.object_sources

        def read(f: SourceFile, url: str, opened: Opened | None, read_done: threading.Event) -> None:
            counts = ingest_file(db, monitor, layout, f, source=url, opened=opened, read_done=read_done)
            _add_counts(summary, counts)
            summary.files_read += 1

        def ahead() -> FilesAhead:
            return FilesAhead(db, monitor.name, "predictions", layout, BATCH_ROWS)

        ingest_objects(db, monitor.name, "predictions", monitor.predictions, read, summary, on_file, ahead)
        return summary
    files, problems = list_files(monitor.predictions.path, monitor.predictions.format)
    summary.failed_files.extend((p.path, p.message) for p in problems)
    summary.files_seen = len(files) + len(problems)
    if not summary.files_seen:
        summary.warnings.append(no_files_warning("predictions", monitor.predictions.path))
    _ingest_files(db, monitor, layout, files, summary, on_file)
    return summary


def _ingest_files(
    db: Database,
    monitor: MonitorConfig,
    layout: LogLayout,
    files: list[SourceFile],
    summary: IngestSummary,
    on_file: Callable[[str], None] | None,
) -> None:
    """The local files, one after the other in path order; a bad file is reported in `summary`, not raised."""
    cur = db.cursor()
    # Each next file is opened, and its first batch read, while the one before it is stored
    # (`pipeline.files_ahead`).
    with FilesAhead(db, monitor.name, "predictions", layout, BATCH_ROWS) as ahead:
        for k, f in enumerate(files):
            if on_file:
                on_file(f.path)
            opened = ahead.take(f.path)
            read_done = threading.Event()  # set once `f` is read to its end: the next file may be read then
            if k + 1 < len(files):
                ahead.start(files[k + 1], read_done)
            try:
                if already_ingested(cur, monitor.name, "predictions", f.path, f.size, f.mtime_ns):
                    continue
                if is_empty(f):
                    record_empty_file(db, monitor.name, "predictions", f)
                    summary.files_read += 1
                    continue
                counts = ingest_file(db, monitor, layout, f, opened=opened, read_done=read_done)
            except SourceError as exc:
                summary.failed_files.append((f.path, exc.message))
                continue
            except duckdb.Error as exc:
                summary.failed_files.append((f.path, f"cannot read: {first_line(exc)}"))
                continue
            except BaseException:  # an interrupt: the file opened ahead is not read (`finally` lets it go)
                ahead.stop()
                raise
            finally:
                turn_over(opened, read_done)
            summary.files_read += 1
            _add_counts(summary, counts)


def _add_counts(summary: IngestSummary, counts: tuple[int, int, int, int]) -> None:
    summary.rows_read += counts[0]
    summary.rows_inserted += counts[1]
    summary.rows_duplicate += counts[2]
    summary.rows_quarantined += counts[3]


def ingest_file(
    db: Database,
    monitor: MonitorConfig,
    layout: LogLayout,
    f: SourceFile,
    source: str | None = None,
    in_transaction: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    opened: Opened | None = None,
    read_done: threading.Event | None = None,
) -> tuple[int, int, int, int]:
    """Ingest one file in bounded batches; returns (rows read, inserted, duplicate, quarantined).

    `source` names the rows' origin in quarantine and ingested_files (default: the file's path; the API
    passes e.g. 'api:<batch id>' for pushed records staged in a temporary file). `in_transaction` runs inside
    the transaction of the file's last batch (a database source stores its watermark there with the rows:
    `pipeline.database_sources`). `opened`: the file as `pipeline.files_ahead` opened it (the caller closes it);
    `read_done` is set once the file is read to its end.
    """
    source = source or f.path
    carried = _Carried()
    return read_source(
        db.cursor(),
        f,
        lambda readable: _ingest_readable(
            db, monitor, layout, f, readable, source, carried, in_transaction, opened, read_done
        ),
        first=None if opened is None else opened.readable,
    )


def ingest_pulled(
    db: Database,
    monitor: MonitorConfig,
    layout: LogLayout,
    pulled: Pulled,
    source: str,
    in_transaction: Callable[[duckdb.DuckDBPyConnection], None],
) -> tuple[int, int, int, int]:
    """`ingest_file` of a batch pulled from a database: its rows read in memory, or from its spilled file."""
    if pulled.table is None or pulled.columns is None:
        return ingest_file(db, monitor, layout, pulled.file, source, in_transaction)
    opened = opened_table(db, source, pulled.table, pulled.columns, layout, BATCH_ROWS)
    try:
        return ingest_file(db, monitor, layout, pulled.file, source, in_transaction, opened=opened)
    finally:
        opened.close()


@dataclass
class _Carried:
    """Rows committed by batches of an attempt on the file that then failed (DuckDB's reader refused a later
    row, and `read_source` runs the ingest again on a repaired copy): the next attempt finds them stored and
    would count them as duplicates, so they are counted as this file's inserted and quarantined rows."""

    inserted: int = 0
    quarantined: int = 0
    pending_inserted: int = 0  # committed by the attempt now running
    pending_quarantined: int = 0

    def start_attempt(self) -> None:
        self.inserted += self.pending_inserted
        self.quarantined += self.pending_quarantined
        self.pending_inserted = self.pending_quarantined = 0


@dataclass
class _FileCounts:
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def add(self, batch: BatchCounts) -> None:
        self.read += batch.rows
        self.inserted += batch.inserted
        self.duplicates += batch.duplicates
        self.quarantined += batch.quarantined

    def merge(self, other: _FileCounts) -> None:
        self.read += other.read
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined

    def with_carried(self, carried: _Carried) -> tuple[int, int, int, int]:
        """(read, inserted, duplicate, quarantined) of the whole file, rows of failed attempts included."""
        return (
            self.read,
            self.inserted + carried.inserted,
            self.duplicates - carried.inserted,
            self.quarantined + carried.quarantined,
        )


def _ingest_readable(
    db: Database,
    monitor: MonitorConfig,
    layout: LogLayout,
    f: SourceFile,
    readable: Readable,
    source: str,
    carried: _Carried,
    in_transaction: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    opened: Opened | None = None,
    read_done: threading.Event | None = None,
) -> tuple[int, int, int, int]:
    """Store the file batch by batch, one transaction per batch, the file recorded in the last one.

    Why not the whole file in one transaction: DuckDB keeps an uncommitted transaction's key index (and its
    rows, for the anti-join of the next batch) in memory until COMMIT, and merges it into the table's index
    at COMMIT: a 10M-row file in one transaction peaked at 4.4 GB and took 12.4x the CPU of 1M rows. Committed
    batch by batch, memory holds about one batch. Crash safety comes from the prediction's identity (request
    id, model version): a crash between batches leaves the file unrecorded, and reading it again inserts none
    of the rows already stored (they count as duplicates in that run) and quarantines no row twice.
    """
    taken = opened if opened is not None and opened.readable is readable else None  # else a repaired copy
    # NDJSON: a typed parse per line, the lines it cannot vouch for finished by the normalising query
    # (`sources.typed_lines`); other formats: the normalising query as it is.
    plan = (
        taken.plan
        if taken is not None
        else normalising(
            db.cursor(), readable.fmt, readable.path, readable.columns, layout, readable.compression
        )
    )
    now = utcnow()
    columns = (layout.numeric, layout.categorical, layout.segments)
    carried.start_attempt()
    # Rows the reader refused (a broken line: no fields to look at) count as read and bad. Only rows new to the
    # quarantine count as quarantined: a bad row kept from an earlier read of this file (it grew, or was
    # touched) is not counted again, so a run's quarantined_rows (and an alert on it) sees it once.
    counts = _FileCounts(read=len(readable.rejected))
    with ExitStack() as cursors:
        # Each batch finished and checked for repeated pairs where it is read (on the read-ahead thread, with
        # that thread's own cursors), while the batch before it is being stored.
        if taken is not None:
            batches = taken.all_batches()  # its cursors are closed by the caller
        else:
            batches = prepared_batches(db, plan, cursors, BATCH_ROWS)
        try:
            for batch, first, is_last in _marked(batches, None if read_done is None else read_done.set):
                # The monitor's insert lock before BEGIN: a push committing meanwhile is seen by the anti-join
                # (`Database.predictions_writer`), so a pair is stored once whoever writes it first.
                with db.predictions_writer(monitor.name), db.transaction() as tx:
                    step = _FileCounts()
                    if first:
                        step.quarantined = quarantine_rejected(
                            tx, monitor.name, "predictions", source, readable.rejected, now
                        )
                    if batch is not None:
                        step.add(
                            store_prediction_batch(
                                tx,
                                monitor.name,
                                batch.rows,
                                columns,
                                source,
                                monitor.window,
                                now,
                                batch.repeats,
                            )
                        )
                    counts.merge(step)
                    if is_last():  # waits for the next batch's read, which ran while this one was stored
                        whole = counts.with_carried(carried)
                        record_ingested(
                            tx, monitor.name, "predictions", source, f.size, f.mtime_ns, now, whole
                        )
                        if in_transaction is not None:
                            # e.g. a database source's watermark, with the file's last rows
                            in_transaction(tx)
                # Committed: a later refusal by the reader cannot take these rows back.
                carried.pending_inserted += step.inserted
                carried.pending_quarantined += step.quarantined
        finally:
            # The generator stops (its `finally` unregisters a view on its cursor) before the cursors close.
            close_batches(batches)
    return counts.with_carried(carried)


def _marked(
    batches: Iterator[_T], at_end: Callable[[], None] | None = None
) -> Iterator[tuple[_T | None, bool, Callable[[], bool]]]:
    """Each batch with (is it the first, is it the last?); a file without rows gives one (None, True, ...).

    The file is recorded in its last batch's transaction, so whether a batch is the last must be known before
    that transaction commits, not before it starts: the next batch is read on another thread (the query runs
    in DuckDB on the reader's own cursor, without the GIL) while this one is stored, and `is_last()` waits for
    it. Memory holds two batches, as when the next one was read first. A reader refusing a row raises from
    `is_last()`, inside the transaction of the batch before it, which then rolls back as it did before.
    `at_end` runs (on the read-ahead thread) as soon as the batches are known to be all read: the next file may
    be read then (`pipeline.files_ahead`), while this one's last batch is stored.
    """

    def following_batch() -> _T | None:
        batch = next(batches, None)
        if batch is None and at_end is not None:
            at_end()
        return batch

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-read-ahead") as ahead:
        held = following_batch()
        first = True
        while held is not None:
            following: Future[_T | None] = ahead.submit(following_batch)

            def is_last(pending: Future[_T | None] = following) -> bool:
                return pending.result() is None

            yield held, first, is_last
            held, first = following.result(), False
        if first:
            yield None, True, lambda: True


def no_files_warning(kind: str, pattern: str) -> str:
    return f"no {kind} file matches {pattern!r}: nothing was read (is the path right?)"


def record_empty_file(db: Database, monitor: str, kind: str, f: SourceFile) -> None:
    """An empty file is read, with 0 rows: recorded so it is not looked at again until it changes."""
    with db.transaction() as tx:
        record_ingested(tx, monitor, kind, f.path, f.size, f.mtime_ns, utcnow())
