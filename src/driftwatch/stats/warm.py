"""The window statistics run once on tiny inputs, so numba loads (or compiles) their kernels before real work.

Used by `driftwatch serve` (`pipeline.warmup.warm_kernels`, with the performance kernels) and `driftwatch run`
(on a thread while it ingests: `cli.run.start_warming`, which so imports the statistics alone, not the
performance modules). `compare` has its own (`comparison.load_statistics`): its arrays are read-only views of
Arrow buffers, for which numba loads other specialisations of the same kernels.
"""

from __future__ import annotations

import numpy as np

from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
from driftwatch.stats.profile import categorical_profile, numeric_profile
from driftwatch.stats.sorting import process_calibration


def warm_statistics() -> None:
    """Numeric and categorical drift through the same checked functions as a real window (the exact and the
    asymptotic KS paths), and the sort's calibration, once per process."""
    rng = np.random.default_rng(0)
    ref = rng.normal(size=400)
    cur = np.concatenate([rng.normal(0.3, 1.0, size=300), [np.nan, np.inf, -np.inf]])
    process_calibration()  # loads the radix sort kernel and chooses the sort, once per process
    numeric_feature_stats(numeric_profile("x", ref), cur)  # exact KS path (small n)
    big = rng.normal(size=12_000)
    numeric_feature_stats(numeric_profile("y", big), big[::-1] + 0.01)  # asymptotic KS path
    categorical_feature_stats(categorical_profile("c", {"a": 5, "b": 3, None: 1}), {"a": 2, "z": 1})
