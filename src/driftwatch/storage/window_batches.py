"""A window's numeric columns read in record batches, for windows larger than a monitor's `stream_rows`.

The same statement and columns as `storage.windows.window_arrays`, fetched with DuckDB's
`to_arrow_reader` (its `fetch_record_batch`) so that only one batch of rows is in memory at a time (docs/scale.md). The pipeline
counts each batch into mergeable partials (`pipeline.streamed_windows`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence

import duckdb

from driftwatch.storage.predictions import window_filter
from driftwatch.storage.schema import prediction_table
from driftwatch.storage.windows import PlannedWindow, WindowArrays, as_window_arrays, window_arrays_query


def window_row_count(cur: duckdb.DuckDBPyConnection, monitor: str, window: PlannedWindow) -> int:
    """How many rows the window holds (one count, no rows read)."""
    where, params = window_filter(window.model_version, window.start, window.end)
    rows = cur.execute(f"SELECT count(*) FROM {prediction_table(monitor)} WHERE {where}", params).fetchall()
    return int(rows[0][0])


def window_array_batches(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    window: PlannedWindow,
    numeric: Sequence[str],
    segments: Mapping[str, Sequence[str]],
    score_as: str | None,
    batch_rows: int,
) -> Generator[WindowArrays, None, None]:
    """`window_arrays`, `batch_rows` rows at a time (the rows in DuckDB's order; each row exactly once).

    The reader is closed when the generator is, read to the end or not: while it is open the cursor runs no
    other statement (a caller that stops early, e.g. a cluster that failed mid-window, closes the generator)."""
    sql, params, names = window_arrays_query(monitor, window, numeric, segments, score_as)
    reader = cur.sql(sql, params=params).to_arrow_reader(batch_rows)
    try:
        for batch in reader:
            columns = {
                name: batch.column(i).to_numpy(zero_copy_only=False)
                for i, name in enumerate(batch.schema.names)
            }
            yield as_window_arrays(columns, names, segments)
    finally:
        reader.close()
