"""The `ingested_files` table: which source files (by path, size and modification time) were read, with what
counts, so a file is read again only when it changes."""

from __future__ import annotations

from datetime import datetime

import duckdb

from driftwatch.storage.database import first_row


def already_ingested(
    cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, path: str, size: int, mtime_ns: int
) -> bool:
    row = first_row(
        cur.execute(
            "SELECT count(*) FROM ingested_files WHERE monitor = ? AND kind = ? AND path = ? AND size = ? "
            "AND mtime_ns = ?",
            [monitor, kind, path, size, mtime_ns],
        )
    )
    return bool(row and row[0])


def record_ingested(
    tx: duckdb.DuckDBPyConnection,
    monitor: str,
    kind: str,
    path: str,
    size: int,
    mtime_ns: int,
    now: datetime,
    counts: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> None:
    """Inside the file's transaction: the file as read, with (rows read, inserted, duplicate, quarantined)."""
    tx.execute(
        "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [monitor, kind, path, size, mtime_ns, *counts, now],
    )
