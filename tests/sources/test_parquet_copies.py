"""Interval columns (PostgreSQL's `interval`) written to Parquet as a struct of their signed parts: nothing lost,
read by DuckDB as a STRUCT (no statistic reads it), the other columns untouched."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwatch.sources.columns import _duckdb_type_kind
from driftwatch.sources.parquet_copies import INTERVAL_PARTS, parquet_writable, write_parquet

MDN = pa.MonthDayNano
INTERVALS = [
    MDN([0, 0, 3_000_000_000]),  # 3 seconds
    MDN([0, 0, -3_000_000_000]),  # -3 seconds: Parquet's own INTERVAL has no sign
    MDN([0, 1, -7_200_000_000_000]),  # 1 day -2 hours
    None,
    MDN([-14, 0, 0]),  # -1 year -2 months
    MDN([0, 0, 1_234_567]),  # 1.234567 ms: finer than Parquet's INTERVAL
    MDN([2**31 - 1, -(2**31), 2**63 - 1]),
]


def parts(values: list[pa.MonthDayNano | None]) -> list[dict[str, int] | None]:
    return [
        None if v is None else {"months": v.months, "days": v.days, "nanoseconds": v.nanoseconds}
        for v in values
    ]


@pytest.mark.parametrize("compressed", [True, False])
def test_intervals_keep_every_part_and_sign(tmp_path: Path, compressed: bool) -> None:
    table = pa.table(
        {"id": list(range(len(INTERVALS))), "took": pa.array(INTERVALS, pa.month_day_nano_interval())}
    )
    path = tmp_path / "copy.parquet"
    write_parquet(table, path, uncompressed=not compressed, row_group_rows=3)
    back = pq.read_table(path)
    assert back.schema.field("took").type == INTERVAL_PARTS
    assert back.column("took").to_pylist() == parts(INTERVALS)
    assert back.column("id").to_pylist() == list(range(len(INTERVALS)))
    kind = duckdb.sql(f"DESCRIBE SELECT took FROM read_parquet('{path}')").fetchall()[0][1]
    assert kind.startswith("STRUCT(") and _duckdb_type_kind(kind) == ("unsupported", False)


def test_sliced_and_chunked_columns_keep_their_rows() -> None:
    column = pa.array(INTERVALS * 3, pa.month_day_nano_interval())
    chunked = pa.chunked_array([column.slice(2, 9), column.slice(0, 0), column.slice(11, 5)])
    table = pa.table({"took": chunked, "x": pa.array(range(14), pa.int64())})
    written = parquet_writable(table)
    assert written.column("took").to_pylist() == parts((INTERVALS * 3)[2:11] + (INTERVALS * 3)[11:16])
    assert written.column("x").equals(table.column("x"))


def test_a_table_without_intervals_is_the_same_table() -> None:
    table = pa.table({"a": [1, 2], "t": pa.array(["x", None])})
    assert parquet_writable(table) is table
