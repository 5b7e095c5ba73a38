"""For multiclass CBPE (`pipeline.multiclass_estimation`): the reference's labels and per-class probabilities.

Read through the same normalising query as the logs, so a reference row's probabilities are checked and refused
exactly as a log row's (sources.probabilities); the refused rows come back with their reason so the caller can
say how many were left out of the calibration and why.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from driftwatch.sources.files import Readable
from driftwatch.sources.logs import LogLayout, normalise_query
from driftwatch.storage.probabilities import probability_column


def reference_class_rows(
    cur: duckdb.DuckDBPyConnection, readable: Readable, layout: LogLayout, max_rows: int
) -> pa.Table:
    """Columns `truth` (the target's class identity, NULL when missing), `reason` (NULL for a usable row) and
    `q0`, `q1`, ... (the layout's classes' probabilities, in its order), a repeatable sample of at most
    ``max_rows`` rows. ``layout`` reads the target as its `output` column."""
    sql, params = normalise_query(
        readable.fmt, readable.path, readable.columns, layout, compression=readable.compression
    )
    cols = "".join(f", {probability_column(c.name)} AS q{i}" for i, c in enumerate(layout.probabilities))
    table: pa.Table = cur.sql(
        f"SELECT * FROM (SELECT output AS truth, _reason AS reason{cols} FROM ({sql})) "
        f"USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (42)",
        params=params,
    ).to_arrow_table()
    return table
