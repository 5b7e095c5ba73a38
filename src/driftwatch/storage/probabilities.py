"""A multiclass monitor's per-class probability columns in its predictions table: `p:<class>`, DOUBLE.

Stored on the prediction row itself (not in a side table) so that everything that already follows a row
(dedup by request id and version, retention, snapshots, the window reads) carries them without a change.
Columns are added when `predictions.probabilities` names a new class; rows stored before that hold NULL there
and are left out of the estimate (docs/performance.md, "Estimation for multiclass classifiers").
"""

from __future__ import annotations

import duckdb

from driftwatch.storage.schema import prediction_table, quote_identifier

PROBABILITY_PREFIX = "p:"


def probability_column_name(class_name: str) -> str:
    """The unquoted column holding a class's probability (prefixed: it can never collide with another column)."""
    return PROBABILITY_PREFIX + class_name


def probability_column(class_name: str) -> str:
    return quote_identifier(probability_column_name(class_name))


def ensure_probability_columns(
    cur: duckdb.DuckDBPyConnection, monitor: str, classes: tuple[str, ...]
) -> None:
    """Add a DOUBLE column per configured class the monitor's predictions table lacks (the table exists)."""
    if not classes:
        return
    existing = {
        str(r[0])
        for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [f"predictions:{monitor}"],
        ).fetchall()
    }
    for name in classes:
        if probability_column_name(name) not in existing:
            cur.execute(
                f"ALTER TABLE {prediction_table(monitor)} ADD COLUMN {probability_column(name)} DOUBLE"
            )
