"""KS gaps and Wasserstein-1 from one merge (``kernels.ks.ecdf_gaps_w1`` and ``stats.ks_w1``).

Checked against a slow twin written from the definitions (both ECDFs evaluated at every merged point by
counting, W1 integrated over the sorted union in exact rational arithmetic), against scipy
(``ks_2samp`` statistic equal to the bit, ``wasserstein_distance`` to rtol 1e-9), and against the separate
kernels the fused one replaces (``ecdf_gaps`` bit for bit, ``wasserstein1_sorted``). Every case runs through
both walks (four-chain merge, run skipping) and the dispatcher, so neither path hides behind the other.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import combinations_with_replacement

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.kernels.distances import wasserstein1_sorted
from driftwatch.kernels.ks import (
    ecdf_gaps,
    ecdf_gaps_w1,
    ecdf_gaps_w1_merge,
    ecdf_gaps_w1_runs,
    ecdf_gaps_w1_split,
    merged_order_statistic,
    mostly_tied,
)
from driftwatch.stats.distances import normalized_wasserstein, wasserstein_distance
from driftwatch.stats.feature_drift import numeric_feature_stats
from driftwatch.stats.ks import ks_2samp_sorted, sorted_valid
from driftwatch.stats.ks_w1 import ks_w1_sorted, ks_w1_trusted
from driftwatch.stats.profile import numeric_profile

HYPOTHESIS = settings(max_examples=80, deadline=None, database=None)
INF = math.inf

Kernel = Callable[[np.ndarray, np.ndarray], tuple[float, float, float]]
KERNELS: dict[str, Kernel] = {
    "dispatch": ecdf_gaps_w1,
    "merge": ecdf_gaps_w1_merge,
    "runs": ecdf_gaps_w1_runs,
}


# --- the slow twin ------------------------------------------------------------------------------------------


def naive_gaps_w1(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, Fraction | None]:
    """``(max(F_a - F_b), max(F_b - F_a), W1)`` from the definitions, for non-empty NaN-free samples.

    ``F(v) = #{x <= v} / n`` as one float division of two integers (scipy's form) at every point of the union;
    the gaps start at 0, as a KS statistic does. W1 = sum over consecutive distinct union points u < w of
    ``|F_a(u) - F_b(u)| (w - u)``, with exact fractions (floats convert exactly), so the only rounding left
    is in the kernel being checked; None when a value is infinite (W1 is then decided by the ±inf rule).
    """
    sa, sb = sorted(a), sorted(b)
    n, m = len(sa), len(sb)
    points = sorted(set(sa) | set(sb))
    a_above = 0.0
    b_above = 0.0
    for v in points:
        gap = bisect.bisect_right(sa, v) / n - bisect.bisect_right(sb, v) / m
        a_above = max(a_above, gap)
        b_above = max(b_above, -gap)
    if not all(math.isfinite(v) for v in points):
        return a_above, b_above, None
    area = Fraction(0)
    for left, right in zip(points, points[1:], strict=False):
        cdf_gap = Fraction(bisect.bisect_right(sa, left), n) - Fraction(bisect.bisect_right(sb, left), m)
        area += abs(cdf_gap) * (Fraction(right) - Fraction(left))
    return a_above, b_above, area


def scipy_raw_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """scipy's ``ks_2samp`` statistic before any snapping: its own cdf arithmetic on the concatenation."""
    data_all = np.concatenate([a, b])
    cdf1 = np.searchsorted(a, data_all, side="right") / a.size
    cdf2 = np.searchsorted(b, data_all, side="right") / b.size
    diffs = cdf1 - cdf2
    return float(max(np.clip(-np.min(diffs), 0, 1), np.max(diffs)))


def assert_like_twin(a_values: Sequence[float], b_values: Sequence[float], rel: float = 1e-12) -> None:
    """Every walk on (a, b) and (b, a) against the twin, ``ecdf_gaps`` and ``wasserstein1_sorted``."""
    a = np.sort(np.asarray(a_values, dtype=np.float64))
    b = np.sort(np.asarray(b_values, dtype=np.float64))
    a_above, b_above, area = naive_gaps_w1(a.tolist(), b.tolist())
    gaps = ecdf_gaps(a, b)
    assert max(gaps) == max(a_above, b_above) == scipy_raw_statistic(a, b)
    for name, kernel in KERNELS.items():
        for x, y, expected_gaps in ((a, b, gaps), (b, a, gaps[::-1])):
            got_a, got_b, w1 = kernel(x, y)
            # Bit for bit, including the +0.0 of "no gap that way" (never -0.0).
            assert (got_a, got_b) == expected_gaps, name
            assert math.copysign(1.0, got_a) == 1.0 and math.copysign(1.0, got_b) == 1.0, name
            if area is not None:
                assert w1 == pytest.approx(float(area), rel=rel, abs=1e-300), name
                assert w1 == pytest.approx(wasserstein1_sorted(x, y), rel=rel, abs=1e-300), name


# --- fixed cases: ties, tiny inputs, pivots ---------------------------------------------------------------

FIXED = {
    "one-row-equal": ([1.0], [1.0]),
    "one-row-apart": ([1.0], [2.0]),
    "one-row-vs-ties": ([1.0], [1.0, 1.0, 2.0]),
    "all-equal-same": ([3.0] * 7, [3.0] * 4),
    "all-equal-different": ([3.0] * 7, [5.0] * 4),
    "all-equal-vs-spread": ([2.0] * 9, [0.0, 1.0, 2.0, 3.0, 4.0]),
    "ties-across": ([0.0, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, 3.0, 3.0]),
    "disjoint": ([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0]),
    "interleaved": ([0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0]),
    "identical": ([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]),
    "one-side-of-pivots": ([0.0] * 10 + [1.0], [1.0] * 3 + [2.0] * 8),
    "negative-zero": ([-0.0, 0.0, 1.0], [0.0, -0.0]),
    "tiny-and-huge": ([1e-300, 2e-300, 1e300], [0.0, 5e-301, 1e299]),
    "subnormals": ([5e-324, 1e-323], [0.0, 5e-324, 5e-324]),
}


@pytest.mark.parametrize(("a", "b"), FIXED.values(), ids=FIXED.keys())
def test_fixed_cases_match_the_twin(a: list[float], b: list[float]) -> None:
    assert_like_twin(a, b)


def _value_splits(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Every pivot as counts ``(count_below(a, p), count_below(b, p))``, p over the values and +inf."""
    pivots = np.unique(np.concatenate([a, b, [np.inf]]))
    return sorted({(int(np.searchsorted(a, p)), int(np.searchsorted(b, p))) for p in pivots} | {(0, 0)})


@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=14),
    st.lists(st.integers(-3, 3), min_size=1, max_size=14),
)
@HYPOTHESIS
def test_every_pivot_triple_gives_the_same_result(a_list: list[int], b_list: list[int]) -> None:
    # The four-chain split with any pivots p1 <= p2 <= p3 drawn from the values, including equal pivots
    # (empty parts), pivots below everything or above everything, and parts holding one side only.
    a = np.sort(np.array(a_list, dtype=np.float64))
    b = np.sort(np.array(b_list, dtype=np.float64))
    a_above, b_above, area = naive_gaps_w1(a.tolist(), b.tolist())
    assert area is not None
    expected_gaps = ecdf_gaps(a, b)
    assert max(expected_gaps) == max(a_above, b_above)
    for (i1, j1), (i2, j2), (i3, j3) in combinations_with_replacement(_value_splits(a, b), 3):
        got = ecdf_gaps_w1_split(a, b, i1, j1, i2, j2, i3, j3)
        assert got[:2] == expected_gaps
        assert got[2] == pytest.approx(float(area), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("values", [[1.0], [2.0, 2.0, 2.0], [-1.0, 0.0, 0.0, 3.0, 3.0, 3.0, 9.0]])
def test_merged_order_statistic_is_the_sorted_union(values: list[float]) -> None:
    a = np.sort(np.array(values))
    for b_list in ([0.0], [3.0, 3.0], [-5.0, 3.0, 10.0, 10.0]):
        b = np.array(b_list)
        union = np.sort(np.concatenate([a, b]))
        assert [merged_order_statistic(a, b, t) for t in range(union.size)] == union.tolist()
        assert [merged_order_statistic(b, a, t) for t in range(union.size)] == union.tolist()


# --- randomised ---------------------------------------------------------------------------------------------


@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=40),
    st.lists(st.integers(-20, 20), min_size=1, max_size=40),
)
@HYPOTHESIS
def test_heavy_ties_match_the_twin(a: list[int], b: list[int]) -> None:
    assert_like_twin([float(x) for x in a], [float(x) for x in b])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=1, max_size=60), st.lists(finite, min_size=1, max_size=60))
@HYPOTHESIS
def test_floats_match_the_twin(a: list[float], b: list[float]) -> None:
    assert_like_twin(a, b)


@given(
    st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=30),
    st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=30),
)
@HYPOTHESIS
def test_gaps_are_exact_with_infinities_anywhere(a: list[float], b: list[float]) -> None:
    # ±inf are values for KS: the gaps must stay exact whatever W1 comes out as (the ±inf rule is applied
    # by the callers, checked below).
    a_sorted = np.sort(np.array(a))
    b_sorted = np.sort(np.array(b))
    expected = ecdf_gaps(a_sorted, b_sorted)
    for name, kernel in KERNELS.items():
        assert kernel(a_sorted, b_sorted)[:2] == expected, name


@pytest.mark.parametrize(
    ("n", "m"),
    [(1, 100_000), (100_000, 1), (2, 3), (7, 3000), (3000, 2000), (20_000, 20_000), (50_000, 1000)],
)
@pytest.mark.parametrize("kind", ["normal", "shifted", "integer", "rounded"])
def test_random_sizes_match_scipy(n: int, m: int, kind: str) -> None:
    rng = np.random.default_rng(n * 7 + m + len(kind))
    if kind == "normal":
        a, b = rng.normal(size=n), rng.normal(size=m)
    elif kind == "shifted":  # samples apart: parts of the split hold one side only
        a, b = rng.normal(size=n), rng.normal(3.0, 0.5, size=m)
    elif kind == "integer":  # long runs: the dispatcher takes the run-skipping walk
        a, b = rng.poisson(3.0, size=n).astype(float), rng.poisson(3.3, size=m).astype(float)
    else:  # short runs, near the dispatcher's threshold
        a, b = np.round(rng.normal(size=n) * 300) / 300, np.round(rng.normal(0.1, 1, size=m) * 300) / 300
    a.sort()
    b.sort()
    statistic = scipy_raw_statistic(a, b)
    expected_w1 = scipy.stats.wasserstein_distance(a, b)
    reference_w1 = wasserstein1_sorted(a, b)
    gaps = ecdf_gaps(a, b)
    for name, kernel in KERNELS.items():
        got_a, got_b, w1 = kernel(a, b)
        assert (got_a, got_b) == gaps, name
        assert max(got_a, got_b) == statistic, name
        assert w1 == pytest.approx(expected_w1, rel=1e-9), name
        assert w1 == pytest.approx(reference_w1, rel=1e-12), name
    # The run-skipping walk sums the same terms in the same order as wasserstein1_sorted.
    assert ecdf_gaps_w1_runs(a, b)[2] == reference_w1


def test_mostly_tied_probe() -> None:
    rng = np.random.default_rng(1)
    continuous = np.sort(rng.normal(size=10_000))
    counts = np.sort(rng.poisson(3.0, size=10_000).astype(float))
    assert not mostly_tied(continuous, continuous)
    assert mostly_tied(counts, counts)
    assert mostly_tied(counts, np.array([1.0]))  # a one-row side has no pair to probe
    assert not mostly_tied(np.array([1.0]), np.array([1.0]))  # nothing probed: the plain merge
    assert mostly_tied(np.full(5, 2.0), np.full(3, 2.0))  # all equal
    assert not mostly_tied(np.array([1.0, 2.0]), np.array([3.0]))


# --- the stats entry points --------------------------------------------------------------------------------


def _scipy_ks(ref: np.ndarray, cur: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns where its exact p falls back
        return float(scipy.stats.ks_2samp(ref, cur, method="auto").statistic)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (5, 9), (300, 200), (12_000, 3000)])
def test_ks_w1_sorted_equals_the_separate_paths(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    ref = np.sort(rng.normal(size=n))
    cur = np.sort(rng.normal(0.2, 1.3, size=m))
    got = ks_w1_sorted(ref, cur)
    assert got.ks == ks_2samp_sorted(ref, cur)  # D and p identical, exact and asymptotic regimes
    assert got.ks.statistic == _scipy_ks(ref, cur)
    assert got.wasserstein == pytest.approx(scipy.stats.wasserstein_distance(ref, cur), rel=1e-9)
    assert got.wasserstein == pytest.approx(wasserstein_distance(ref, cur, current_sorted=True), rel=1e-12)


@pytest.mark.parametrize(
    ("ref", "cur", "expected"),
    [
        ([1.0, INF], [1.0, 2.0], INF),
        ([-INF, 1.0], [1.0, 2.0], INF),
        ([-INF, 1.0], [2.0, INF], INF),
        ([1.0, 2.0], [5.0, INF, INF], INF),
        ([1.0, INF, INF], [1.0, 2.0, INF], INF),
        ([1.0, INF], [2.0, INF], math.nan),
        ([-INF, 0.0, INF], [-INF, 5.0, INF], math.nan),
        ([INF], [INF], math.nan),
        ([-INF, -INF], [-INF], math.nan),
    ],
)
def test_infinities_follow_the_documented_rule(ref: list[float], cur: list[float], expected: float) -> None:
    # W1 with ±inf present: inf when the samples put different shares of their mass at -inf or +inf, NaN
    # when the shares are equal (inf - inf), exactly as stats.distances.wasserstein_distance documents.
    got = ks_w1_sorted(np.array(ref), np.array(cur))
    assert got.ks == ks_2samp_sorted(np.array(ref), np.array(cur))
    separate = wasserstein_distance(ref, cur, current_sorted=True)
    if math.isnan(expected):
        assert math.isnan(got.wasserstein) and math.isnan(separate)
    else:
        assert got.wasserstein == separate == expected


@pytest.mark.parametrize(("ref", "cur"), [([], [1.0]), ([1.0], []), ([], [])])
def test_an_empty_side_gives_nan(ref: list[float], cur: list[float]) -> None:
    got = ks_w1_sorted(np.array(ref), np.array(cur))
    assert math.isnan(got.ks.statistic) and math.isnan(got.ks.pvalue) and math.isnan(got.wasserstein)
    assert (got.ks.n_reference, got.ks.n_current) == (len(ref), len(cur))


def test_ks_w1_sorted_checks_its_input() -> None:
    with pytest.raises(ValueError, match="ref_sorted"):
        ks_w1_sorted(np.array([2.0, 1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="cur_sorted"):
        ks_w1_sorted(np.array([1.0]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="one-dimensional"):
        ks_w1_sorted(np.zeros((2, 2)), np.array([1.0]))


def test_trusted_entry_on_sorted_valid_output() -> None:
    rng = np.random.default_rng(4)
    raw = np.append(rng.normal(size=500), [np.nan, np.nan])
    ref = sorted_valid(rng.normal(size=800))
    assert ks_w1_trusted(ref, sorted_valid(raw)) == ks_w1_sorted(ref, sorted_valid(raw))


# --- the pipeline's numeric statistics ---------------------------------------------------------------------

PIPELINE_CASES = {
    "normal": (lambda r: r.normal(size=4000), lambda r: r.normal(0.1, 1.1, size=2500)),
    "large-asymptotic": (lambda r: r.normal(size=30_000), lambda r: r.normal(0.02, 1, size=20_000)),
    "poisson": (lambda r: r.poisson(3.0, 5000).astype(float), lambda r: r.poisson(3.2, 4000).astype(float)),
    "with-nan": (
        lambda r: np.where(r.random(3000) < 0.1, np.nan, r.normal(size=3000)),
        lambda r: np.where(r.random(1000) < 0.3, np.nan, r.normal(size=1000)),
    ),
    "with-inf": (lambda r: np.append(r.normal(size=100), np.inf), lambda r: r.normal(size=80)),
    "constant-reference": (lambda r: np.full(50, 2.0), lambda r: np.full(30, 2.0)),
    "constant-reference-moved": (lambda r: np.full(50, 2.0), lambda r: np.full(30, 2.5)),
    "empty-window": (lambda r: r.normal(size=100), lambda r: np.full(20, np.nan)),
    "empty-reference": (lambda r: np.full(20, np.nan), lambda r: r.normal(size=100)),
    "one-row-each": (lambda r: np.array([1.0]), lambda r: np.array([3.0])),
}


@pytest.mark.parametrize("case", PIPELINE_CASES.values(), ids=PIPELINE_CASES.keys())
def test_numeric_feature_stats_equals_the_separate_statistics(
    case: tuple[Callable[[np.random.Generator], np.ndarray], Callable[[np.random.Generator], np.ndarray]],
) -> None:
    rng = np.random.default_rng(9)
    ref_values, cur_values = case[0](rng), case[1](rng)
    profile = numeric_profile("x", ref_values)
    drift = numeric_feature_stats(profile, cur_values)
    cur_sorted = sorted_valid(cur_values)
    ks = ks_2samp_sorted(profile.sorted_values, cur_sorted)
    for got, expected in (
        (drift.get("ks_statistic"), ks.statistic),
        (drift.get("ks_pvalue"), ks.pvalue),
    ):
        assert got == expected or (math.isnan(got) and math.isnan(expected))
    if profile.sorted_values.size and cur_sorted.size:
        expected_w = normalized_wasserstein(profile.sorted_values, cur_sorted, current_sorted=True)
    else:
        expected_w = math.nan  # as before: NaN for an empty side
    got_w = drift.get("wasserstein_norm")
    if math.isfinite(expected_w):
        assert got_w == pytest.approx(expected_w, rel=1e-12, abs=0.0)
    else:
        assert got_w == expected_w or (math.isnan(got_w) and math.isnan(expected_w))


def test_profile_checks_and_scales_once() -> None:
    rng = np.random.default_rng(2)
    profile = numeric_profile("x", rng.normal(5.0, 2.0, size=1000))
    checked = profile.checked_sorted_values
    assert profile.checked_sorted_values is checked  # cached: later windows skip the check
    assert profile.w1_scale == float(np.std(profile.sorted_values))  # the divisor normalized_wasserstein uses
    assert math.isnan(numeric_profile("y", np.array([1.0, np.inf])).w1_scale)  # unused: W1 is not finite

    corrupted = numeric_profile("z", np.array([1.0, 2.0, 3.0]))
    corrupted.sorted_values[:] = [3.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="ascending"):
        numeric_feature_stats(corrupted, np.array([1.0]))
