"""Multiclass CBPE as the scheduled pipeline runs it: the stored estimates' intervals against the realized
metrics the same pipeline stores once labels arrive. The numbers in docs/decision-evidence.md, "Multiclass
CBPE through the pipeline".

The world of tests/test_multiclass_estimation_pipeline.py: three classes, true P(y | x) = softmax(Wx), the model
reports the overconfident softmax(1.6·Wx) and decides the arg-max. Per seed, a project on real files: a reference
of 5,000 rows (x ~ N(0, 1.5²)), `--windows` daily prediction files of 1,500 rows whose x spread cycles through
1.5 (as the reference), 1.0 and 0.5 (covariate shift toward the classes' meeting point: the accuracy falls),
their labels; one `run_cycle` on a real DuckDB file, then the stored rows are read back.

    uv run python benchmarks/multiclass_pipeline_coverage.py --seeds 10 --windows 30
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from driftwatch.config.loading import load_settings  # noqa: E402
from driftwatch.pipeline.cycle import run_cycle  # noqa: E402
from driftwatch.storage.database import Database  # noqa: E402
from driftwatch.storage.performance_results import performance_results  # noqa: E402
from test_multiclass_estimation_pipeline import START, write_project  # noqa: E402

SPREADS = (1.5, 1.0, 0.5)
METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
Tally = dict[tuple[str, float], list[tuple[bool, float, float, float]]]  # hit, estimate, realized, width


def one_seed(seed: int, windows: int, tally: Tally) -> float:
    spreads = [SPREADS[d % len(SPREADS)] for d in range(windows)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, _realized = write_project(root, seed=seed, days=windows, spreads=spreads)
        for day_file in (root / "later").iterdir():
            day_file.rename(root / "labels" / day_file.name)
        settings = load_settings(config)
        started = time.perf_counter()
        with Database(settings.storage, settings.database) as db:
            run_cycle(db, settings.monitor("m"), now=START + timedelta(days=windows + 3))
            rows = performance_results(db.cursor(), monitor="m")
        seconds = time.perf_counter() - started
    stored = {(r["metric"], r["window_start"]): r for r in rows if r["segment"] == "*"}
    for day in range(windows):
        start = START + timedelta(days=day)
        key = start.isoformat().replace("+00:00", "Z")
        for metric in METRICS:
            realized = stored[(metric, key)]["value"]
            estimate = stored[("estimated_" + metric, key)]
            hit = estimate["low"] <= realized <= estimate["high"]
            width = estimate["high"] - estimate["low"]
            tally[metric, spreads[day]].append((hit, estimate["value"], realized, width))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--windows", type=int, default=30)
    args = parser.parse_args()
    tally: Tally = defaultdict(list)
    cycles = [one_seed(seed, args.windows, tally) for seed in range(args.seeds)]
    print(
        "| metric | x spread (SD) | windows | coverage | mean estimate | mean realized | mean interval width |"
    )
    print("|---|---|---|---|---|---|---|")
    for metric in METRICS:
        for spread in SPREADS:
            rows = tally[metric, spread]
            hits, est, real, width = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
            print(
                f"| {metric} | {spread:g} | {hits.size} | {hits.mean():.3f} | {est.mean():.4f} | "
                f"{real.mean():.4f} | {width.mean():.4f} |"
            )
    all_hits = np.array([h for rows in tally.values() for h, *_ in rows], dtype=float)
    print(f"\noverall coverage {all_hits.mean():.3f} over {all_hits.size} (window, metric) pairs")
    print(
        f"run_cycle: {np.mean(cycles):.1f} s mean per {args.windows}-window cycle (ingest, drift, labels, estimates)"
    )


if __name__ == "__main__":
    main()
