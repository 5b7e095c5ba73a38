#!/usr/bin/env python
"""The data-quality stage's cost per window (issue 18 item 2; docs/quality.md).

A demo project (10 features: 6 numeric, 2 categorical, the model's score and decision) of `--days` daily windows
of `--rows` rows against a `--reference`-row reference is run once through `run_cycle`; then the quality stage
(`pipeline.quality.check_quality`: every check of every window computed, its storage, the cycle's ingest checks)
is run again `--repeat` times on those windows, and its CPU time (this process, every thread) is recorded with
the wall time, the load average and the CPU model. Also the checks alone (no storage) per feature and window.

Usage: `python benchmarks/quality_stage.py [--days 8] [--rows 20000] [--reference 100000] [--repeat 5]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from driftwatch.config.loading import load_settings
from driftwatch.demo import DemoSpec, write_demo_project
from driftwatch.pipeline import quality as pq
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.storage.database import Database

END = datetime(2026, 11, 1, tzinfo=UTC)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        return next((line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line), "")
    except OSError:
        return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--reference", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    spec = DemoSpec(
        days=args.days,
        rows_per_day=args.rows,
        reference_rows=args.reference,
        drift_day=3,
        missing_day=5,
        end=END,
    )
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(write_demo_project(Path(folder) / "demo", spec))
        with Database(settings.storage, settings.database) as db:
            monitor = settings.monitor("credit-default")
            summary = run_cycle(db, monitor, now=END)
            profile = ensure_reference(db, monitor).profile
            windows, features = len(summary.windows), len(summary.windows[0].overall.features)
            cpu, wall = [], []
            for _ in range(args.repeat):
                c, w = time.process_time(), time.perf_counter()
                pq.check_quality(db, monitor, profile, summary.windows, summary.ingest, summary.run_id)
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - w)
            facts = pq._ReferenceFacts(profile)
            c = time.process_time()
            for result in summary.windows:
                for fs in result.overall.features:
                    pq.feature_checks(fs, profile, facts, monitor)
            checks_only = time.process_time() - c
    print(f"CPU: {cpu_model()}; load average {os.getloadavg()[0]:.1f}")
    print(f"{windows} windows of {args.rows:,} rows, {features} features, reference {args.reference:,} rows")
    print(
        f"quality stage (checks + storage), best of {args.repeat}: CPU {1000 * min(cpu) / windows:.1f} ms per "
        f"window, wall {1000 * min(wall) / windows:.1f} ms per window"
    )
    print(f"checks alone: CPU {1000 * checks_only / windows / features:.2f} ms per feature and window")


if __name__ == "__main__":
    main()
