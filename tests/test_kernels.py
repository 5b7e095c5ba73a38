"""numba kernels against the slow twins in ``naive.py``: counting, sorted merge, exact KS distribution."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.kernels.binning import LINEAR_SCAN_MAX_EDGES, bin_counts, bin_counts_sorted
from driftwatch.kernels.ks import balanced_split, ecdf_gaps, ecdf_gaps_split, is_sorted_valid
from driftwatch.kernels.ks_exact import prob_outside_band, prob_outside_square
from driftwatch.kernels.search import count_below
from driftwatch.kernels.smirnov import log_term, smirnov_sf, stirling_remainder
from naive import naive_ks_exact_pvalue, naive_ks_statistic, naive_numeric_bin_counts, naive_smirnov_sf

HYPOTHESIS = settings(max_examples=60, deadline=None, database=None)

BASE = np.array([0.5, -1.0, 2.0, 3.0, 1.0, 1.0, -2.5, 4.0, 0.0, 2.0])
EDGES = np.array([-1.0, 0.0, 1.0, 2.0])


def _with(values: np.ndarray, positions: tuple[int, ...], fill: float) -> np.ndarray:
    out = values.copy()
    out[list(positions)] = fill
    return out


@pytest.mark.parametrize(
    "values",
    [
        BASE,
        _with(BASE, (0,), np.nan),
        _with(BASE, (9,), np.nan),
        _with(BASE, (3, 4, 5), np.nan),
        _with(BASE, (0,), np.inf),
        _with(BASE, (9,), -np.inf),
        _with(_with(BASE, (1,), np.inf), (2,), -np.inf),
        np.full(5, np.nan),
        np.empty(0),
        EDGES.copy(),  # every value exactly on an edge goes right
    ],
    ids=[
        "plain",
        "nan-first",
        "nan-last",
        "nan-middle",
        "inf-first",
        "neg-inf-last",
        "both-infs",
        "all-nan",
        "empty",
        "on-edges",
    ],
)
@pytest.mark.parametrize(
    "edges",
    [EDGES, np.empty(0), np.array([1.0]), np.array([-np.inf, 0.0, np.inf])],
    ids=["4", "0", "1", "infinite"],
)
def test_bin_counts_matches_naive(values: np.ndarray, edges: np.ndarray) -> None:
    expected = naive_numeric_bin_counts(values.tolist(), edges.tolist())
    assert bin_counts(values, edges).tolist() == expected
    valid = np.sort(values[~np.isnan(values)])
    n_missing = int(np.isnan(values).sum())
    assert bin_counts_sorted(valid, edges, n_missing).tolist() == expected


def test_bin_counts_bisect_path_matches_naive() -> None:
    rng = np.random.default_rng(1)
    edges = np.unique(rng.integers(-200, 200, LINEAR_SCAN_MAX_EDGES * 2).astype(np.float64))
    assert edges.size > LINEAR_SCAN_MAX_EDGES
    values = rng.integers(-250, 250, 3000).astype(np.float64)  # many values exactly on edges
    values[rng.random(values.size) < 0.05] = np.nan
    expected = naive_numeric_bin_counts(values.tolist(), edges.tolist())
    assert bin_counts(values, edges).tolist() == expected
    valid = np.sort(values[~np.isnan(values)])
    assert bin_counts_sorted(valid, edges, int(np.isnan(values).sum())).tolist() == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], True),
        ([1.0], True),
        ([np.nan], False),
        ([-np.inf, -np.inf, 0.0, 0.0, np.inf], True),
        ([1.0, 0.0], False),
        ([0.0, np.nan, 1.0], False),
        ([0.0, 1.0, np.nan], False),
    ],
)
def test_is_sorted_valid(values: list[float], expected: bool) -> None:
    assert is_sorted_valid(np.array(values, dtype=np.float64)) is expected


def test_count_below_is_numpy_left_search() -> None:
    data = np.array([-np.inf, 0.0, 1.0, 1.0, 2.0, np.inf])
    for bound in [-np.inf, -1.0, 0.0, 1.0, 1.5, 2.0, np.inf]:  # bounds are never NaN (edges are checked)
        assert count_below(data, bound, 0, data.size) == np.searchsorted(data, bound, side="left")


KS_PAIRS = [
    ([1.0], [1.0]),
    ([1.0], [2.0]),
    ([2.0], [1.0]),
    ([1.0, 1.0, 1.0], [1.0, 1.0]),
    ([1.0], [1.0, 1.0, 2.0]),  # ties of the last value of the shorter side must be consumed first
    ([0.0, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, 3.0, 3.0]),
    ([-np.inf, 0.0, np.inf], [-np.inf, -np.inf, 5.0]),
    ([np.inf, np.inf], [1.0, np.inf]),
    ([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0]),
    ([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]),
]


@pytest.mark.parametrize(("a", "b"), KS_PAIRS)
def test_ecdf_gaps_matches_naive(a: list[float], b: list[float]) -> None:
    a_sorted = np.sort(np.array(a))
    b_sorted = np.sort(np.array(b))
    a_above, b_above = ecdf_gaps(a_sorted, b_sorted)
    assert a_above >= 0.0 and b_above >= 0.0
    assert max(a_above, b_above) == naive_ks_statistic(a, b)
    assert ecdf_gaps(b_sorted, a_sorted) == (b_above, a_above)


def _all_splits(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    pivots = np.unique(np.concatenate([a, b, [np.inf]]))
    return [(int(np.searchsorted(a, p)), int(np.searchsorted(b, p))) for p in pivots] + [(a.size, b.size)]


@given(
    st.lists(st.integers(-4, 4), min_size=1, max_size=25),
    st.lists(st.integers(-4, 4), min_size=1, max_size=25),
)
@HYPOTHESIS
def test_ecdf_gaps_any_split_equals_naive_with_heavy_ties(a: list[int], b: list[int]) -> None:
    a_sorted = np.sort(np.array(a, dtype=np.float64))
    b_sorted = np.sort(np.array(b, dtype=np.float64))
    expected = naive_ks_statistic(a_sorted.tolist(), b_sorted.tolist())
    gaps = ecdf_gaps(a_sorted, b_sorted)
    assert max(gaps) == expected
    for i_mid, j_mid in _all_splits(a_sorted, b_sorted):
        assert ecdf_gaps_split(a_sorted, b_sorted, i_mid, j_mid) == gaps


@given(
    st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=40),
    st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=40),
)
@HYPOTHESIS
def test_ecdf_gaps_equals_naive_on_floats(a: list[float], b: list[float]) -> None:
    a_sorted = np.sort(np.array(a, dtype=np.float64))
    b_sorted = np.sort(np.array(b, dtype=np.float64))
    assert max(ecdf_gaps(a_sorted, b_sorted)) == naive_ks_statistic(a, b)


def test_balanced_split_is_a_value_split_near_the_middle() -> None:
    rng = np.random.default_rng(7)
    a = np.sort(rng.standard_normal(1001))
    b = np.sort(rng.standard_normal(500))
    i_mid, j_mid = balanced_split(a, b)
    pivot = a[i_mid]
    assert np.all(a[:i_mid] < pivot) and np.all(b[:j_mid] < pivot) and np.all(b[j_mid:] >= pivot)
    assert abs((i_mid + j_mid) - (a.size + b.size) // 2) <= 1


def test_ecdf_gaps_two_chains_on_long_inputs() -> None:
    # Long enough that both merge chains run many steps before either part is used up.
    rng = np.random.default_rng(3)
    a = np.sort(rng.standard_normal(3000))
    b = np.sort(rng.standard_normal(2000) * 1.1 + 0.05)
    cdf_a = np.searchsorted(a, np.concatenate([a, b]), side="right") / a.size
    cdf_b = np.searchsorted(b, np.concatenate([a, b]), side="right") / b.size
    diffs = cdf_a - cdf_b
    assert ecdf_gaps(a, b) == (max(diffs.max(), 0.0), max(-diffs.min(), 0.0))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_prob_outside_square_matches_path_count(n: int) -> None:
    for h in range(1, n + 1):
        expected = naive_ks_exact_pvalue(n, n, Fraction(h, n))
        assert prob_outside_square(n, h) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n1", "n2"), [(1, 2), (2, 1), (3, 5), (4, 6), (7, 3), (12, 8), (1, 9), (10, 15)])
def test_prob_outside_band_matches_path_count(n1: int, n2: int) -> None:
    g = math.gcd(n1, n2)
    lcm = n1 // g * n2
    for h in range(1, lcm + 1):
        expected = naive_ks_exact_pvalue(n1, n2, Fraction(h, lcm))
        assert prob_outside_band(n1, n2, g, h) == pytest.approx(expected, abs=1e-12)
        assert prob_outside_band(n2, n1, g, h) == prob_outside_band(n1, n2, g, h)


@pytest.mark.parametrize("k", [1, 2, 15, 16, 17, 50, 100])
def test_stirling_remainder_matches_lgamma(k: int) -> None:
    # Beyond k ~ 100 lgamma's own rounding (1e-16 of k log k) swamps the remainder, so stop there.
    expected = math.lgamma(k + 1) - ((k + 0.5) * math.log(k) - k + 0.5 * math.log(2 * math.pi))
    assert stirling_remainder(k) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("n", "x"),
    [
        (2, Fraction(1, 3)),
        (3, Fraction(1, 2)),
        (7, Fraction(1, 7)),
        (20, Fraction(3, 20)),
        (40, Fraction(1, 5)),
        (60, Fraction(7, 100)),
        (90, Fraction(1, 90)),
        (90, Fraction(89, 90)),
    ],
)
def test_smirnov_sf_matches_the_exact_series(n: int, x: Fraction) -> None:
    assert smirnov_sf(n, float(x)) == pytest.approx(naive_smirnov_sf(n, x), rel=1e-12, abs=1e-300)


SMIRNOV_CASES = [
    (n, z_squared)
    for n in (141, 1_000, 4_097, 20_000, 65_536)
    for z_squared in (0.05, 1.0, 2.2, 7.5, 40.0, 369.0)
    if z_squared < n  # x = sqrt(z^2 / n) < 1
]


@pytest.mark.parametrize(("n", "z_squared"), SMIRNOV_CASES)
def test_smirnov_sf_matches_scipy_for_large_n(n: int, z_squared: float) -> None:
    # Coarse trapezoid grids are used once j_last >= 64; scipy sums the series exactly.
    x = math.sqrt(z_squared / n)
    assert smirnov_sf(n, x) == pytest.approx(scipy.special.smirnov(n, x), rel=1e-11, abs=1e-300)


def test_smirnov_terms_are_unimodal() -> None:
    # The peak search bisects on the sign of consecutive differences, which needs a single maximum.
    for n, z_squared in [(300, 2.2), (5_000, 2.2), (5_000, 300.0), (50, 3.0)]:
        x = math.sqrt(z_squared / n)
        j_last = n - 1 - math.floor(n * x)
        logs = np.array([log_term(n, j, x) for j in range(1, j_last + 1)])
        rises = np.diff(logs) > 0
        assert not np.any(rises[1:] & ~rises[:-1]), "a rise after a fall"
