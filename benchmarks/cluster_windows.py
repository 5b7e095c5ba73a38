"""A monitor's `compute:` window on a 2-worker LocalCluster against the same window streamed on this machine.

    python benchmarks/cluster_windows.py --rows 5000000      # one day of 5M rows, 8 numeric features

One window of `--rows` rows (8 numeric features, one categorical, a score, a 2-value segment) is ingested once
into a DuckDB file, which is then copied; the queued window is computed on one copy with `stream_rows`
(single node, batches of 1M rows) and on the other with `compute:` (a LocalCluster of 2 worker processes of 1
thread each, partitions of 1M rows, `stream_rows` as its fallback). Reported: wall and CPU seconds (this
process: the DuckDB read, shipping, merging, finishing; the workers: counting), each worker's peak RSS, the
per-partition compute time, and whether the stored rows are the same (they must be).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2026, 3, 2)
NUMERIC = [f"x{i}" for i in range(8)]
CONFIG = """\
storage: {root}/state/dw.duckdb
monitors:
  m:
    predictions:
      path: {root}/preds/*.parquet
      features: [{features}]
      prediction: score
      segments: [region]
    reference:
      path: {root}/ref.parquet
      prediction: score
    features:
      numeric: [{numeric}]
      categorical: [colour]
    window: 1d
    stream_rows: {batch}
"""
COMPUTE = """\
    compute:
      engine: dask
      scheduler: {address}
      min_rows: {batch}
      batch_rows: {batch}
      timeout: 60
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak() -> int:
    """This process's peak RSS since the last `_reset_peak` (VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    """Start the peak over: a worker forked from this process inherits its high-water mark (Linux)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _frame(rng: np.random.Generator, n: int, shift: float) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: rng.normal(shift * (i % 3), 1.0 + 0.1 * i, n) for i, name in enumerate(NUMERIC)
    }
    data["colour"] = pa.array(rng.choice(["a", "b", "c", "d"], n))
    data["score"] = rng.random(n)
    data["region"] = pa.array(rng.choice(["eu", "us"], n, p=[0.7, 0.3]))
    return data


def write_project(root: Path, rows: int) -> None:
    rng = np.random.default_rng(3)
    (root / "preds").mkdir(parents=True)
    pq.write_table(pa.table(_frame(rng, 200_000, 0.0)), root / "ref.parquet")
    step = 1_000_000
    for part, start in enumerate(range(0, rows, step)):
        n = min(step, rows - start)
        served = np.datetime64(START, "s") + np.sort(rng.integers(1, 86_000, n)).astype("timedelta64[s]")
        table = pa.table(
            {
                "request_id": pa.array([f"r{start + i}" for i in range(n)]),
                "timestamp": pa.array(served, type=pa.timestamp("us")),
                **_frame(rng, n, 0.02),
            }
        )
        pq.write_table(table, root / "preds" / f"{part:03d}.parquet")


BATCH = 1_000_000


def config(root: Path, address: str | None) -> Path:
    text = CONFIG.format(
        root=root, features=", ".join([*NUMERIC, "colour"]), numeric=", ".join(NUMERIC), batch=BATCH
    )
    if address:
        text += COMPUTE.format(address=address, batch=BATCH)
    path = root / ("cluster.yml" if address else "single.yml")
    path.write_text(text)
    return path


def ingest(root: Path) -> None:
    from driftwatch.config.loading import load_settings
    from driftwatch.pipeline.ingest import ingest_predictions
    from driftwatch.pipeline.reference import ensure_reference
    from driftwatch.storage.database import Database

    settings = load_settings(config(root, None))
    monitor = settings.monitor("m")
    with Database(settings.storage, settings.database) as db:
        reference = ensure_reference(db, monitor)
        summary = ingest_predictions(db, monitor, reference.features)
        print(f"ingested {summary.rows_inserted:,} rows", flush=True)


def compute(root: Path, address: str | None) -> dict[str, Any]:
    """The queued window computed and stored; wall and this process's CPU seconds, the run's warnings."""
    from driftwatch.config.loading import load_settings
    from driftwatch.pipeline.reference import ensure_reference
    from driftwatch.pipeline.windows import compute_queued_windows
    from driftwatch.storage.database import Database

    settings = load_settings(config(root, address))
    monitor = settings.monitor("m")
    warnings: list[str] = []
    with Database(settings.storage, settings.database) as db:
        reference = ensure_reference(db, monitor)
        cpu, start = _cpu(), time.perf_counter()
        done = compute_queued_windows(
            db, monitor, reference.features, reference.profile, "bench", datetime.now(UTC), warnings=warnings
        )
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        rows = (
            db.cursor()
            .sql("SELECT * EXCLUDE (run_id, computed_at, profile_id) FROM feature_results ORDER BY ALL")
            .fetchall()
        )
        stats = (
            db.cursor()
            .sql("SELECT segment, feature, statistic, value FROM feature_stats ORDER BY ALL")
            .fetchall()
        )
    return {"seconds": seconds, "cpu": cpu, "windows": len(done), "warnings": warnings, "rows": (rows, stats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000, help="stream_rows and compute.batch_rows")
    args = parser.parse_args()
    global BATCH
    BATCH = args.batch
    from distributed import Client, LocalCluster, get_task_stream

    from driftwatch.comparison import load_statistics

    load_statistics()
    root = Path(tempfile.mkdtemp(prefix="dw_cluster_windows_"))
    try:
        start = time.perf_counter()
        write_project(root, args.rows)
        ingest(root)
        print(f"data written and ingested ({time.perf_counter() - start:.0f} s)", flush=True)
        (root / "cluster").mkdir()
        shutil.copytree(root / "state", root / "cluster" / "state")
        single = compute(root, None)
        print(f"single node, streamed: {single['seconds']:.1f} s wall, {single['cpu']:.1f} CPU-s", flush=True)
        shutil.rmtree(root / "state")
        shutil.move(root / "cluster" / "state", root / "state")
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(load_statistics)
            client.run(_reset_peak)
            _reset_peak()
            baseline = client.run(_peak)
            workers_cpu = client.run(_cpu)
            with get_task_stream(client) as stream:
                on_cluster = compute(root, cluster.scheduler_address)
            peaks = client.run(_peak)
            workers_cpu = {k: v - workers_cpu[k] for k, v in client.run(_cpu).items()}
        tasks = [t for t in stream.data if "driftwatch-window" in str(t["key"])]
        computes = sorted(
            sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute") for t in tasks
        )
        gib = 2**30
        print(
            f"dask, 2 workers x 1 thread: {on_cluster['seconds']:.1f} s wall "
            f"({on_cluster['seconds'] / single['seconds']:.2f}x), this process {on_cluster['cpu']:.1f} CPU-s "
            f"(DuckDB read, shipping, merging; the LocalCluster's scheduler too), workers "
            f"{' + '.join(f'{c:.1f}' for c in sorted(workers_cpu.values()))} CPU-s; {len(tasks)} partitions, "
            f"compute {computes[0]:.2f}-{computes[-1]:.2f} s, median {computes[len(computes) // 2]:.2f} s"
        )
        print(
            "worker peak RSS: "
            + ", ".join(f"{p / gib:.2f} GiB" for p in sorted(peaks.values()))
            + " (after start-up: "
            + ", ".join(f"{p / gib:.2f} GiB" for p in sorted(baseline.values()))
            + f"); this process peak while computing on the cluster {_peak() / gib:.2f} GiB"
        )
        print(f"warnings: {on_cluster['warnings'] or 'none'}")
        print(f"same stored rows: {on_cluster['rows'] == single['rows']}")
        print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
