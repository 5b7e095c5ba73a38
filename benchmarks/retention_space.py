"""How a DuckDB file's size behaves when old rows are deleted (docs/operations.md, "Retention").

A predictions-like table (request id, timestamp, version, score, 8 numeric + 2 categorical features) gets
`--days` days of `--rows-per-day` rows; then, day after day, one new day is inserted and the oldest deleted (in
batches, as the retention step does) and the file is checkpointed. Printed: the file size after each step, so
one sees whether the space freed by a delete is reused by later inserts (DuckDB reuses free blocks after a
CHECKPOINT; it never shrinks the file in place).

    python benchmarks/retention_space.py --rows-per-day 100000 --days 10 --rolls 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb

FEATURES = ", ".join(f"random() * 100 AS f{i}" for i in range(8))


def insert_day(con: duckdb.DuckDBPyConnection, day: int, rows: int) -> None:
    con.execute(
        f"INSERT INTO p SELECT 'r' || {day} || '-' || i, TIMESTAMP '2026-01-01' + INTERVAL (?) DAY "
        f"+ INTERVAL (i % 86400) SECOND, 'v1', random(), {FEATURES}, "
        "['a','b','c','d'][1 + (i % 4)::INT], ['x','y'][1 + (i % 2)::INT] FROM range(?) t(i)",
        [day, rows],
    )


def delete_day(con: duckdb.DuckDBPyConnection, day: int, batch: int) -> None:
    while True:
        con.execute("BEGIN")
        n = con.execute(
            "DELETE FROM p WHERE rowid IN (SELECT rowid FROM p WHERE ts < TIMESTAMP '2026-01-01' + INTERVAL (?) DAY "
            "LIMIT ?)",
            [day + 1, batch],
        ).fetchone()
        con.execute("COMMIT")
        if not n or n[0] < batch:
            return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows-per-day", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--rolls", type=int, default=10)
    ap.add_argument("--batch", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.duckdb"
        con = duckdb.connect(str(path))
        cols = ", ".join(f"f{i} DOUBLE" for i in range(8))
        con.execute(
            f"CREATE TABLE p (request_id VARCHAR PRIMARY KEY, ts TIMESTAMP, model_version VARCHAR, "
            f"prediction DOUBLE, {cols}, c0 VARCHAR, c1 VARCHAR)"
        )
        for day in range(args.days):
            insert_day(con, day, args.rows_per_day)
        con.execute("CHECKPOINT")
        full = os.path.getsize(path)
        print(f"{args.days} days x {args.rows_per_day:,} rows: {full / 1e6:.1f} MB")
        for roll in range(args.rolls):
            started = time.perf_counter()
            delete_day(con, roll, args.batch)
            con.execute("CHECKPOINT")
            after_delete = os.path.getsize(path)
            insert_day(con, args.days + roll, args.rows_per_day)
            con.execute("CHECKPOINT")
            size = os.path.getsize(path)
            print(
                f"roll {roll + 1}: after delete+checkpoint {after_delete / 1e6:.1f} MB, after next day "
                f"{size / 1e6:.1f} MB ({size / full:.2f}x), {time.perf_counter() - started:.1f}s"
            )
        con.execute("VACUUM p")
        con.execute("CHECKPOINT")
        print(f"after VACUUM + CHECKPOINT: {os.path.getsize(path) / 1e6:.1f} MB")
        con.close()
        # A file rewrite is the only way to give the space back to the file system.
        copy = Path(tmp) / "copy.duckdb"
        con = duckdb.connect(str(copy))
        con.execute(f"ATTACH '{path}' AS old (READ_ONLY)")
        con.execute("COPY FROM DATABASE old TO copy")
        con.execute("CHECKPOINT")
        con.close()
        print(f"rewritten with COPY FROM DATABASE: {os.path.getsize(copy) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
