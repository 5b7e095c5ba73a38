"""Arrow tables written to local Parquet files: a database source's pulled batch spilled for its reader, and the
local copy of a reference kept in a database (`pipeline.spilled`, `pipeline.database_reference`).

Parquet has no type for PostgreSQL's `interval` (Arrow's month_day_nano_interval: pyarrow refuses to write it,
and Parquet's own INTERVAL holds neither a sign nor less than a millisecond), and a labels or reference table
with such a column failed its source every cycle. Such a column is written as a struct of its three signed
parts (months, days, nanoseconds): nothing is lost, and DuckDB reads a STRUCT, which no statistic reads (the
column is left out of inferred features as of an unsupported type).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# Arrow's month_day_nano_interval value: 16 bytes, int32 months, int32 days, int64 nanoseconds (little-endian).
_PART_NAMES = ("months", "days", "nanoseconds")
_PARTS = np.dtype(list(zip(_PART_NAMES, ("<i4", "<i4", "<i8"), strict=True)))
INTERVAL_PARTS = pa.struct([("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64())])


def write_parquet(
    table: pa.Table, path: str | Path, *, uncompressed: bool = False, row_group_rows: int | None = None
) -> None:
    """`table` (`parquet_writable`) to a Parquet file at `path`. `uncompressed`: no compression (a file written
    and read once, locally); `row_group_rows`: rows per row group (pyarrow's default when None)."""
    pq.write_table(
        parquet_writable(table),
        str(path),
        compression="none" if uncompressed else "snappy",
        row_group_size=row_group_rows,
    )


def parquet_writable(table: pa.Table) -> pa.Table:
    """`table` with each interval column as a struct of its parts (`INTERVAL_PARTS`), the others as they are."""
    for i, field in enumerate(table.schema):
        if pa.types.is_interval(field.type):
            parts = [_interval_parts(chunk) for chunk in table.column(i).chunks]
            table = table.set_column(i, field.name, pa.chunked_array(parts, INTERVAL_PARTS))
    return table


def _interval_parts(chunk: pa.Array) -> pa.StructArray:
    if len(chunk) == 0:
        return pa.array([], INTERVAL_PARTS)
    values = np.frombuffer(
        chunk.buffers()[1], _PARTS, count=len(chunk), offset=chunk.offset * _PARTS.itemsize
    )
    return pa.StructArray.from_arrays(
        [pa.array(values[name]) for name in _PART_NAMES],
        fields=list(INTERVAL_PARTS),
        mask=chunk.is_null() if chunk.null_count else None,
    )
