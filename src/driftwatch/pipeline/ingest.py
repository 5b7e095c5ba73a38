"""Step 1 of a cycle: pull new prediction-log rows from files into the monitor's table.

Per file, in one transaction: the good rows are inserted (a request_id seen before is skipped), the bad rows go
to quarantine with their reason, the windows the rows fall in are queued for (re)computation, and the file is
recorded as ingested (path, size and mtime), so it is not read again unless it changes. A crash mid-file rolls
the whole file back; the next run reads it again from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from driftwatch.config import FeatureSpec, MonitorConfig
from driftwatch.errors import SourceError
from driftwatch.sources.files import (
    Readable,
    SourceFile,
    first_line,
    is_empty,
    list_files,
    read_source,
    stream_rows,
)
from driftwatch.sources.logs import LogLayout, normalise_query
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.ingested_files import already_ingested, record_ingested
from driftwatch.storage.ingest_rows import store_prediction_batch
from driftwatch.storage.predictions import ensure_prediction_table
from driftwatch.storage.quarantine import quarantine_rejected

# Rows per streamed batch. Large enough that per-batch statements (a DESCRIBE, a key aggregate, an anti-join
# that scans the stored request ids) are a small share, small enough that one batch of 26 columns (~0.2 GB
# as Arrow) bounds memory whatever the file's size (docs/benchmarks.md, "Ingest in bounded batches").
BATCH_ROWS = 1_000_000


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
        ensure_prediction_table(tx, monitor.name, features.numeric, features.categorical, layout.segments)
    files, problems = list_files(monitor.predictions.path, monitor.predictions.format)
    summary.failed_files.extend((p.path, p.message) for p in problems)
    summary.files_seen = len(files) + len(problems)
    if not summary.files_seen:
        summary.warnings.append(no_files_warning("predictions", monitor.predictions.path))
    cur = db.cursor()
    for f in files:
        if on_file:
            on_file(f.path)
        if already_ingested(cur, monitor.name, "predictions", f.path, f.size, f.mtime_ns):
            continue
        if is_empty(f):
            record_empty_file(db, monitor.name, "predictions", f)
            summary.files_read += 1
            continue
        try:
            counts = ingest_file(db, monitor, layout, f)
        except SourceError as exc:
            summary.failed_files.append((f.path, exc.message))
            continue
        except duckdb.Error as exc:
            summary.failed_files.append((f.path, f"cannot read: {first_line(exc)}"))
            continue
        summary.files_read += 1
        summary.rows_read += counts[0]
        summary.rows_inserted += counts[1]
        summary.rows_duplicate += counts[2]
        summary.rows_quarantined += counts[3]
    return summary


def ingest_file(
    db: Database, monitor: MonitorConfig, layout: LogLayout, f: SourceFile, source: str | None = None
) -> tuple[int, int, int, int]:
    """Ingest one file in one transaction; returns (rows read, inserted, duplicate, quarantined).

    `source` names the rows' origin in quarantine and ingested_files (default: the file's path; the API
    passes e.g. 'api:<batch id>' for pushed records staged in a temporary file).
    """
    source = source or f.path
    return read_source(
        db.cursor(), f, lambda readable: _ingest_readable(db, monitor, layout, f, readable, source)
    )


def _ingest_readable(
    db: Database, monitor: MonitorConfig, layout: LogLayout, f: SourceFile, readable: Readable, source: str
) -> tuple[int, int, int, int]:
    sql, params = normalise_query(
        readable.fmt, readable.path, readable.columns, layout, compression=readable.compression
    )
    now = utcnow()
    columns = (layout.numeric, layout.categorical, layout.segments)
    # Rows the reader refused (a broken line: no fields to look at) count as read and bad. Only rows new to the
    # quarantine count as quarantined: a bad row kept from an earlier read of this file (it grew, or was
    # touched) is not counted again, so a run's quarantined_rows (and an alert on it) sees it once.
    rows_read = inserted = duplicates = 0
    with db.transaction() as tx, db.side_cursor() as reader:
        quarantined = quarantine_rejected(tx, monitor.name, "predictions", source, readable.rejected, now)
        rows_read += len(readable.rejected)
        # Bounded batches in the file's one transaction: memory holds one batch, and the file is recorded as
        # ingested in the transaction of its last batch, so a crash mid-file leaves nothing of it behind.
        for batch in stream_rows(reader, sql, params, BATCH_ROWS):
            counts = store_prediction_batch(tx, monitor.name, batch, columns, source, monitor.window, now)
            rows_read += counts.rows
            inserted += counts.inserted
            duplicates += counts.duplicates
            quarantined += counts.quarantined
        record_ingested(
            tx,
            monitor.name,
            "predictions",
            source,
            f.size,
            f.mtime_ns,
            now,
            (rows_read, inserted, duplicates, quarantined),
        )
    return rows_read, inserted, duplicates, quarantined


def no_files_warning(kind: str, pattern: str) -> str:
    return f"no {kind} file matches {pattern!r}: nothing was read (is the path right?)"


def record_empty_file(db: Database, monitor: str, kind: str, f: SourceFile) -> None:
    """An empty file is read, with 0 rows: recorded so it is not looked at again until it changes."""
    with db.transaction() as tx:
        record_ingested(tx, monitor, kind, f.path, f.size, f.mtime_ns, utcnow())
