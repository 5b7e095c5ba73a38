"""Rows refused while reading a file (before any field was looked at), stored with the other quarantined rows."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from driftwatch.sources.repair import RejectedRow

_TABLE = "_dw_rejected_rows"


def quarantine_rejected(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    kind: str,
    source: str,
    rows: tuple[RejectedRow, ...],
    now: datetime,
) -> int:
    """Insert rows a reader refused (line too long, not UTF-8, broken CSV record, …); returns how many were
    new: a row already quarantined by an earlier read of the file (it grew, or was touched) is not counted again.

    Passed as one Arrow table, not row by row: a file can have many bad lines.
    """
    if not rows:
        return 0
    table = pa.table(
        {
            "row_number": pa.array([r.row for r in rows], pa.int64()),
            "reason": pa.array([r.reason for r in rows], pa.string()),
            "raw": pa.array([r.raw for r in rows], pa.string()),
        }
    )
    cur.register(_TABLE, table)
    try:
        added = cur.execute(
            "INSERT INTO quarantine SELECT $monitor, $kind, $source, row_number, NULL, reason, raw, $now "
            f"FROM {_TABLE} ON CONFLICT DO NOTHING RETURNING 1",
            {"monitor": monitor, "kind": kind, "source": source, "now": now},
        ).fetchall()
    finally:
        cur.unregister(_TABLE)
    return len(added)


def quarantine_batch(
    cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, source: str, batch_table: str, now: datetime
) -> int:
    """Insert the rows of a normalised batch that have a `_reason`; returns how many were new (see above).

    A bad row already quarantined with the same request id and the same raw text, from any source, is a
    duplicate (as a good row with a stored (request id, model version) is) and is not added or counted again:
    a database source's look-back reads the rows of a quarantined request id again each cycle, so that a row
    corrected in the database is stored (pipeline/database_sources.py), and an unchanged bad row must not be
    quarantined once per cycle. A row without a request id compares by its raw text alone (NOT DISTINCT: `=`
    never matches NULL, and such a row was quarantined again every cycle)."""
    added = cur.execute(
        f"INSERT INTO quarantine SELECT $monitor, $kind, $source, _row, request_id, _reason, _raw, $now "
        f"FROM {batch_table} AS b WHERE _reason IS NOT NULL AND NOT EXISTS (SELECT 1 FROM quarantine AS q "
        "WHERE q.monitor = $monitor AND q.kind = $kind AND q.request_id IS NOT DISTINCT FROM b.request_id AND q.raw = b._raw) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        {"monitor": monitor, "kind": kind, "source": source, "now": now},
    ).fetchall()
    return len(added)
