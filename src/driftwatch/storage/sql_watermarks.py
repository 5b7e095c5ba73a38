"""The `source_watermarks` table: how far a monitor's SQL-database source has been pulled.

One row per (monitor, kind, source): the last stored row's timestamp and id (the tiebreak column), with the id's
type (`watermark_id_type`: 'int' or 'text') so an integer id is bound as an integer again. It is written in the
same transaction as the last rows it covers (`pipeline.database_sources`; a pull is at most one ingest slice, so
that is the pull's only transaction), so after a crash it names exactly the rows that are stored: the next pull
starts after them, skipping none and doubling none.

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
    # Added later: in a table made before, the type is NULL (unknown) until the next save.
    tx.execute("ALTER TABLE source_watermarks ADD COLUMN IF NOT EXISTS watermark_id_type VARCHAR")


def load_watermark(
    cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, source: str
) -> tuple[datetime, str | int, bool] | None:
    """(timestamp, id, is the id's type known) of the last stored row, the id in its own type, or None before
    the first pull. A watermark saved before the type was kept has its id as text and `False`."""
    row = first_row(
        cur.execute(
            "SELECT watermark_ts, watermark_id, watermark_id_type FROM source_watermarks "
            "WHERE monitor = ? AND kind = ? AND source = ?",
            [monitor, kind, source],
        )
    )
    if row is None:
        return None
    ts = row[0]
    assert isinstance(ts, datetime)
    return ts, int(row[1]) if row[2] == "int" else str(row[1]), row[2] is not None


def save_watermark(
    tx: duckdb.DuckDBPyConnection,
    monitor: str,
    kind: str,
    source: str,
    watermark: tuple[datetime, str | int],
    now: datetime,
) -> None:
    """Inside the transaction that stores the rows up to `watermark`."""
    id_type = "int" if isinstance(watermark[1], int) else "text"
    tx.execute(
        "INSERT INTO source_watermarks (monitor, kind, source, watermark_ts, watermark_id, updated_at, "
        "watermark_id_type) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "watermark_ts = excluded.watermark_ts, watermark_id = excluded.watermark_id, "
        "updated_at = excluded.updated_at, watermark_id_type = excluded.watermark_id_type",
        [monitor, kind, source, watermark[0], str(watermark[1]), now, id_type],
    )


def unstored_predictions(
    cur: duckdb.DuckDBPyConnection, monitor: str, keys: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Those of `keys` ((request id, model version) pairs) that no stored prediction of the monitor has: a
    look-back pull keeps only these, so re-reading rows already stored neither counts them again nor queues
    their windows, and a shadow model's late row (a stored request id, another version) is still stored.

    A request id with a quarantined row is kept: the row may have been corrected in the database since, and is
    then stored. Unchanged, it is not quarantined again (`storage.quarantine.quarantine_batch` skips a bad row
    whose request id and raw text are quarantined already)."""
    if not keys:
        return set()
    table = prediction_table(monitor)
    found = cur.execute(
        "SELECT i, v FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS i, unnest(CAST(? AS VARCHAR[])) AS v) AS k "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS p WHERE p.request_id = k.i AND p.model_version = k.v)",
        [[k[0] for k in keys], [k[1] for k in keys]],
    ).fetchall()
    return {(str(r[0]), str(r[1])) for r in found}
