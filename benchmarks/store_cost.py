#!/usr/bin/env python
"""The store's own cost in CPU seconds: `sources_pull.py`'s rows (the default log schema, features as a JSON
object in a text column, as every PostgreSQL/S3 pull arrives) ingested from local Parquet files.

`sources_pull.py` reports wall seconds, which a shared machine makes noisy; this runs each ingest in a fresh
child process and reports its process CPU seconds (all threads) and peak RSS. With `--old-src DIR` every run
is made with the code in DIR on `PYTHONPATH` too, right before the same run with this checkout's code.

    .venv/bin/python benchmarks/store_cost.py --rows 1000000 --repeats 3 --old-src /tmp/old/src
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def child(project: Path) -> None:
    sys.path.insert(0, str(BENCH))
    from sources_pull import FEATURES

    from driftwatch.config.loading import load_settings
    from driftwatch.pipeline.ingest import ingest_predictions
    from driftwatch.storage.database import Database

    monitor = load_settings(project / "driftwatch.yml").monitor("m")
    with Database(project / "dw.duckdb") as db:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = ingest_predictions(db, monitor, FEATURES)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert not summary.failed_files, summary.failed_files
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": rss_mb, "inserted": summary.rows_inserted}))


def prepare(root: Path, rows: int, objects: int) -> None:
    import pyarrow.parquet as pq

    sys.path.insert(0, str(BENCH))
    from sources_pull import log_table, project

    table = log_table(rows)
    (root / "logs").mkdir(parents=True)
    step = -(-table.num_rows // objects)
    for i in range(objects):
        pq.write_table(table.slice(i * step, step), root / "logs" / f"part-{i:04d}.parquet")
    project(root, "      path: logs/*.parquet\n")


def run(root: Path, src: Path | None) -> dict[str, float]:
    for p in root.glob("dw.duckdb*"):
        p.unlink()
    shutil.rmtree(root / "duckdb_tmp", ignore_errors=True)
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--old-src", type=Path, default=None)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    root = Path(tempfile.mkdtemp(prefix="dw-store-cost-"))
    try:
        prepare(root, args.rows, args.objects)
        codes: list[tuple[str, Path | None]] = [("new", None)]
        if args.old_src is not None:
            codes.insert(0, ("old", args.old_src))
        cpu: dict[str, list[float]] = {code: [] for code, _ in codes}
        for rep in range(args.repeats):
            for code, src in codes:
                load = os.getloadavg()[0]
                r = run(root, src)
                assert r["inserted"] == args.rows, r
                cpu[code].append(r["cpu"])
                print(
                    f"rep {rep + 1} {code}: cpu {r['cpu']:.2f} s  wall {r['wall']:.2f} s  "
                    f"peak RSS {r['rss_mb']:.0f} MB  load {load:.1f}",
                    flush=True,
                )
        for code, values in cpu.items():
            print(f"{code}: median {statistics.median(values):.2f} CPU-s for {args.rows:,} rows", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
