"""Rows stored before the value model (docs/values.md) brought to it: categories by identity, no ±inf.

A database written by an older driftwatch holds categories as they were spelled (`True`, `3.0`, `''`) and may
hold ±inf in numeric columns. New rows arrive canonical, so without this an old `True` and a new `true` would
be two categories of one feature. Idempotent (an identity is its own identity), so it can run whenever a
monitor's reference profile is rebuilt: `pipeline.reference.ensure_reference` calls it then, in the same
transaction that stores the new profile.
"""

from __future__ import annotations

import duckdb

from driftwatch.sources.values import category_number_sql, category_sql
from driftwatch.storage.database import first_row
from driftwatch.storage.schema import feature_column, prediction_table, segment_column


def canonicalise_stored_values(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    segments: tuple[str, ...] = (),
) -> int:
    """Rewrite the monitor's stored categories (features, `output`, segments) and its labels to their
    identities, and its stored ±inf to missing; returns the predictions rows changed (0 when none)."""
    row = first_row(
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [f"predictions:{monitor}"]
        )
    )
    if not row or not row[0]:
        return 0
    present = {
        str(r[0])
        for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [f"predictions:{monitor}"],
        ).fetchall()
    }
    sets: list[str] = []
    changed: list[str] = []
    for name, column in [(f"f:{c}", feature_column(c)) for c in categorical] + [("output", "output")]:
        if name in present:
            identity = category_sql(column, category_number_sql(column))
            sets.append(f"{column} = {identity}")
            changed.append(f"{column} IS DISTINCT FROM {identity}")
    for seg in segments:
        column = segment_column(seg)
        if f"s:{seg}" in present:
            # '(none)' (no value) is kept: it is the stored word for a missing segment value.
            identity = f"coalesce({category_sql(column, category_number_sql(column))}, '(none)')"
            sets.append(f"{column} = {identity}")
            changed.append(f"{column} IS DISTINCT FROM {identity}")
    for name, column in [(f"f:{n}", feature_column(n)) for n in numeric] + [("prediction", "prediction")]:
        if name in present:
            sets.append(f"{column} = CASE WHEN isinf({column}) THEN NULL ELSE {column} END")
            changed.append(f"isinf({column})")
    if not sets:
        return 0
    row = first_row(
        cur.execute(f"UPDATE {prediction_table(monitor)} SET {', '.join(sets)} WHERE {' OR '.join(changed)}")
    )
    label = category_sql("label", category_number_sql("label"))
    cur.execute(
        f"UPDATE labels SET label = {label} WHERE monitor = ? AND label IS DISTINCT FROM {label} "
        f"AND {label} IS NOT NULL",
        [monitor],
    )
    return int(row[0]) if row else 0
