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


def test_duckdb_reads_the_parts_alike_from_memory_and_from_the_file(tmp_path: Path) -> None:
    """A pulled batch is read in memory or from its spilled file: a quarantined row's raw text (DuckDB's JSON of
    the row) must not depend on which."""
    table = parquet_writable(pa.table({"took": pa.array(INTERVALS, pa.month_day_nano_interval())}))
    path = tmp_path / "batch.parquet"
    write_parquet(table, path, uncompressed=True)
    con = duckdb.connect()
    con.register("in_memory", table)
    from_memory = con.execute("SELECT to_json(took) FROM in_memory").fetchall()
    from_file = con.execute(f"SELECT to_json(took) FROM read_parquet('{path}')").fetchall()
    assert from_memory == from_file
    assert from_memory[1] == ('{"months":0,"days":0,"nanoseconds":-3000000000}',)


def test_intervals_inside_lists_and_structs(tmp_path: Path) -> None:
    """PostgreSQL's `interval[]` arrives as a list of intervals: written as lists of parts, sliced and null
    lists kept; an interval inside a struct alike."""
    lists = pa.array(
        [INTERVALS[:2], None, [], INTERVALS[2:5], [None]], pa.list_(pa.month_day_nano_interval())
    )
    nested = pa.StructArray.from_arrays(
        [pa.array(INTERVALS[:5], pa.month_day_nano_interval()), pa.array(range(5))],
        names=["took", "n"],
        mask=pa.array([False, True, False, False, False]),
    )
    for large in (False, True):
        column = lists.cast(pa.large_list(pa.month_day_nano_interval())) if large else lists
        table = pa.table({"tooks": pa.chunked_array([column.slice(1, 4), column.slice(0, 1)]), "s": nested})
        path = tmp_path / f"nested-{large}.parquet"
        write_parquet(table, path)
        back = pq.read_table(path)
        expected = [
            None if v is None else [None if i is None else parts([i])[0] for i in v]
            for v in column.slice(1, 4).to_pylist() + column.slice(0, 1).to_pylist()
        ]
        assert back.column("tooks").to_pylist() == expected
        assert back.column("s").to_pylist() == [
            None if not valid else {"took": parts([INTERVALS[k]])[0], "n": k}
            for k, valid in enumerate([True, False, True, True, True])
        ]


def test_an_interval_in_a_map_is_refused_naming_its_column(tmp_path: Path) -> None:
    mapped = pa.array([[("a", MDN([0, 0, 1]))]], pa.map_(pa.string(), pa.month_day_nano_interval()))
    with pytest.raises(pa.ArrowNotImplementedError, match="column 'm': an interval inside a map"):
        write_parquet(pa.table({"m": mapped}), tmp_path / "m.parquet")
