#!/usr/bin/env python
"""Issue 19, item 3: does 90-day retention keep the database bounded over 180 simulated days?

A monitor with daily windows and `retention: {predictions: 90d}` (no labels) is driven through the real
pipeline: each simulated day one new Parquet day-file of `--rows-per-day` rows (the perf_drift workload: 20
numeric + 2 categorical features) is written to the monitor's log folder and `run_cycle` runs with a fake `now`
just after that day's window closed, so the cycle ingests the day, computes its window and (from day 91 on)
deletes the day that fell out of retention. `run_cycle` does not checkpoint itself (the service checkpoints at
shutdown, DuckDB automatically when the WAL passes `checkpoint_threshold`), so after every cycle the benchmark
runs `Database.checkpoint()` — what a deployment's periodic checkpoint does — and then records the file size.

Per day: database file size (+ WAL) after the checkpoint, the cycle's wall and CPU time (all threads), the
checkpoint's wall time, the rows expired. Reported: size(day 180) / size(day 90) (target <= 1.3x) and the
median cycle wall time of days 171-180 / days 81-90 (target <= 1.2x), with the load average. Day-files older
than two days are removed (log rotation) so the disk holds the database, not 180 days of logs.

    .venv/bin/python benchmarks/retention_simulation.py --rows-per-day 20000 --out /tmp/sim.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_drift import (  # noqa: E402  (the shared workload and machine description)
    FIRST_DAY,
    cpu_time,
    feature_frame,
    load,
    log_frame,
    machine,
    numpy_simd,
    open_db,
    write_config,
)


def _db_bytes(path: Path) -> tuple[int, int]:
    """(database file size, WAL size) in bytes."""
    wal = path.with_name(path.name + ".wal")
    return os.path.getsize(path), (os.path.getsize(wal) if wal.exists() else 0)


def _median(days: list[dict[str, Any]], first: int, last: int, key: str) -> float:
    return statistics.median(d[key] for d in days if first <= d["day"] <= last)


def _timed_retention_step() -> list[float]:
    """Wrap the cycle's retention step (`expire_rows`) to time it; the cycle itself is unchanged."""
    import driftwatch.pipeline.cycle as cycle

    spent: list[float] = []
    step = cycle.expire_rows

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    cycle.expire_rows = timed
    return spent


def simulate(work: Path, rows: int, days: int, retain: int, reference_rows: int) -> list[dict[str, Any]]:
    from driftwatch.pipeline.cycle import run_cycle

    retention_s = _timed_retention_step()

    logs = work / "logs"
    logs.mkdir(parents=True)
    reference = work / "reference.parquet"
    feature_frame(reference_rows, 42, drift=False).write_parquet(reference)
    db_file = work / "dw.duckdb"
    config = write_config(work, str(logs / "*.parquet"), reference, db_file)
    # The monitor section is the file's last: its retention goes at the end, at the monitor's indent.
    config.write_text(config.read_text() + f"    retention: {{predictions: {retain}d}}\n")
    db, monitor = open_db(config)
    out: list[dict[str, Any]] = []
    try:
        for day in range(1, days + 1):
            served = FIRST_DAY + timedelta(days=day - 1)
            log_frame(rows, 5000 + day, served, f"d{day}").write_parquet(logs / f"day{day:03d}.parquet")
            stale = logs / f"day{day - 2:03d}.parquet"
            stale.unlink(missing_ok=True)
            now = served + timedelta(days=1, minutes=5)  # the day's window just closed
            w0, c0 = time.perf_counter(), cpu_time()
            summary = run_cycle(db, monitor, now=now, trigger="benchmark")
            wall, cpu = time.perf_counter() - w0, cpu_time() - c0
            k0 = time.perf_counter()
            db.checkpoint()
            checkpoint_s = time.perf_counter() - k0
            size, wal = _db_bytes(db_file)
            row = {
                "day": day,
                "db_bytes": size,
                "wal_bytes": wal,
                "cycle_wall_s": round(wall, 4),
                "cycle_cpu_s": round(cpu, 4),
                "retention_step_wall_s": round(retention_s[-1], 4),
                "checkpoint_wall_s": round(checkpoint_s, 4),
                "rows_inserted": summary.ingest.rows_inserted,
                "rows_expired": summary.retention.predictions_expired,
                "load": os.getloadavg()[0],
            }
            out.append(row)
            print(
                f"day {day:3d}: {size / 1e6:8.1f} MB (wal {wal / 1e6:.1f}), cycle {wall:6.2f}s wall "
                f"{cpu:6.2f}s cpu (retention step {retention_s[-1]:.2f}s), checkpoint {checkpoint_s:5.2f}s, +{row['rows_inserted']:,} expired {row['rows_expired']:,}, "
                f"load {row['load']:.2f}",
                flush=True,
            )
        # Does a VACUUM + CHECKPOINT at the end give anything back? (DuckDB never shrinks a file in place.)
        k0 = time.perf_counter()
        db.cursor().execute(f'VACUUM "predictions:{monitor.name}"')
        db.checkpoint()
        out.append({"day": "vacuum", "db_bytes": _db_bytes(db_file)[0], "wall_s": time.perf_counter() - k0})
    finally:
        db.close()
    return out


def primary_key_delete_check(work: Path | None, rows: int = 2_000_000, day_rows: int = 100_000) -> None:
    """Where a day's deletion spends its time: one day deleted from a table with and without a primary key.

    The statement itself is fast; the commit removes each deleted key from the primary-key index (ART).
    """
    import duckdb

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for pk in (True, False):
            con = duckdb.connect(str(Path(tmp) / f"pk{pk}.duckdb"))
            key = "PRIMARY KEY" if pk else ""
            con.execute(f"CREATE TABLE p (request_id VARCHAR {key}, ts TIMESTAMP, f0 DOUBLE, f1 DOUBLE)")
            con.execute(
                "INSERT INTO p SELECT 'd-' || i, TIMESTAMP '2026-01-01' + INTERVAL (i // ?) DAY, random(), "
                "random() FROM range(?) t(i)",
                [day_rows, rows],
            )
            con.execute("CHECKPOINT")
            con.execute("BEGIN")
            t0 = time.perf_counter()
            con.execute("DELETE FROM p WHERE ts < TIMESTAMP '2026-01-02'")
            t1 = time.perf_counter()
            con.execute("COMMIT")
            t2 = time.perf_counter()
            con.close()
            print(
                f"primary key {pk}: {day_rows:,} of {rows:,} rows deleted, statement {t1 - t0:.3f}s, "
                f"commit {t2 - t1:.3f}s",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows-per-day", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--retention-days", type=int, default=90)
    ap.add_argument("--reference-rows", type=int, default=50_000)
    ap.add_argument("--work", type=Path, default=None, help="folder to run in (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (database, config) at the end")
    ap.add_argument("--out", type=Path, default=None, help="write every day's numbers here as JSON")
    ap.add_argument(
        "--pk-delete-check", action="store_true", help="only time a day's delete with/without a PK"
    )
    args = ap.parse_args(argv)
    if args.pk_delete_check:
        primary_key_delete_check(args.work)
        return 0
    host = machine()
    info: dict[str, Any] = {
        "machine": host,
        "numpy_simd": numpy_simd(),
        "load_before": load(),
        "args": vars(args),
    }
    print(f"{host.get('cpu_model')}; {info['load_before']}", flush=True)
    if args.keep:  # the database stays for inspection (timing the retention step's queries)
        tmp = tempfile.mkdtemp(dir=args.work)
        days = simulate(Path(tmp), args.rows_per_day, args.days, args.retention_days, args.reference_rows)
        print(f"kept: {tmp}")
    else:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            days = simulate(Path(tmp), args.rows_per_day, args.days, args.retention_days, args.reference_rows)
    daily = [d for d in days if isinstance(d["day"], int)]
    half, last = args.retention_days, args.days
    size_ratio = daily[last - 1]["db_bytes"] / daily[half - 1]["db_bytes"]
    early = _median(daily, half - 9, half, "cycle_wall_s")
    late = _median(daily, last - 9, last, "cycle_wall_s")
    steady = _median(daily, half + 1, half + 10, "cycle_wall_s")
    early_cpu = _median(daily, half - 9, half, "cycle_cpu_s")
    late_cpu = _median(daily, last - 9, last, "cycle_cpu_s")
    result = {
        "size_day_half_mb": daily[half - 1]["db_bytes"] / 1e6,
        "size_day_last_mb": daily[last - 1]["db_bytes"] / 1e6,
        "size_max_mb": max(d["db_bytes"] for d in daily) / 1e6,
        "size_ratio": size_ratio,
        "size_after_vacuum_mb": days[-1]["db_bytes"] / 1e6,
        "cycle_wall_median_early_s": early,
        "cycle_wall_median_late_s": late,
        "cycle_wall_ratio": late / early,
        "cycle_cpu_ratio": late_cpu / early_cpu,
        # Days half+1..half+10 already delete a day each: late vs these is the growth with retention running.
        "cycle_wall_median_first_expiring_s": steady,
        "cycle_wall_ratio_late_vs_first_expiring": late / steady,
        "retention_step_median_late_s": _median(daily, last - 9, last, "retention_step_wall_s"),
        "retention_step_median_early_s": _median(daily, half - 9, half, "retention_step_wall_s"),
        "load_after": load(),
    }
    print(json.dumps(result, indent=2))
    print(
        f"size day {last}/day {half}: {size_ratio:.2f}x (target <= 1.3x); cycle wall median days "
        f"{last - 9}-{last} / {half - 9}-{half}: {late / early:.2f}x (target <= 1.2x), cpu {late_cpu / early_cpu:.2f}x"
    )
    if args.out:
        args.out.write_text(json.dumps({**info, "result": result, "days": days}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
