"""A prediction's identity, (request_id, model_version), and the one-time rebuild of predictions tables that
still carry the old `request_id` primary key.

Until issue 16 a monitor's table was created with `request_id VARCHAR PRIMARY KEY`: a shadow prediction (the
same request scored by another model version) was refused as a duplicate, and DuckDB maintained the key's ART
index at every COMMIT that deleted rows, which made retention's deletions grow the cycle time with the table.
Now the identity is the pair, kept exact by the anti-join in `storage.predictions.insert_batch` under the
monitor's insert lock, and the table has no key at all.

DuckDB cannot drop a primary key (`ALTER TABLE … DROP CONSTRAINT` is not supported), so a table created by
the old code is rebuilt: a new table with the same columns, types and NOT NULLs in the same order, every row
copied in its stored order, the old one dropped and the new one renamed to its name, all in one transaction
per table. A crash before COMMIT leaves the old table as it was, and the next open rebuilds it again.
"""

from __future__ import annotations

import duckdb

from driftwatch.storage.schema import quote_identifier

PREDICTION_KEY_COLUMNS = (
    "request_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, model_version VARCHAR NOT NULL, "
    "prediction DOUBLE, output VARCHAR"
)
"""The fixed columns a predictions table is created with; feature and segment columns are added after."""

# The copy's name while it is built: not `predictions:…`, so it can never be another monitor's table.
_REBUILD_PREFIX = "_driftwatch_rebuild:"


def keyed_prediction_tables(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Unquoted names of the predictions tables that still have a PRIMARY KEY (or UNIQUE) constraint."""
    rows = cur.execute(
        "SELECT DISTINCT table_name FROM duckdb_constraints() "
        "WHERE database_name = current_database() AND schema_name = current_schema() "
        "AND table_name LIKE 'predictions:%' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _column_definitions(cur: duckdb.DuckDBPyConnection, table: str) -> str:
    """The table's columns as a CREATE TABLE list: names quoted, types and NOT NULL as stored, in order."""
    rows = cur.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = current_schema() AND table_name = ? "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    return ", ".join(
        f"{quote_identifier(str(name))} {data_type}{'' if nullable else ' NOT NULL'}"
        for name, data_type, nullable in rows
    )


def rebuild_without_key(tx: duckdb.DuckDBPyConnection, table: str) -> int:
    """Inside a transaction: replace `table` (unquoted name) by a copy without its key; returns the rows."""
    old, new = quote_identifier(table), quote_identifier(_REBUILD_PREFIX + table)
    tx.execute(f"DROP TABLE IF EXISTS {new}")
    tx.execute(f"CREATE TABLE {new} ({_column_definitions(tx, table)})")
    # `SELECT *` in column_index order, the order the new table was declared in; DuckDB keeps insertion order.
    rows = tx.execute(f"INSERT INTO {new} SELECT * FROM {old}").fetchall()
    tx.execute(f"DROP TABLE {old}")
    tx.execute(f"ALTER TABLE {new} RENAME TO {old}")
    return int(rows[0][0]) if rows else 0
