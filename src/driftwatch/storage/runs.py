"""The `runs` table: a cycle's start and finish (`start_run`, `finish_run`, called by pipeline/cycle.py), and
the runs a stopped process left behind.

A cycle inserts its run as `running` and updates it to `ok`, `degraded` (a source could not be read;
pipeline/run_status.py) or `failed` when it ends. A process killed in
between (kill -9, power loss, OOM) leaves the row `running` for good. DuckDB lets one process at a time open
the file for writing, so when `serve` or `run` starts, every run still `running` that started before this
process opened the file belongs to a process that is gone: it is marked `interrupted`. Runs started after
`before` (by this process's own threads) are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.storage.database import Database, utcnow

RUNNING = "running"
INTERRUPTED = "interrupted"
OK = "ok"
# The cycle ran every step but could not read a file, object or source (pipeline/run_status.py).
DEGRADED = "degraded"
FAILED = "failed"
# Every value `runs.status` takes (docs/operations.md, "Run status").
STATUSES = (RUNNING, OK, DEGRADED, FAILED, INTERRUPTED)
# Statuses of cycles that ran to their end: every step ran, so none of their work is redone by a later cycle.
COMPLETED = (OK, DEGRADED)


def mark_interrupted_runs(
    db: Database, before: datetime | None = None, log: logging.Logger | None = None
) -> list[tuple[str, str]]:
    """Mark `running` runs that started before `before` (default: now, naive UTC) as `interrupted`.

    Call it at start, before this process starts any cycle. Returns (run_id, monitor) of each run marked
    (and warns about each on `log` when given); `finished_at` stays NULL (when the process died is not
    known), `error` says what happened.
    """
    cutoff = before or utcnow()
    note = (
        "interrupted: the process running this cycle stopped before it finished (found when driftwatch "
        f"started again at {cutoff:%Y-%m-%d %H:%M:%S} UTC); its committed windows are kept and the rest is "
        "redone by the next cycle"
    )
    with db.transaction() as tx:
        rows = tx.execute(
            "UPDATE runs SET status = ?, error = coalesce(error, ?) "
            "WHERE status = 'running' AND started_at < ? RETURNING run_id, monitor",
            [INTERRUPTED, note, cutoff],
        ).fetchall()
    marked = sorted((str(run_id), str(monitor)) for run_id, monitor in rows)
    for run_id, monitor in marked:
        if log is not None:
            log.warning(
                "run %s of monitor %s was cut short by a stopped process; marked interrupted", run_id, monitor
            )
    return marked


def start_run(
    tx: duckdb.DuckDBPyConnection, run_id: str, monitor: str, trigger: str, started_at: datetime
) -> None:
    """Record a cycle as `running` (`started_at` naive UTC)."""
    tx.execute(
        "INSERT INTO runs (run_id, monitor, trigger, started_at, status) VALUES (?, ?, ?, ?, ?)",
        [run_id, monitor, trigger, started_at, RUNNING],
    )


@dataclass(frozen=True)
class RunCounts:
    """What a finished cycle did, as the `runs` row keeps it."""

    rows_ingested: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    files_failed: int = 0
    windows_computed: int = 0
    rows_expired: int = 0  # raw rows deleted by retention (storage/retention.py)


def finish_run(
    tx: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    finished_at: datetime,
    counts: RunCounts,
    error: str | None,
) -> None:
    """Record a cycle's end: its status (`ok`, `degraded` or `failed`), counts and error or warnings."""
    tx.execute(
        "UPDATE runs SET finished_at = ?, status = ?, rows_ingested = ?, rows_duplicate = ?, "
        "rows_quarantined = ?, files_failed = ?, windows_computed = ?, rows_expired = ?, error = ? "
        "WHERE run_id = ?",
        [
            finished_at,
            status,
            counts.rows_ingested,
            counts.rows_duplicate,
            counts.rows_quarantined,
            counts.files_failed,
            counts.windows_computed,
            counts.rows_expired,
            error,
            run_id,
        ],
    )


def record_run_alerts(
    tx: duckdb.DuckDBPyConnection, run_id: str, firing: int, enqueued: int, suppressed: int
) -> None:
    """Record what the alert evaluation after a finished cycle did: the monitor's alert instances firing after
    it, the notifications it enqueued and those a silence suppressed. A run without them (alerting off, the
    cycle or its evaluation failed, a run recorded before these columns) keeps NULL."""
    tx.execute(
        "UPDATE runs SET alerts_firing = ?, alerts_enqueued = ?, alerts_suppressed = ? WHERE run_id = ?",
        [firing, enqueued, suppressed, run_id],
    )
