"""The `source_listings` table: how far a monitor's object-storage source has been listed.

One row per (monitor, kind, source URL): the greatest key below which every listed object is ingested (the
``StartAfter`` of the next incremental listing) and how many cycles ago the last full listing was. Losing this
row loses nothing: the next cycle lists everything again and skips what `ingested_files` already holds.

The table is created on first use (`ensure_listing_table`, idempotent), not by a numbered migration, so a
database that never reads object storage never has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.storage.database import first_row


@dataclass(frozen=True)
class ListingState:
    last_key: str | None  # every matching key <= this one is ingested; None: list from the start
    cycles_since_full: int  # incremental listings since the last full one


def ensure_listing_table(tx: duckdb.DuckDBPyConnection) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS source_listings ("
        "monitor VARCHAR NOT NULL, kind VARCHAR NOT NULL, source VARCHAR NOT NULL, last_key VARCHAR, "
        "cycles_since_full BIGINT NOT NULL, listed_at TIMESTAMP NOT NULL, "
        "PRIMARY KEY (monitor, kind, source))"
    )


def listing_state(cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, source: str) -> ListingState:
    row = first_row(
        cur.execute(
            "SELECT last_key, cycles_since_full FROM source_listings WHERE monitor = ? AND kind = ? AND source = ?",
            [monitor, kind, source],
        )
    )
    if row is None:
        return ListingState(None, 0)
    return ListingState(None if row[0] is None else str(row[0]), int(row[1]))


def save_listing_state(
    tx: duckdb.DuckDBPyConnection, monitor: str, kind: str, source: str, state: ListingState, now: datetime
) -> None:
    tx.execute(
        "INSERT INTO source_listings VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "last_key = excluded.last_key, cycles_since_full = excluded.cycles_since_full, "
        "listed_at = excluded.listed_at",
        [monitor, kind, source, state.last_key, state.cycles_since_full, now],
    )


def ingested_versions(
    cur: duckdb.DuckDBPyConnection, monitor: str, kind: str, url_prefix: str, after: str | None = None
) -> set[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every ingested file under `url_prefix` (after `after`, when given): one query
    for a whole listing, instead of one per object."""
    sql = (
        "SELECT path, size, mtime_ns FROM ingested_files WHERE monitor = ? AND kind = ? "
        "AND starts_with(path, ?)"
    )
    params: list[object] = [monitor, kind, url_prefix]
    if after is not None:
        sql += " AND path > ?"
        params.append(after)
    return {(str(p), int(s), int(m)) for p, s, m in cur.execute(sql, params).fetchall()}
