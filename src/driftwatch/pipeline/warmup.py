"""Load (or compile) every numba kernel once, on tiny inputs, before the first real cycle needs it.

numba compiles a kernel on its first call (seconds) and caches the machine code on disk (`cache=True`), so
later processes only load it (tens of milliseconds). `driftwatch serve` calls `warm_kernels` at start, so a
scheduled cycle or an API "run now" never pays either cost in the middle of its work.
"""

from __future__ import annotations

import time

import numpy as np

from driftwatch.performance.estimation import estimate_performance, fit_calibrator
from driftwatch.performance.metrics import compute_metrics
from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
from driftwatch.stats.profile import categorical_profile, numeric_profile
from driftwatch.stats.sorting import process_calibration


def warm_kernels() -> float:
    """Run every kernel once on small inputs; returns the seconds it took."""
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    warm_statistics()
    labels = (rng.random(400) < 0.3).astype(np.int64)
    scores = rng.random(400)
    compute_metrics("binary_classification", labels, scores)
    estimate_performance(fit_calibrator(scores, labels), scores)
    return time.perf_counter() - started


def warm_statistics() -> None:
    """The window statistics' kernels (numeric and categorical drift, the sort's calibration) run once."""
    rng = np.random.default_rng(0)
    ref = rng.normal(size=400)
    cur = np.concatenate([rng.normal(0.3, 1.0, size=300), [np.nan, np.inf, -np.inf]])
    process_calibration()  # loads the radix sort kernel and chooses the sort, once per process
    numeric_feature_stats(numeric_profile("x", ref), cur)  # exact KS path (small n)
    big = rng.normal(size=12_000)
    numeric_feature_stats(numeric_profile("y", big), big[::-1] + 0.01)  # asymptotic KS path
    categorical_feature_stats(categorical_profile("c", {"a": 5, "b": 3, None: 1}), {"a": 2, "z": 1})
