"""Step 4 of a cycle: pull delayed labels from files and upsert them by request id.

Per file, in one transaction, like prediction ingest: good rows are upserted (a later label replaces an earlier
one, which goes to `label_history`), bad rows go to quarantine with their reason, the windows of the
predictions the new labels touch are queued for performance, and the file is recorded in `ingested_files`
(kind 'labels') so it is not read again unless it changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.errors import SourceError
from driftwatch.pipeline.database_labels import ingest_label_database
from driftwatch.pipeline.ingest import no_files_warning, record_empty_file
from driftwatch.pipeline.object_sources import ingest_objects
from driftwatch.sources.files import Readable, SourceFile, first_line, is_empty, list_files, read_source
from driftwatch.sources.labels import label_batch_sql
from driftwatch.sources.objectstore import is_object_url
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.ingested_files import already_ingested, record_ingested
from driftwatch.storage.labels import (
    LABEL_BATCH,
    LabelCounts,
    drop_label_batch,
    labels_without_prediction,
    stage_label_batch,
    upsert_label_batch,
)
from driftwatch.storage.predictions import width_us
from driftwatch.storage.quarantine import quarantine_batch, quarantine_rejected

KIND = "labels"
InTransaction = Callable[[duckdb.DuckDBPyConnection], None]


@dataclass
class LabelIngestSummary:
    files_seen: int = 0
    files_read: int = 0
    rows_read: int = 0
    rows_quarantined: int = 0
    labels_new: int = 0
    labels_replaced: int = 0
    labels_unchanged: int = 0
    windows_queued: int = 0
    without_prediction: int = 0  # stored labels whose request id matches no prediction (after this cycle)
    failed_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)  # e.g. a glob that matched no file


def ingest_labels(db: Database, monitor: MonitorConfig) -> LabelIngestSummary:
    """Ingest every new or changed label file of a monitor. Never raises for a bad file: it is reported."""
    summary = LabelIngestSummary()
    if monitor.labels is None:
        return summary
    if monitor.labels.database is not None:  # an SQL table/query: pulled by pipeline.database_labels

        def store(f: SourceFile, source: str, in_transaction: InTransaction) -> None:
            ingest_label_file(db, monitor, f, summary, source=source, in_transaction=in_transaction)

        ingest_label_database(db, monitor, summary, store)
        summary.without_prediction = labels_without_prediction(db.cursor(), monitor.name)
        return summary
    if is_object_url(monitor.labels.path):  # s3://, gs://: listed and fetched by pipeline.object_sources

        def read(f: SourceFile, url: str, opened: object, read_done: object) -> None:
            ingest_label_file(db, monitor, f, summary, source=url)  # labels: nothing opened ahead

        ingest_objects(db, monitor.name, KIND, monitor.labels, read, summary)
        summary.without_prediction = labels_without_prediction(db.cursor(), monitor.name)
        return summary
    files, problems = list_files(monitor.labels.path, monitor.labels.format)
    summary.failed_files.extend((p.path, p.message) for p in problems)
    summary.files_seen = len(files) + len(problems)
    if not summary.files_seen:
        summary.warnings.append(no_files_warning("label", monitor.labels.path))
    cur = db.cursor()
    for f in files:
        if already_ingested(cur, monitor.name, KIND, f.path, f.size, f.mtime_ns):
            continue
        if is_empty(f):
            record_empty_file(db, monitor.name, KIND, f)
            summary.files_read += 1
            continue
        try:
            ingest_label_file(db, monitor, f, summary)
        except SourceError as exc:
            summary.failed_files.append((f.path, exc.message))
        except duckdb.Error as exc:
            summary.failed_files.append((f.path, f"cannot read: {first_line(exc)}"))
    summary.without_prediction = labels_without_prediction(cur, monitor.name)
    return summary


def ingest_label_file(
    db: Database,
    monitor: MonitorConfig,
    f: SourceFile,
    summary: LabelIngestSummary | None = None,
    source: str | None = None,
    in_transaction: InTransaction | None = None,
) -> LabelIngestSummary:
    """Upsert one label file in one transaction, adding its counts to `summary` (a new one by default).

    `source` names the rows' origin in quarantine and ingested_files (default: the file's path; the API passes
    'api:<batch id>' for pushed labels staged in a temporary file). `in_transaction` runs inside the file's
    transaction (a database source's watermark is saved there, with the labels it covers).
    """
    assert monitor.labels is not None
    summary = summary if summary is not None else LabelIngestSummary()
    source = source or f.path
    rows_read, quarantined, counts = read_source(
        db.cursor(), f, lambda readable: _upsert_readable(db, monitor, f, readable, source, in_transaction)
    )
    summary.files_read += 1
    summary.rows_read += rows_read
    summary.rows_quarantined += quarantined
    summary.labels_new += counts.new
    summary.labels_replaced += counts.replaced
    summary.labels_unchanged += counts.unchanged
    summary.windows_queued += counts.windows_queued
    return summary


def _upsert_readable(
    db: Database,
    monitor: MonitorConfig,
    f: SourceFile,
    readable: Readable,
    source: str,
    in_transaction: InTransaction | None = None,
) -> tuple[int, int, LabelCounts]:
    """One label file (as read by `read_source`) in one transaction: (rows read, quarantined, upsert counts)."""
    assert monitor.labels is not None
    sql, params = label_batch_sql(
        readable.fmt, readable.path, readable.columns, monitor, readable.compression
    )
    now = utcnow()
    with db.transaction() as tx:
        rows_read = stage_label_batch(tx, sql, {**params, "now": now})
        # Lines the reader refused (no fields to look at) count as read and quarantined; only rows new to the
        # quarantine count (one kept from an earlier read of this file is not counted again).
        rows_read += len(readable.rejected)
        quarantined = quarantine_rejected(tx, monitor.name, KIND, source, readable.rejected, now)
        counts = upsert_label_batch(
            tx,
            monitor.name,
            LABEL_BATCH,
            source,  # the file's path, or the object's URL (not the temporary copy read)
            now,
            timed=monitor.labels.timestamp is not None,
            window_width_us=width_us(monitor.window),
        )
        quarantined += quarantine_batch(tx, monitor.name, KIND, source, LABEL_BATCH, now)
        record_ingested(
            tx,
            monitor.name,
            KIND,
            source,
            f.size,
            f.mtime_ns,
            now,
            (rows_read, counts.new + counts.replaced, counts.unchanged, quarantined),
        )
        drop_label_batch(tx)
        if in_transaction is not None:
            in_transaction(tx)
    return rows_read, quarantined, counts
