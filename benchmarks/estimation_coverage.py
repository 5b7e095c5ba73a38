"""Estimated vs realized performance for multiclass CBPE and regression DLE, with the intervals' coverage.

The numbers in docs/decision-evidence.md, "Estimation for every task". Simulated worlds with a known covariate
shift (the worlds of tests/test_performance_estimation_tasks.py): per reference seed, one calibrator / loss
model fit on 5,000 reference rows, then windows of 1,000 rows at three shift levels; for each level the share
of windows whose 95 % interval holds the realized metric, and the mean and SD of (estimate − realized)/realized.

    uv run python benchmarks/estimation_coverage.py --seeds 8 --windows 30
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from driftwatch.performance.loss_estimation import estimate_losses, fit_loss_model  # noqa: E402
from driftwatch.performance.metrics import compute_metrics  # noqa: E402
from driftwatch.performance.multiclass_estimation import (  # noqa: E402
    MULTICLASS_ESTIMATED,
    estimate_multiclass,
    fit_multiclass_calibrator,
    multiclass_estimate_intervals,
)
from test_performance_estimation_tasks import CLASSES, multiclass_world, regression_world  # noqa: E402

Tally = dict[tuple[str, float], list[tuple[bool, float]]]


def multiclass(seeds: int, windows: int) -> Tally:
    tally: Tally = defaultdict(list)
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        calibrator = fit_multiclass_calibrator(*multiclass_world(rng, 5000, np.zeros(2)), CLASSES)
        for w in range(windows):
            level = 0.9 * (w % 3)
            proba, truth = multiclass_world(rng, 1000, np.array([level, level / 2]))
            estimate = estimate_multiclass(calibrator, proba)
            intervals = multiclass_estimate_intervals(calibrator, proba, seed=w)
            realized = compute_metrics("multiclass_classification", truth, proba, classes=CLASSES)
            for m in MULTICLASS_ESTIMATED:
                hit = intervals[m].low <= realized[m] <= intervals[m].high
                tally[m, level].append((hit, (estimate[m] - realized[m]) / realized[m]))
    return tally


def regression(seeds: int, windows: int) -> Tally:
    tally: Tally = defaultdict(list)
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        model = fit_loss_model(*regression_world(rng, 5000, 0.0), seed=seed)
        for w in range(windows):
            level = 0.5 * (w % 3)
            x, pred, y = regression_world(rng, 1000, level)
            estimate = estimate_losses(model, x, pred)
            realized = compute_metrics("regression", y, pred)
            for m in ("mae", "rmse"):
                value, interval = estimate[m]
                hit = interval.low <= realized[m] <= interval.high
                tally[m, level].append((hit, (value - realized[m]) / realized[m]))
    return tally


def show(title: str, tally: Tally) -> None:
    print(
        f"\n{title}\n| metric | shift | windows | coverage | mean rel. error | SD rel. error |\n|---|---|---|---|---|---|"
    )
    for (metric, level), rows in sorted(tally.items()):
        hits = np.array([h for h, _ in rows])
        errors = np.array([e for _, e in rows])
        print(
            f"| {metric} | {level:g} | {hits.size} | {hits.mean():.3f} | {errors.mean():+.4f} | {errors.std():.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--windows", type=int, default=30)
    args = parser.parse_args()
    start = time.perf_counter()
    show("multiclass CBPE (shift of x in SD units)", multiclass(args.seeds, args.windows))
    show("regression DLE (shift of x₀ and x₁ in SD units)", regression(args.seeds, args.windows))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
