#!/usr/bin/env python
"""A whole `driftwatch run` of a 1M-row day against its floors, and the reports' share of it (issue 17, items 2-3).

One seeded day of prediction logs (the 20 numeric + 2 categorical features of benchmarks/perf_drift.py) is found
by a cycle whose database already holds the reference profile (as every day but the first). Per repetition,
interleaved so a change in the machine's load hits every row alike:

- run, in process: `run_cycle` (ingest, window statistics, bookkeeping) then `render_reports` with the chart data
  the statistics computed, exactly what `run_monitor` does; timed apart, so the report's share is measured;
- run, as a process: `driftwatch run` under GNU time (start-up and imports included; peak RSS);
- floor, ingest: `ingest_predictions` alone on a copy of the same database;
- floor, statistics: `feature_statistics` on the window's arrays (already fetched: the fetch is ingest's floor's
  counterpart, measured in perf_drift.py);
- (info) the same window pages rendered by fetching and sorting the window again (the path for pages rendered
  without the statistics at hand, and what every cycle did before).

Targets: run ÷ (ingest + statistics) ≤ 3×; report time ≤ 25 % of the run. Wall and CPU time (user + system of
the process, every thread) are both recorded, with the load average, CPU model and numpy's SIMD dispatch.
Results go to benchmarks/results/perf_run.json. Usage: `python benchmarks/perf_run.py [--rows 1000000]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_drift import (  # noqa: E402  (the shared workload and machine description)
    CATEGORICAL,
    FIRST_DAY,
    MONITOR,
    REPO,
    VENV_BIN,
    cpu_time,
    feature_frame,
    load,
    log_frame,
    machine,
    run_child,
    write_config,
)

RESULTS = REPO / "benchmarks" / "results" / "perf_run.json"


def _timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    gc.collect()
    c0, t0 = cpu_time(), time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, cpu_time() - c0, result


def _setup(work: Path, rows: int) -> tuple[Path, Path]:
    """Reference, one day of logs, and a database holding the reference profile (built by a cycle that found
    no logs yet). Returns (config, template database)."""
    from driftwatch.config.loading import load_settings
    from driftwatch.pipeline.cycle import run_cycle
    from driftwatch.storage.database import Database

    reference = work / "reference.parquet"
    feature_frame(rows, 42, drift=False).write_parquet(reference)
    logs = work / "logs"
    logs.mkdir()
    log_frame(rows, 7, FIRST_DAY, "d0").write_parquet(logs / "day0.parquet")
    template = work / "template.duckdb"
    empty = work / "empty"
    empty.mkdir()
    settings = load_settings(write_config(empty, str(empty / "*.parquet"), reference, template))
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(MONITOR), now=FIRST_DAY + timedelta(days=2))
    config = write_config(work, str(logs / "*.parquet"), reference, work / "measured.duckdb")
    return config, template


def _fresh(config: Path, template: Path, reports: Path) -> Any:
    from driftwatch.config.loading import load_settings

    settings = load_settings(config)
    shutil.copy(template, settings.storage)
    Path(str(settings.storage) + ".wal").unlink(missing_ok=True)
    shutil.rmtree(reports, ignore_errors=True)
    return replace(settings, reports_dir=reports)


def one_round(config: Path, template: Path, work: Path) -> dict[str, tuple[float, float]]:
    from driftwatch.pipeline.cycle import computed_charts, run_cycle
    from driftwatch.pipeline.ingest import ingest_predictions
    from driftwatch.pipeline.reference import cached_profiles, ensure_reference
    from driftwatch.pipeline.windows import feature_statistics
    from driftwatch.reports.site import render_reports
    from driftwatch.storage.database import Database
    from driftwatch.storage.windows import PlannedWindow, category_counts_by_segment, window_arrays

    now = FIRST_DAY + timedelta(days=2)
    out: dict[str, tuple[float, float]] = {}

    settings = _fresh(config, template, work / "reports")
    monitor = settings.monitor(MONITOR)
    with Database(settings.storage, settings.database) as db:
        t_cycle, c_cycle, summary = _timed(lambda: run_cycle(db, monitor, now=now))
        charts = computed_charts(summary.windows)  # type: ignore[attr-defined]
        profiles = cached_profiles(db, MONITOR)  # as run_monitor hands them over
        t_rep, c_rep, _ = _timed(
            lambda: render_reports(db, settings, monitor=MONITOR, computed=charts, profiles=profiles)
        )
        out["run (in process): cycle"] = (t_cycle, c_cycle)
        out["run (in process): reports from the statistics"] = (t_rep, c_rep)
        out["run (in process): cycle + reports"] = (t_cycle + t_rep, c_cycle + c_rep)
        fetched_dir = work / "reports-fetched"
        shutil.rmtree(fetched_dir, ignore_errors=True)
        fetched = replace(settings, reports_dir=fetched_dir)
        out["(info) reports fetching and sorting the window again"] = _timed(
            lambda: render_reports(db, fetched, monitor=MONITOR)
        )[:2]
        # The statistics floor on the same window's arrays, fetched untimed.
        reference = ensure_reference(db, monitor)
        start = FIRST_DAY.replace(tzinfo=None)
        end = start + timedelta(days=1)
        cur = db.cursor()
        window = PlannedWindow("*", start, end, end)
        # The window's arrays as the pipeline reads them (storage/windows.py), no segments.
        numeric = window_arrays(cur, MONITOR, window, reference.features.numeric, {}).numeric
        cats = {n: {"*": category_counts_by_segment(cur, MONITOR, window, n, ())[None]} for n in CATEGORICAL}
        out["floor: statistics (20 numeric + 2 categorical, on threads)"] = _timed(
            lambda: feature_statistics(reference.features, reference.profile, numeric, cats)
        )[:2]

    settings = _fresh(config, template, work / "reports")
    monitor = settings.monitor(MONITOR)
    with Database(settings.storage, settings.database) as db:
        features = ensure_reference(db, monitor).features
        out["floor: ingest (ingest_predictions alone)"] = _timed(
            lambda: ingest_predictions(db, monitor, features, None)
        )[:2]

    _fresh(config, template, work / "reports")
    child = run_child([str(VENV_BIN / "driftwatch"), "run", "--config", str(config)], dict(os.environ))
    out["run (process): driftwatch run"] = (child.seconds, child.cpu_seconds)
    out["run (process): peak RSS MB"] = (child.peak_mb, 0.0)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dw-run-bench-"))
    os.environ.setdefault("NUMBA_CACHE_DIR", str(work / "numba_cache"))
    info = machine()
    loads = [load()]
    print(
        f"perf_run {info['date_utc']} on {info['cpu_model']}; numpy SIMD {info['numpy_simd']}; load {loads[0]}"
    )
    try:
        config, template = _setup(work, args.rows)
        one_round(config, template, work)  # warm-up: kernels compiled/loaded, files cached
        rounds = []
        for i in range(args.repeats):
            rounds.append(one_round(config, template, work))
            loads.append(load())
            print(f"  round {i + 1}: load {loads[-1]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = {
        name: {
            "wall": [r[name][0] for r in rounds],
            "cpu": [r[name][1] for r in rounds],
            "wall_median": statistics.median(r[name][0] for r in rounds),
            "cpu_median": statistics.median(r[name][1] for r in rounds),
        }
        for name in rounds[0]
    }

    def ratio(num: str, *den: str, key: str = "wall_median") -> float:
        return rows[num][key] / sum(rows[d][key] for d in den)

    floors = (
        "floor: ingest (ingest_predictions alone)",
        "floor: statistics (20 numeric + 2 categorical, on threads)",
    )
    targets = []
    for key in ("wall_median", "cpu_median"):
        targets.append(
            {
                "target": f"driftwatch run (process) / (ingest + statistics) [{key}]",
                "measured": round(ratio("run (process): driftwatch run", *floors, key=key), 3),
                "goal": "<= 3x",
            }
        )
        targets.append(
            {
                "target": f"run (in process) / (ingest + statistics) [{key}]",
                "measured": round(ratio("run (in process): cycle + reports", *floors, key=key), 3),
                "goal": "<= 3x",
            }
        )
        targets.append(
            {
                "target": f"reports / whole in-process run [{key}]",
                "measured": round(
                    ratio(
                        "run (in process): reports from the statistics",
                        "run (in process): cycle + reports",
                        key=key,
                    ),
                    3,
                ),
                "goal": "<= 0.25",
            }
        )
    for name, row in rows.items():
        print(f"{name:70s} wall {row['wall_median']:8.3f}  cpu {row['cpu_median']:8.3f}")
    for t in targets:
        limit = 0.25 if t["goal"] == "<= 0.25" else 3.0
        print(
            f"  [{'met' if t['measured'] <= limit else 'NOT met'}] {t['target']}: {t['measured']} (goal {t['goal']})"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    out.write_text(
        json.dumps(
            {
                "machine": info,
                "load": loads,
                "uptime_after": uptime,
                "rows": rows,
                "targets": targets,
                "settings": vars(args),
            },
            indent=2,
            default=str,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
