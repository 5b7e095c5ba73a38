"""Features on threads: same results in the same order as inline, errors surface, small jobs stay inline."""

from __future__ import annotations

import threading
from functools import partial

import numpy as np
import pytest

from driftwatch.stats.feature_drift import numeric_feature_stats
from driftwatch.stats.parallel import MIN_ROWS_FOR_THREADS, map_features
from driftwatch.stats.profile import numeric_profile


def test_threaded_statistics_equal_inline_ones() -> None:
    rng = np.random.default_rng(3)
    rows = MIN_ROWS_FOR_THREADS
    profiles = [numeric_profile(f"x{i}", rng.normal(size=20_000)) for i in range(6)]
    windows = [rng.normal(0.05 * i, 1.0, rows) for i in range(6)]
    for w in windows[::2]:
        w[::97] = np.nan
    jobs = [partial(numeric_feature_stats, p, w) for p, w in zip(profiles, windows, strict=True)]
    inline = [job() for job in jobs]
    threaded = map_features(jobs, rows, workers=3)
    assert [d.name for d in threaded] == [f"x{i}" for i in range(6)]
    for a, b in zip(inline, threaded, strict=True):
        assert a.stats == b.stats and np.array_equal(a.bin_counts, b.bin_counts)


def test_small_jobs_run_inline_and_big_ones_on_threads() -> None:
    names = lambda: threading.current_thread().name  # noqa: E731
    assert set(map_features([names] * 4, rows=10, workers=2)) == {threading.current_thread().name}
    assert all(n.startswith("driftwatch-stats") for n in map_features([names] * 4, MIN_ROWS_FOR_THREADS, 2))


def test_an_error_in_a_job_is_raised() -> None:
    def bad() -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        map_features([lambda: 1, bad], MIN_ROWS_FOR_THREADS, workers=2)
