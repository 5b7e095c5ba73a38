"""The `runs` table's bookkeeping beyond a cycle's own start and finish (those are in pipeline/cycle.py).

A cycle inserts its run as `running` and updates it to `ok` or `failed` when it ends. A process killed in
between (kill -9, power loss, OOM) leaves the row `running` for good. DuckDB lets one process at a time open
the file for writing, so when `serve` or `run` starts, every run still `running` that started before this
process opened the file belongs to a process that is gone: it is marked `interrupted`. Runs started after
`before` (by this process's own threads) are never touched.
"""

from __future__ import annotations

import logging
from datetime import datetime

from driftwatch.storage.database import Database, utcnow

INTERRUPTED = "interrupted"


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
