"""`last_watermark` reads one row of a pulled batch (the last with a timestamp), not the whole batch: checked
against the obvious twin that walks the Python lists from the end, on batches with NULL timestamps at the end,
none at all, several chunks, integer and text ids, and aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from driftwatch.sources.database import Watermark, last_watermark

T0 = datetime(2026, 3, 1, 12, 0, 0)


def twin(table: pa.Table) -> Watermark | None:
    for ts, rid in zip(
        reversed(table.column("ts").to_pylist()), reversed(table.column("id").to_pylist()), strict=True
    ):
        if ts is None:
            continue
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        return Watermark(ts, rid if isinstance(rid, int) and not isinstance(rid, bool) else str(rid))
    return None


def batch(
    stamps: list[datetime | None], ids: list[object], tz: str | None = None, chunks: int = 1
) -> pa.Table:
    ts = pa.array(stamps, type=pa.timestamp("us", tz=tz))
    table = pa.table({"ts": ts, "id": pa.array(ids)})
    if chunks > 1:
        step = max(1, len(stamps) // chunks)
        table = pa.concat_tables([table.slice(i, step) for i in range(0, len(stamps), step)])
    return table


CASES = [
    ([T0, T0 + timedelta(seconds=1)], ["a", "b"], None, 1),
    ([T0, T0 + timedelta(seconds=1), None, None], ["a", "b", "c", "d"], None, 1),
    ([T0, None, T0 + timedelta(seconds=2), None], [1, 2, 3, 4], None, 2),
    ([None, None], ["a", "b"], None, 1),
    ([], [], None, 1),
    ([T0], [7], None, 1),
    ([T0 + timedelta(hours=i) for i in range(10)] + [None] * 5, list(range(15)), None, 4),
    ([T0.replace(tzinfo=timezone(timedelta(hours=2))), None], ["x", "y"], "+02:00", 1),
]


@pytest.mark.parametrize(("stamps", "ids", "tz", "chunks"), CASES)
def test_last_watermark_is_the_twins(
    stamps: list[datetime | None], ids: list[object], tz: str | None, chunks: int
) -> None:
    if not ids:
        table = pa.table({"ts": pa.array([], type=pa.timestamp("us")), "id": pa.array([], type=pa.string())})
    else:
        table = batch(stamps, ids, tz, chunks)
    assert (table.column("ts").num_chunks > 1) == (chunks > 1)  # a last chunk all NULL included
    got = last_watermark(table, "ts", "id")
    assert got == twin(table)
    if got is not None:
        assert got.ts.tzinfo is None and type(got.id) is (int if isinstance(ids[0], int) else str)


def test_aware_timestamps_become_naive_utc() -> None:
    table = batch([T0.replace(tzinfo=timezone(timedelta(hours=2)))], ["x"], "+02:00")
    assert last_watermark(table, "ts", "id") == Watermark(T0 - timedelta(hours=2), "x")


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_a_time_python_cannot_hold_is_passed_over(unit: str) -> None:
    """PostgreSQL's 'infinity' / '-infinity' reach Arrow as values outside Python's dates (the ADBC driver's
    sentinels): the watermark is the last row before them; a batch of nothing else has none."""
    held = pa.array([T0, T0 + timedelta(seconds=1)], pa.timestamp(unit)).cast(pa.int64()).to_pylist()
    beyond = [2**63 - 1, -(2**63) + 1, 290_000 * 365 * 86_400 * {"s": 1, "ms": 1_000, "us": 1_000_000}[unit]]
    values = [*held, None, *beyond]
    table = pa.table(
        {
            "ts": pa.array(values, pa.int64()).cast(pa.timestamp(unit, "UTC")),
            "id": ["a", "b", "c", "d", "e", "f"],
        }
    )
    assert last_watermark(table, "ts", "id") == Watermark(T0 + timedelta(seconds=1), "b")
    only = pa.table({"ts": pa.array(beyond, pa.int64()).cast(pa.timestamp(unit)), "id": ["x", "y", "z"]})
    assert last_watermark(only, "ts", "id") is None
    edge = datetime(9999, 12, 31, 23, 59, 59)
    last = pa.table({"ts": pa.array([edge], pa.timestamp(unit)), "id": [1]})
    assert last_watermark(last, "ts", "id") == Watermark(edge, 1)
