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
from driftwatch.stats.warm import warm_statistics


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
