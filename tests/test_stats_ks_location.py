"""D's point and the window's ECDF steps, from the sorted arrays and the KS merge (``stats.ks_location``).

The report draws these; they must be the points the earlier ``np.unique`` code drew (``tests/naive.py``),
and D's point must be the one the statistic's own merge found.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.kernels.ks import ecdf_gaps_w1_at, ecdf_gaps_w1_merge_at, ecdf_gaps_w1_runs_at
from driftwatch.stats.feature_drift import numeric_feature_stats
from driftwatch.stats.ks_location import (
    ECDF_POINTS,
    ecdf_steps,
    ks_location,
    location_from_merge,
    window_ecdf,
)
from driftwatch.stats.ks_w1 import ks_w1_sorted
from driftwatch.stats.profile import numeric_profile
from naive import naive_ecdf_points, naive_ks_location

HYPOTHESIS = settings(max_examples=150, deadline=None, database=None)
INF = np.inf

# Small value sets make ties, repeated maxima of the gap and D = 0 common; infinities test the finite part.
values_strategy = st.lists(
    st.sampled_from([-INF, -2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, 5e-324, INF]) | st.floats(-5, 5),
    min_size=1,
    max_size=60,
)


def _same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[1].dtype == want[1].dtype == np.float64


@HYPOTHESIS
@given(values_strategy, st.integers(1, 12))
def test_ecdf_steps_equal_the_unique_based_points(values: list[float], max_points: int) -> None:
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    _same(ecdf_steps(ordered, max_points), naive_ecdf_points(ordered, max_points))


@pytest.mark.parametrize(
    "column",
    [
        np.random.default_rng(1).normal(size=200_000),
        np.random.default_rng(2).integers(0, ECDF_POINTS, 50_000).astype(np.float64),  # exactly 250 values
        np.random.default_rng(3).integers(0, ECDF_POINTS + 1, 50_000).astype(np.float64),  # 251
        np.round(np.random.default_rng(4).lognormal(3, 1, 100_000), 1),
        np.concatenate([[-INF] * 5, np.random.default_rng(5).normal(size=1000), [INF] * 7]),
        np.full(1000, 2.5),
        np.array([INF, INF]),
    ],
    ids=["normal", "250-values", "251-values", "rounded", "infinities", "constant", "only-inf"],
)
def test_ecdf_steps_on_window_sized_columns(column: np.ndarray) -> None:
    ordered = np.sort(column)
    _same(ecdf_steps(ordered), naive_ecdf_points(ordered))


@HYPOTHESIS
@given(values_strategy, values_strategy)
def test_ks_location_is_the_first_argmax_over_the_union(ref: list[float], cur: list[float]) -> None:
    a = np.sort(np.asarray(ref, dtype=np.float64))
    b = np.sort(np.asarray(cur, dtype=np.float64))
    got = ks_location(a, b)
    want = naive_ks_location(a, b)
    if want is None:
        assert got is None
        return
    assert got is not None
    assert (got.x, got.reference, got.current) == want


@HYPOTHESIS
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=80),
    st.lists(st.integers(0, 6), min_size=1, max_size=80),
    st.booleans(),
)
def test_both_merge_walks_record_the_point_of_d(ref: list[int], cur: list[int], spread: bool) -> None:
    """The run-skipping walk and the four chains (which record out of value order) find the same point,
    the first in value order where D is reached; `spread` breaks the reference's ties."""
    a = np.sort(np.asarray(ref, dtype=np.float64))
    if spread:
        a = a + np.arange(a.size) * 1e-3 / a.size
    b = np.sort(np.asarray(cur, dtype=np.float64))
    want = naive_ks_location(a, b)
    assert want is not None
    for kernel in (ecdf_gaps_w1_at, ecdf_gaps_w1_merge_at, ecdf_gaps_w1_runs_at):
        a_above, b_above, _, a_at, b_at = kernel(a, b)
        where = location_from_merge(a, b, a_above, b_above, a_at, b_at)
        assert (where.x, where.reference, where.current) == want, kernel
        assert where.distance == max(a_above, b_above)
    result = ks_w1_sorted(a, b)
    assert result.location is not None
    assert (result.location.x, result.location.reference, result.location.current) == want


def test_a_window_statistic_carries_d_and_its_point() -> None:
    """The point the report marks is the statistic's: |F_ref - F_cur| there is the stored KS D (bit for bit
    in the asymptotic regime, where D is not snapped), at the place the np.unique search finds."""
    rng = np.random.default_rng(11)
    profile = numeric_profile("x", rng.normal(0, 1, 40_000), 10)
    window = rng.normal(0.05, 1.1, 30_000)
    window[:50] = np.nan
    drift = numeric_feature_stats(profile, window)
    assert drift.ecdf is not None and drift.ecdf.location is not None
    where = drift.ecdf.location
    assert where.distance == drift.stats["ks_statistic"]
    current_sorted = np.sort(window[~np.isnan(window)])
    assert (where.x, where.reference, where.current) == naive_ks_location(
        profile.sorted_values, current_sorted
    )
    _same((drift.ecdf.x, drift.ecdf.y), naive_ecdf_points(current_sorted))


def test_with_an_infinite_value_the_report_point_is_over_the_finite_values() -> None:
    """The drawn ECDFs count finite values only (an infinity has no x), so D's point is found over those."""
    rng = np.random.default_rng(12)
    ref = np.sort(rng.normal(0, 1, 5000))
    cur = np.sort(np.concatenate([rng.normal(0.3, 1, 3000), [INF] * 300]))
    merged = ks_w1_sorted(ref, cur).location
    chart = window_ecdf(ref, cur, merged)
    assert chart.location is not None
    assert (chart.location.x, chart.location.reference, chart.location.current) == naive_ks_location(ref, cur)
