"""`compare --engine dask` on a 2-worker LocalCluster against the single-node streamed comparison.

    python benchmarks/dask_engine.py --rows 10000000          # both, results compared, timings, memory
    python benchmarks/dask_engine.py --rows 10000000 --clean  # and delete the generated data

The data are benchmarks/streaming.py's (22 features, a 1M-row reference, row groups of 1M rows, in /tmp, the
same files: a run of either benchmark reuses them). The single-node run is streaming.py's child process
(budget 2 GiB); the Dask run starts a LocalCluster of 2 worker processes of 1 thread each (what this 2-core
machine has) and compares on it from this process. Reported: wall times, each worker's peak RSS, the task
stream's per-partition compute times (the rate that predicts scaling: rows / (workers × rate)), and whether
the two results are the same document (they must be: both finish the same merged partials).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streaming import GROUP_ROWS, REFERENCE_ROWS, run_child, write_data  # noqa: E402


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def on_cluster(reference: Path, current: Path) -> dict[str, Any]:
    """The comparison on a fresh 2-worker LocalCluster: wall time, per-task times, workers' peak RSS."""
    from distributed import Client, LocalCluster, get_task_stream

    import driftwatch
    from driftwatch.comparison import load_statistics

    load_statistics()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        client.run(load_statistics)  # numba's cached kernels loaded on each worker, as a warm cluster has
        baseline = client.run(_peak_rss)
        workers_cpu = client.run(_cpu_seconds)
        with get_task_stream(client) as stream:
            client_cpu = _cpu_seconds()  # the client and, in a LocalCluster, the scheduler's thread
            start = time.perf_counter()
            result = driftwatch.compare(reference, current, engine="dask", client=client)
            seconds = time.perf_counter() - start
            client_cpu = _cpu_seconds() - client_cpu
        peaks = client.run(_peak_rss)
        workers_cpu = {k: v - workers_cpu[k] for k, v in client.run(_cpu_seconds).items()}
    tasks = [t for t in stream.data if "driftwatch-partial" in str(t["key"])]
    computes = [
        sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute") for t in tasks
    ]
    merges = [t for t in stream.data if "driftwatch-merge" in str(t["key"])]
    return {
        "seconds": seconds,
        "client_cpu": client_cpu,
        "workers_cpu": sorted(workers_cpu.values()),
        "tasks": len(tasks),
        "merges": len(merges),
        "compute": sorted(computes),
        "worker_baseline": sorted(baseline.values()),
        "worker_peak": sorted(peaks.values()),
        "document": result.to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp"))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--clean", action="store_true", help="delete the generated files afterwards")
    args = parser.parse_args()
    reference = args.folder / f"dw_stream_reference_{REFERENCE_ROWS}.parquet"
    current = args.folder / f"dw_stream_current_{args.rows}.parquet"
    start = time.perf_counter()
    write_data(reference, REFERENCE_ROWS, 0.0, 1)
    write_data(current, args.rows, 0.02, 2)
    print(f"data: {args.rows:,} rows ({time.perf_counter() - start:.0f} s)", flush=True)
    try:
        single: dict[str, Any] = run_child("streaming", reference, current, "2GiB", args.timeout)
        print(
            f"single node, streamed (2 GiB): {single['seconds']:.1f} s wall, {single['cpu_seconds']:.1f} CPU-s, "
            f"peak {single['peak_rss'] / 2**30:.2f} GiB",
            flush=True,
        )
        dask = on_cluster(reference, current)
    finally:
        if args.clean:
            current.unlink(missing_ok=True)
            reference.unlink(missing_ok=True)
    import json

    def text(document: object) -> str:  # NaN is written as NaN on both sides; nan != nan would not do
        return json.dumps(document, default=lambda x: None, sort_keys=True)

    same = text(dask["document"]) == text(single["document"])
    compute = dask["compute"]
    median = compute[len(compute) // 2]
    print(
        f"dask, 2 workers x 1 thread: {dask['seconds']:.1f} s ({dask['seconds'] / single['seconds']:.2f}x); "
        f"{dask['tasks']} partition tasks + {dask['merges']} merge tasks"
    )
    print(
        f"CPU: workers {' + '.join(f'{c:.1f}' for c in dask['workers_cpu'])} s, client and scheduler "
        f"{dask['client_cpu']:.1f} s = {sum(dask['workers_cpu']) + dask['client_cpu']:.1f} CPU-s"
    )
    try:
        print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
    except OSError:
        pass
    print(
        f"per partition ({GROUP_ROWS:,} rows x 22 features): compute {compute[0]:.2f}-{compute[-1]:.2f} s, "
        f"median {median:.2f} s = {GROUP_ROWS / median:,.0f} rows/s per worker"
    )
    gib = 2**30
    print(
        "worker peak RSS: "
        + ", ".join(f"{p / gib:.2f} GiB" for p in dask["worker_peak"])
        + " (after start-up: "
        + ", ".join(f"{p / gib:.2f} GiB" for p in dask["worker_baseline"])
        + ")"
    )
    print(f"same document as single node: {same}")


if __name__ == "__main__":
    main()
