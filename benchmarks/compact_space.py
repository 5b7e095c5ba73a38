"""What `driftwatch compact` gives back and what it costs (docs/operations.md, "Retention").

The predictions-like table of retention_space.py gets `--days` days of `--rows-per-day` rows in a driftwatch
database (all its tables, schema version); the oldest `--delete-days` days are deleted and the file
checkpointed (the file keeps their blocks); then `storage.compact.compact` rewrites it. Printed: the file size
before and after, and the seconds the compact took.

    python benchmarks/compact_space.py --rows-per-day 100000 --days 10 --delete-days 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from retention_space import delete_day, insert_day

from driftwatch.storage.compact import compact
from driftwatch.storage.database import Database

TABLE = (
    "CREATE TABLE p (request_id VARCHAR PRIMARY KEY, ts TIMESTAMP, model_version VARCHAR, score DOUBLE, "
    + ", ".join(f"f{i} DOUBLE" for i in range(8))
    + ", c0 VARCHAR, c1 VARCHAR)"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows-per-day", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--delete-days", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "driftwatch.duckdb"
        with Database(path) as db:
            con = db.cursor()
            con.execute(TABLE)
            for day in range(args.days):
                insert_day(con, day, args.rows_per_day)
            db.checkpoint()
            full = path.stat().st_size
            for day in range(args.delete_days):
                delete_day(con, day, 50_000)
            db.checkpoint()
        started = time.perf_counter()
        done = compact(path)
        seconds = time.perf_counter() - started
        rows = done.tables["main.p"]
        print(
            f"{args.days} days x {args.rows_per_day:,} rows: {full / 1e6:.1f} MB; after deleting "
            f"{args.delete_days} days: {done.bytes_before / 1e6:.1f} MB; compact: {done.bytes_after / 1e6:.1f} MB "
            f"({rows:,} rows kept) in {seconds:.2f} s"
        )


if __name__ == "__main__":
    main()
