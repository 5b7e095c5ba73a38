#!/usr/bin/env python
"""Does ingest grow linearly with rows? `ingest_predictions` on one 1M-row and one 10M-row file, back to back.

Issue 17, item 4: 10M rows within 11x the 1M time for Parquet and NDJSON, peak RSS under 3 GB, Parquet at
>= 1M rows/s and NDJSON at >= 300k rows/s on 2 cores. The workload is perf_drift.py's (request id, timestamp,
20 numeric + 2 categorical features): Parquet with plain feature columns, NDJSON in the default log schema
(`input_features` objects). Files are written in 1M-row chunks (so generating 10M rows needs little memory)
and kept in `--files` to be reused.

Each ingest runs in a fresh child process on a fresh database, so its peak RSS (`ru_maxrss`) is its own; the
child reports wall and process CPU seconds (all threads). Sizes alternate within each repeat (1M, 10M, 1M,
10M, ...) so a ratio compares runs made under the same load; the load average is printed before and after
every run, as the machine may be shared.

    .venv/bin/python benchmarks/ingest_scaling.py --files /tmp/dw-scaling --repeats 2

`--old-src DIR` also runs every ingest with the code in DIR (e.g. `git archive <commit> src | tar -x -C
/tmp/old`, then `--old-src /tmp/old/src`) on `PYTHONPATH`, right before the same ingest with this checkout's
code, so before and after are measured under the same load.
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
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_formats import write_config  # noqa: E402
from perf_drift import CATEGORICAL, NUMERIC, log_frame  # noqa: E402

DAY = datetime(2026, 1, 5, tzinfo=UTC)
CHUNK = 1_000_000


def write_files(folder: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """`day-<rows>.parquet` / `.ndjson` in `folder` (reused when present), written chunk by chunk."""
    import polars as pl
    import pyarrow.parquet as pq

    out = {fmt: folder / f"day-{rows}.{fmt}" for fmt in formats}
    todo = {fmt: p for fmt, p in out.items() if not p.exists()}
    if not todo:
        return out
    writer = None
    part = {fmt: p.with_suffix(p.suffix + ".part") for fmt, p in todo.items()}
    nd = part["ndjson"].open("wb") if "ndjson" in part else None
    feats = list(NUMERIC + CATEGORICAL)
    try:
        for k, start in enumerate(range(0, rows, CHUNK)):
            n = min(CHUNK, rows - start)
            frame = log_frame(n, 7 + k, DAY, f"r{k}")
            if "parquet" in part:
                table = frame.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(part["parquet"], table.schema)
                writer.write_table(table, row_group_size=122_880)
            if nd is not None:
                text = frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
                text.select("request_id", "timestamp", pl.struct(feats).alias("input_features")).write_ndjson(
                    nd
                )
    finally:
        if writer is not None:
            writer.close()
        if nd is not None:
            nd.close()
    for fmt, p in part.items():
        p.rename(todo[fmt])
    return out


def child(project: Path, fmt: str, path: Path) -> None:
    """One ingest in this process; prints one JSON line."""
    from driftwatch.config.loading import load_settings
    from driftwatch.config.monitors import FeatureSpec
    from driftwatch.pipeline.ingest import ingest_predictions
    from driftwatch.storage.database import Database

    settings = load_settings(write_config(project, path, json_features=fmt == "ndjson"))
    monitor = settings.monitor("bench")
    with Database(settings.storage, settings.database) as db:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = ingest_predictions(db, monitor, FeatureSpec(numeric=NUMERIC, categorical=CATEGORICAL))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert not summary.failed_files, summary.failed_files
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "rss_mb": rss_mb,
                "inserted": summary.rows_inserted,
                "quarantined": summary.rows_quarantined,
            }
        ),
        flush=True,
    )


def one_run(work: Path, fmt: str, path: Path, timeout: float, src: Path | None = None) -> dict[str, float]:
    project = work / f"p-{fmt}-{path.stem}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    env = dict(os.environ)
    if src is not None:  # the code before, ahead of the installed (editable) checkout on sys.path
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(project), fmt, str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    shutil.rmtree(project, ignore_errors=True)
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def summarise(
    code: str, fmt: str, a: list[dict[str, float]], b: list[dict[str, float]], small: int, big: int
) -> None:
    wall_ratio = statistics.median(x["wall"] for x in b) / statistics.median(x["wall"] for x in a)
    cpu_ratio = statistics.median(x["cpu"] for x in b) / statistics.median(x["cpu"] for x in a)
    print(
        f"{code} {fmt}: {big:,} / {small:,} rows (medians): wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x; "
        f"peak RSS {max(x['rss_mb'] for x in b):.0f} MB; best {small / min(x['wall'] for x in a) / 1e3:.0f}k "
        f"/ {big / min(x['wall'] for x in b) / 1e3:.0f}k rows/s wall; CPU-s per 1M rows "
        f"{statistics.median(x['cpu'] for x in a) / small * 1e6:.2f} / "
        f"{statistics.median(x['cpu'] for x in b) / big * 1e6:.2f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--formats", default="parquet,ndjson")
    parser.add_argument(
        "--files", type=Path, default=None, help="keep the generated files here and reuse them"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per ingest, seconds")
    parser.add_argument("--old-src", type=Path, default=None, help="also run the code in this src folder")
    parser.add_argument("--child", nargs=3, metavar=("PROJECT", "FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    folder = args.files or Path(tempfile.mkdtemp(prefix="dw-scaling-files-"))
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dw-scaling-"))
    t0 = time.perf_counter()
    files = {n: write_files(folder, n, formats) for n in sizes}
    print(f"files ready in {time.perf_counter() - t0:.1f} s ({folder})", flush=True)
    codes: list[tuple[str, Path | None]] = [("new", None)]
    if args.old_src is not None:
        codes.insert(0, ("old", args.old_src))
    results: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    try:
        for rep in range(args.repeats):
            for fmt in formats:
                for n in sizes:
                    for code, src in codes:
                        before = os.getloadavg()[0]
                        r = one_run(work, fmt, files[n][fmt], args.timeout, src)
                        after = os.getloadavg()[0]
                        assert r["inserted"] + r["quarantined"] == n, r
                        results.setdefault((code, fmt, n), []).append(r)
                        print(
                            f"rep {rep + 1} {code} {fmt:8s} {n:>11,} rows: wall {r['wall']:7.2f} s  "
                            f"cpu {r['cpu']:7.2f} s  {n / r['wall'] / 1e3:7.0f}k rows/s wall  "
                            f"{n / r['cpu'] * 2 / 1e3:7.0f}k rows/s at 2 CPU-s per s  "
                            f"peak RSS {r['rss_mb']:6.0f} MB  load {before:.1f} -> {after:.1f}",
                            flush=True,
                        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.files is None:
            shutil.rmtree(folder, ignore_errors=True)
    small, big = min(sizes), max(sizes)
    for code, _ in codes:
        for fmt in formats:
            summarise(code, fmt, results[(code, fmt, small)], results[(code, fmt, big)], small, big)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
