"""Rows refused while reading a file (before any field was looked at), stored with the other quarantined rows."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from driftwatch.sources.repair import RejectedRow
from driftwatch.storage.database import registered

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
    with registered(cur, _TABLE, table):
        added = cur.execute(
            "INSERT INTO quarantine SELECT $monitor, $kind, $source, row_number, NULL, reason, raw, $now "
            f"FROM {_TABLE} ON CONFLICT DO NOTHING RETURNING 1",
            {"monitor": monitor, "kind": kind, "source": source, "now": now},
        ).fetchall()
    return len(added)


def pulled_source(label: str, part: str) -> str:
    """The source name of rows pulled from a database source `label` (`driver:table`, no `/`): `label#part`.

    Each pull is named apart (quarantine is keyed by (source, row number)); the common `label#` prefix lets
    `quarantine_batch` find the rows an earlier pull of the same source quarantined."""
    return f"{label}#{part}"


def _pull_family(source: str) -> str | None:
    """`label#` for a name made by `pulled_source`; None for a file (a path or URL: a `/` before any `#`) or a
    push (`api:<batch>`), whose re-reads are caught by the (source, row number) key alone."""
    label, sep, _ = source.partition("#")
    return None if not sep or "/" in label else label + sep


def quarantine_batch(
    cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, source: str, batch_table: str, now: datetime
) -> int:
    """Insert the rows of a normalised batch that have a `_reason`; returns how many were new (see above).

    A database source's look-back reads the rows of a quarantined request id again each cycle, so that a row
    corrected in the database is stored (pipeline/database_sources.py); an unchanged bad row must not be
    quarantined once per cycle. So for a pulled source a bad row already quarantined by a pull of the same
    source, with the same request id (NULL matching NULL) and the same raw text, is not added again. Files and
    pushes are not matched across sources: two files that each hold a bad line `{}` quarantine both (matching
    them on a NULL id and the raw text alone dropped the second without a trace)."""
    added = cur.execute(
        f"INSERT INTO quarantine SELECT $monitor, $kind, $source, _row, request_id, _reason, _raw, $now "
        f"FROM {batch_table} AS b WHERE _reason IS NOT NULL AND ($family IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM quarantine AS q WHERE q.monitor = $monitor AND q.kind = $kind "
        "AND starts_with(q.source, $family) AND q.request_id IS NOT DISTINCT FROM b.request_id "
        "AND q.raw = b._raw)) ON CONFLICT DO NOTHING RETURNING 1",
        {"monitor": monitor, "kind": kind, "source": source, "now": now, "family": _pull_family(source)},
    ).fetchall()
    return len(added)
