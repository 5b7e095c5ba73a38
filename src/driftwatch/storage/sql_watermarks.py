"""The `source_watermarks` table: how far a monitor's SQL-database source has been pulled.

One row per (monitor, kind, source): the last stored row's timestamp and request id. It is written in the same
transaction as the rows it covers (`pipeline.database_sources`), so after a crash it names exactly the rows
that are stored: the next pull starts after them, skipping none and doubling none.

Created on first use (`ensure_watermark_table`, idempotent), not by a numbered migration, so a database that
never pulls from SQL never has it.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from driftwatch.storage.database import first_row
from driftwatch.storage.schema import prediction_table


def ensure_watermark_table(tx: duckdb.DuckDBPyConnection) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS source_watermarks ("
        "monitor VARCHAR NOT NULL, kind VARCHAR NOT NULL, source VARCHAR NOT NULL, "
        "watermark_ts TIMESTAMP NOT NULL, watermark_id VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL, "
        "PRIMARY KEY (monitor, kind, source))"
    )


def load_watermark(
    cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, source: str
) -> tuple[datetime, str] | None:
    """(timestamp, request id) of the last stored row, or None before the first pull."""
    row = first_row(
        cur.execute(
            "SELECT watermark_ts, watermark_id FROM source_watermarks WHERE monitor = ? AND kind = ? "
            "AND source = ?",
            [monitor, kind, source],
        )
    )
    if row is None:
        return None
    ts = row[0]
    assert isinstance(ts, datetime)
    return ts, str(row[1])


def save_watermark(
    tx: duckdb.DuckDBPyConnection,
    monitor: str,
    kind: str,
    source: str,
    watermark: tuple[datetime, str],
    now: datetime,
) -> None:
    """Inside the transaction that stores the rows up to `watermark`."""
    tx.execute(
        "INSERT INTO source_watermarks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "watermark_ts = excluded.watermark_ts, watermark_id = excluded.watermark_id, "
        "updated_at = excluded.updated_at",
        [monitor, kind, source, watermark[0], watermark[1], now],
    )


def unstored_ids(cur: duckdb.DuckDBPyConnection, monitor: str, ids: list[str]) -> set[str]:
    """Those of `ids` that no stored prediction of the monitor has: a look-back pull keeps only these, so
    re-reading rows already stored neither counts them again nor queues their windows for recomputation."""
    if not ids:
        return set()
    table = prediction_table(monitor)
    found = cur.execute(
        f"SELECT i FROM unnest(CAST(? AS VARCHAR[])) AS t(i) WHERE i NOT IN (SELECT request_id FROM {table})",
        [ids],
    ).fetchall()
    return {str(r[0]) for r in found}
