"""Streaming (`compare --memory-budget`) against in-memory `compare`, peak memory, per-partition throughput.

    python benchmarks/streaming.py --rows 10000000              # both ways, results compared, timings
    python benchmarks/streaming.py --rows 50000000 --only streaming --budget 2GiB   # the out-of-core run
    python benchmarks/streaming.py --throughput                 # rows/s per core of one partition's partials

Data: 22 features (14 continuous floats with 1 % NaN, 2 rounded floats, 2 Poisson counts, 4 text categories),
reference 1M rows, current `--rows` rows with a mild shift, written to `--folder` (default /tmp) in row groups
of 1M rows by a bounded writer; delete them afterwards (`--clean`). Each comparison runs in its own process
and reports its wall time, its peak RSS (ru_maxrss) and its RSS after imports and the numba warm-up (the
fixed overhead that no budget covers). Results go to docs/benchmarks.md and docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FEATURES = 22
GROUP_ROWS = 1_000_000
REFERENCE_ROWS = 1_000_000


def _group(rng: np.random.Generator, rows: int, shift: float) -> object:
    import pyarrow as pa

    columns: dict[str, object] = {}
    for k in range(14):
        values = rng.normal(shift * (k % 3), 1.0 + 0.1 * k, rows)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"f{k:02d}"] = values
    columns["rounded_a"] = np.round(rng.exponential(1.0 + shift, rows), 1)
    columns["rounded_b"] = np.round(rng.normal(10.0, 2.0, rows), 0)
    columns["count_a"] = rng.poisson(3.0 + shift, rows).astype(np.int64)
    columns["count_b"] = rng.poisson(30.0, rows).astype(np.int64)
    words = np.array([f"w{i}" for i in range(40)])
    for k in range(4):
        columns[f"cat_{k}"] = pa.array(words[rng.integers(0, 10 * (k + 1), rows)], type=pa.string())
    return pa.table(columns)


def write_data(path: Path, rows: int, shift: float, seed: int) -> None:
    import pyarrow.parquet as pq

    if path.exists():
        return
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    done = 0
    while done < rows:
        table = _group(rng, min(GROUP_ROWS, rows - done), shift)
        writer = writer or pq.ParquetWriter(tmp, table.schema)  # type: ignore[attr-defined]
        writer.write_table(table, row_group_size=GROUP_ROWS)
        done += table.num_rows  # type: ignore[attr-defined]
    assert writer is not None
    writer.close()
    tmp.rename(path)


def _rss_now() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds() -> float:
    """This process's CPU time, user + system, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(mode: str, reference: str, current: str, budget: str | None) -> None:
    """One comparison in this process; prints a JSON line with time, peak and baseline RSS and the features."""
    import driftwatch
    from driftwatch.comparison import load_statistics

    load_statistics()
    baseline = _rss_now()
    cpu = _cpu_seconds()
    start = time.perf_counter()
    result = driftwatch.compare(reference, current, memory_budget=budget if mode == "streaming" else None)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu
    from driftwatch.stats.sorting import process_calibration

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_rss": peak,
                "baseline_rss": baseline,
                "sort": process_calibration().method,
                "document": result.to_dict(),
            },
            default=lambda x: None,
        )
    )


def run_child(
    mode: str, reference: Path, current: Path, budget: str | None, timeout: float
) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", mode, str(reference), str(current)]
    if budget:
        command += ["--budget", budget]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def differences(streamed: dict[str, object], in_memory: dict[str, object]) -> list[str]:
    """Statistics that differ (W1: outside its bound)."""
    found = []
    for got, want in zip(streamed["features"], in_memory["features"], strict=True):  # type: ignore[call-overload]
        for key, value in want.items():
            other = got.get(key)
            if key == "wasserstein_norm" and value is not None:
                bound = got.get("wasserstein_norm_bound") or 0.0
                if abs(other - value) > bound * (1 + 1e-9) + 1e-15:
                    found.append(f"{want['name']}.{key}: {other} vs {value} (bound {bound})")
            elif other != value and not (isinstance(value, float) and math.isnan(value)):
                found.append(f"{want['name']}.{key}: {other} vs {value}")
    return found


def throughput() -> None:
    """Rows per second per core of one partition's partials (one thread), numeric and categorical."""
    import pyarrow as pa

    from driftwatch.comparison import _ArrowColumns
    from driftwatch.stats.partials import categorical_partial, numeric_partial
    from driftwatch.stats.profile import categorical_profile, numeric_profile

    rng = np.random.default_rng(1)
    reference = _group(rng, REFERENCE_ROWS, 0.0)
    part = _ArrowColumns(_group(rng, GROUP_ROWS, 0.05))  # type: ignore[arg-type]
    ref = _ArrowColumns(reference)  # type: ignore[arg-type]
    for name in ("f00", "rounded_a", "count_a"):
        profile = numeric_profile(name, ref.numeric_values(name, "reference"))
        values = part.numeric_values(name, "current")
        numeric_partial(profile, values[:1000])
        best = min(_timed(lambda p=profile, v=values: numeric_partial(p, v)) for _ in range(3))
        distinct = np.unique(profile.sorted_values).size
        print(f"numeric {name:10s} ref distinct {distinct:>9,}: {GROUP_ROWS / best / 1e6:6.2f} M rows/s/core")
    table = pa.Table.from_batches(part.table.to_batches())
    name = "cat_3"
    profile_c = categorical_profile(name, ref.value_counts(name, "reference"))
    best = min(
        _timed(lambda: categorical_partial(profile_c, _ArrowColumns(table).value_counts(name, "current")))
        for _ in range(3)
    )
    print(f"categorical {name:6s}: {GROUP_ROWS / best / 1e6:6.2f} M rows/s/core")
    from driftwatch.stats.sorting import process_calibration

    print(f"sort: {process_calibration().method}")


def _timed(job: object) -> float:
    start = time.perf_counter()
    job()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--budget", default="2GiB")
    parser.add_argument("--only", choices=["streaming", "memory"])
    parser.add_argument("--folder", type=Path, default=Path("/tmp"))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--clean", action="store_true", help="delete the generated files afterwards")
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "REFERENCE", "CURRENT"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2], args.budget)
        return
    if args.throughput:
        throughput()
        return
    reference = args.folder / f"dw_stream_reference_{REFERENCE_ROWS}.parquet"
    current = args.folder / f"dw_stream_current_{args.rows}.parquet"
    start = time.perf_counter()
    write_data(reference, REFERENCE_ROWS, 0.0, 1)
    write_data(current, args.rows, 0.02, 2)
    size = current.stat().st_size
    print(
        f"data: {args.rows:,} rows x {FEATURES} features, {size / 2**30:.2f} GiB ({time.perf_counter() - start:.0f} s)"
    )
    try:
        modes = [args.only] if args.only else ["memory", "streaming"]
        runs = {m: run_child(m, reference, current, args.budget, args.timeout) for m in modes}
        for mode, run in runs.items():
            print(
                f"{mode:9s}: {run['seconds']:7.1f} s  peak RSS {run['peak_rss'] / 2**30:5.2f} GiB  "
                f"(baseline after imports {run['baseline_rss'] / 2**20:.0f} MiB)"
                + (f"  budget {args.budget}" if mode == "streaming" else "")
                + f"  sort {run['sort']}"
            )
        if len(runs) == 2:
            ratio = runs["streaming"]["seconds"] / runs["memory"]["seconds"]  # type: ignore[operator]
            diff = differences(runs["streaming"]["document"], runs["memory"]["document"])  # type: ignore[arg-type]
            print(f"streaming / in-memory: {ratio:.2f}x; results {'equal' if not diff else 'DIFFER'}")
            for line in diff[:20]:
                print("  ", line)
        print(f"cpu: {os.cpu_count()} logical")
    finally:
        if args.clean:
            current.unlink(missing_ok=True)
            reference.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
