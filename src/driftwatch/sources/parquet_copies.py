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
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Arrow's month_day_nano_interval value: 16 bytes, int32 months, int32 days, int64 nanoseconds.
_PART_NAMES = ("months", "days", "nanoseconds")
_PARTS = np.dtype(list(zip(_PART_NAMES, ("=i4", "=i4", "=i8"), strict=True)))  # Arrow buffers: native order
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
    """`table` with each interval (a column's, or inside a column's lists and structs: PostgreSQL's `interval[]`)
    as a struct of its parts (`INTERVAL_PARTS`); columns without one are the same arrays. Raises
    ArrowNotImplementedError naming the column for an interval inside another type (a map, a fixed-size
    list: PostgreSQL gives neither)."""
    for i, field in enumerate(table.schema):
        if _holds_interval(field.type):
            chunks = [_writable(chunk, field.name) for chunk in table.column(i).chunks]
            table = table.set_column(
                i, field.name, pa.chunked_array(chunks, _writable_type(field.type, field.name))
            )
    return table


def _holds_interval(t: pa.DataType) -> bool:
    if pa.types.is_interval(t):
        return True
    return any(_holds_interval(t.field(k).type) for k in range(t.num_fields))


def _writable_type(t: pa.DataType, column: str) -> pa.DataType:
    if pa.types.is_interval(t):
        return INTERVAL_PARTS
    if not _holds_interval(t):
        return t
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = t.value_field.with_type(_writable_type(t.value_type, column))
        return pa.list_(item) if pa.types.is_list(t) else pa.large_list(item)
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_writable_type(f.type, column)) for f in t])
    raise pa.ArrowNotImplementedError(
        f"column {column!r}: an interval inside a {t} is not supported (only in lists and structs)"
    )


def _writable(chunk: pa.Array, column: str) -> pa.Array:
    t = chunk.type
    if pa.types.is_interval(t):
        return _interval_parts(chunk)
    if not _holds_interval(t):
        return chunk
    target = _writable_type(t, column)
    if len(chunk) == 0:
        return pa.array([], target)
    mask = chunk.is_null() if chunk.null_count else None
    if pa.types.is_struct(t):  # `field` applies the struct's own offset
        fields = [_writable(chunk.field(k), column) for k in range(t.num_fields)]
        return pa.StructArray.from_arrays(fields, fields=list(target), mask=mask)
    # A list: its values from the first offset on (a slice's offsets do not start at 0), offsets rebased.
    offsets = chunk.offsets
    first, last = offsets[0].as_py(), offsets[-1].as_py()
    values = _writable(chunk.values.slice(first, last - first), column)
    rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
    lists = pa.ListArray if pa.types.is_list(t) else pa.LargeListArray
    return lists.from_arrays(rebased, values, type=target, mask=mask)


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
