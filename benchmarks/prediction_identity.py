#!/usr/bin/env python
"""What dropping the predictions table's primary key costs and saves (issue 16, item 1; issue 19, item 3).

Before: `request_id VARCHAR PRIMARY KEY`, dedup by an anti-join on request_id. After: no key, dedup by an
anti-join on (request_id, model_version) under the monitor's insert lock. Both are run in the same session,
each in fresh child processes: "before" imports the code of a checkout given by `--old-src` (e.g. `git archive
<commit> src | tar -x -C /tmp/old`), "after" this checkout's. Per variant and per rows already stored
(`--stored`, e.g. 0 and 10M):

1. (when stored > 0) the history: one file of that many rows ingested (not the measurement);
2. ingest of a 1M-row Parquet file of new rows (20 numeric + 2 categorical features: perf_drift's workload),
   through `pipeline.ingest.ingest_predictions`, the real path;
3. the same 1M rows re-sent (a copy of the file under another name: every row a duplicate);
4. a delete of those 1M rows by timestamp (`DELETE … WHERE ts >= day`), the statement and its COMMIT timed
   apart: the COMMIT is where DuckDB maintains the key's ART index.

Then, with `--migrate`, the "before" database of the largest `--stored` is opened by the new code, which
rebuilds its predictions table without the key (storage/prediction_identity.py): the upgrade's one-time cost.

Every child reports wall and process CPU seconds (all threads) and peak RSS; the load average is printed
around each, as the machine may be shared (CPU seconds are what compares then).

    git archive <commit-before> src | tar -x -C /tmp/dw-old
    .venv/bin/python benchmarks/prediction_identity.py --old-src /tmp/dw-old/src --files /tmp/dw-ident \\
        --stored 0,10000000 --migrate
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_formats import write_config  # noqa: E402
from perf_drift import CATEGORICAL, NUMERIC, log_frame  # noqa: E402

HISTORY_DAY = datetime(2026, 1, 5, tzinfo=UTC)
NEW_DAY = HISTORY_DAY + timedelta(days=1)
CHUNK = 1_000_000
NEW_ROWS = 1_000_000
SRC = Path(__file__).resolve().parents[1] / "src"


def write_parquet(path: Path, rows: int, day: datetime, prefix: str, seed: int) -> Path:
    """A Parquet log file of `rows` rows on `day` (reused when present), written 1M rows at a time."""
    import pyarrow.parquet as pq

    if path.exists():
        return path
    part = path.with_suffix(".part")
    writer = None
    try:
        for k, start in enumerate(range(0, rows, CHUNK)):
            table = log_frame(min(CHUNK, rows - start), seed + k, day, f"{prefix}{k}").to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(part, table.schema)
            writer.write_table(table, row_group_size=122_880)
    finally:
        if writer is not None:
            writer.close()
    part.rename(path)
    return path


def _measure(fn: Any) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "out": out}


def child_ingest(project: Path, history: str, new: Path, resend: Path) -> None:
    """Steps 1-4 in this process (with whichever `driftwatch` is on the path); prints one JSON line."""
    import driftwatch
    from driftwatch.config.loading import load_settings
    from driftwatch.config.monitors import FeatureSpec
    from driftwatch.pipeline.ingest import ingest_predictions
    from driftwatch.storage.database import Database

    features = FeatureSpec(numeric=NUMERIC, categorical=CATEGORICAL)
    report: dict[str, Any] = {"code": str(Path(driftwatch.__file__).parent)}
    settings = load_settings(write_config(project, Path(project / "logs" / "*.parquet"), json_features=False))
    (project / "logs").mkdir(exist_ok=True)
    monitor = settings.monitor("bench")
    with Database(settings.storage, settings.database) as db:

        def ingest(path: Path) -> tuple[int, int]:
            os.link(path, project / "logs" / path.name)
            summary = ingest_predictions(db, monitor, features)
            assert not summary.failed_files, summary.failed_files
            return summary.rows_inserted, summary.rows_duplicate

        if history:
            report["history"] = _measure(lambda: ingest(Path(history)))
        report["new"] = _measure(lambda: ingest(new))
        report["resend"] = _measure(lambda: ingest(resend))
        cur = db.cursor()
        table = '"predictions:bench"'
        report["keys"] = cur.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'predictions:bench' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()[0][0]
        db.checkpoint()  # the delete below starts from a checkpointed table, as retention's does
        cur.execute("BEGIN TRANSACTION")
        report["delete"] = _measure(
            lambda: cur.execute(
                f"DELETE FROM {table} WHERE ts >= ?", [NEW_DAY.replace(tzinfo=None)]
            ).fetchall()[0][0]
        )
        report["delete_commit"] = _measure(lambda: cur.execute("COMMIT").fetchall())
        report["delete_commit"]["out"] = None
        report["stored_after"] = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    report["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, default=str), flush=True)


def child_migrate(db_file: Path) -> None:
    """Open a database written by the old code with this code: the rebuild happens in `Database()`."""
    import driftwatch
    from driftwatch.storage.database import Database

    t = _measure(lambda: Database(db_file).close())
    import duckdb

    with duckdb.connect(str(db_file), read_only=True) as con:
        rows = con.execute('SELECT count(*) FROM "predictions:bench"').fetchall()[0][0]
        keys = con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'predictions:bench' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()[0][0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "code": str(Path(driftwatch.__file__).parent),
                "open": t,
                "rows": rows,
                "keys": keys,
                "rss_mb": rss,
            },
            default=str,
        ),
        flush=True,
    )


def run_child(src: Path, args: list[str], timeout: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load"] = (before, os.getloadavg()[0])
    if not out["code"].startswith(str(src)):
        raise SystemExit(f"the child imported {out['code']}, not {src}")
    return out


def _line(name: str, m: dict[str, Any]) -> str:
    return f"{name:>14s}: cpu {m['cpu']:7.2f} s  wall {m['wall']:7.2f} s  -> {m.get('out')}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old-src", type=Path, help="the `src` folder of the code before")
    parser.add_argument("--stored", default="0,10000000", help="rows already stored, comma-separated")
    parser.add_argument(
        "--files", type=Path, default=None, help="keep the generated files here and reuse them"
    )
    parser.add_argument("--work", type=Path, default=None, help="the databases' folder (default: a temp dir)")
    parser.add_argument("--migrate", action="store_true", help="time the new code opening the old database")
    parser.add_argument("--timeout", type=float, default=2400.0, help="per child, seconds")
    parser.add_argument("--child-ingest", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--child-migrate", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ingest:
        project, history, new, resend = args.child_ingest
        child_ingest(Path(project), history if history != "-" else "", Path(new), Path(resend))
        return 0
    if args.child_migrate:
        child_migrate(Path(args.child_migrate[0]))
        return 0
    if args.old_src is None:
        parser.error("--old-src is required")
    folder = args.files or Path(tempfile.mkdtemp(prefix="dw-ident-files-"))
    folder.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="dw-ident-"))
    work.mkdir(parents=True, exist_ok=True)
    stored = [int(s) for s in args.stored.split(",")]
    t0 = time.perf_counter()
    new = write_parquet(folder / "new-1000000.parquet", NEW_ROWS, NEW_DAY, "new", 99)
    resend = folder / "resend-1000000.parquet"
    if not resend.exists():
        shutil.copyfile(new, resend)
    histories = {
        n: write_parquet(folder / f"history-{n}.parquet", n, HISTORY_DAY, "h", 7) for n in stored if n
    }
    print(f"files ready in {time.perf_counter() - t0:.1f} s ({folder})", flush=True)
    variants = {"before (PK)": args.old_src.resolve(), "after (no PK)": SRC}
    try:
        for n in stored:
            for name, src in variants.items():
                project = work / f"{'old' if src != SRC else 'new'}-{n}"
                shutil.rmtree(project, ignore_errors=True)
                project.mkdir(parents=True)
                history = str(histories[n]) if n else "-"
                r = run_child(
                    src, ["--child-ingest", str(project), history, str(new), str(resend)], args.timeout
                )
                print(
                    f"{name}, {n:,} rows stored (PK constraints: {r['keys']}), load {r['load'][0]:.1f} -> "
                    f"{r['load'][1]:.1f}, peak RSS {r['rss_mb']:.0f} MB",
                    flush=True,
                )
                for step in ("history", "new", "resend", "delete", "delete_commit"):
                    if step in r:
                        print(_line(step, r[step]), flush=True)
        if args.migrate:
            n = max(stored)
            db_file = work / f"old-{n}" / "dw.duckdb"
            r = run_child(SRC, ["--child-migrate", str(db_file)], args.timeout)
            print(
                f"migration of the old database ({r['rows']:,} rows; PK constraints after: {r['keys']}), load "
                f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}, peak RSS {r['rss_mb']:.0f} MB",
                flush=True,
            )
            print(_line("open+rebuild", r["open"]), flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        if args.files is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
