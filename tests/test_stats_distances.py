"""JS, Hellinger, Wasserstein-1 and the chi-squared tests, each against scipy or an obviously correct twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftwatch.kernels.distances import wasserstein1_sorted
from driftwatch.stats.chi2 import chi2_homogeneity, two_proportion_pvalue
from driftwatch.stats.distances import (
    hellinger_distance,
    js_distance,
    normalized_wasserstein,
    wasserstein_distance,
)

INF = math.inf


# ---------------------------------------------------------------- naive twins


def naive_hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """The textbook form sqrt(1 − Bhattacharyya coefficient)."""
    p = p / p.sum()
    q = q / q.sum()
    return math.sqrt(max(0.0, 1.0 - sum(math.sqrt(a * b) for a, b in zip(p, q, strict=True))))


def naive_w1(u: list[float], v: list[float]) -> float:
    """∫|F_u − F_v| with the CDFs evaluated by counting, in plain Python."""
    points = sorted(set(u) | set(v))
    total = 0.0
    for left, right in zip(points, points[1:], strict=False):
        f_u = sum(x <= left for x in u) / len(u)
        f_v = sum(x <= left for x in v) / len(v)
        total += abs(f_u - f_v) * (right - left)
    return total


count_vectors = st.integers(min_value=1, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 10_000), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
        st.lists(st.integers(0, 10_000), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
    )
)


# ---------------------------------------------------------------- Jensen–Shannon


@settings(max_examples=200, deadline=None)
@given(count_vectors)
def test_js_distance_matches_scipy(pair: tuple[list[int], list[int]]) -> None:
    ref, cur = pair
    # Compared as divergences: scipy's Σ p·log(p/m) carries ~1e-16 absolute rounding, which the square root
    # would blow up to ~1e-8 on nearly equal vectors.
    expected = jensenshannon(ref, cur, base=2) ** 2
    assert js_distance(ref, cur) ** 2 == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_js_distance_on_psi_layout_with_missing_bin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 1000, size=12)  # 11 value bins + missing bin
    cur = rng.integers(0, 1000, size=12)
    cur[-1] = 0  # no missing values in the window
    assert js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), rel=1e-9)


def test_js_distance_bounds_and_symmetry() -> None:
    assert js_distance([5, 0, 3], [10, 0, 6]) == 0.0  # same shares, different totals
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0, rel=1e-12)
    assert js_distance([3, 1, 4], [1, 5, 9]) == js_distance([1, 5, 9], [3, 1, 4])


def test_js_distance_keeps_precision_for_nearly_equal_windows() -> None:
    # JSD ≈ Σ (p − q)² / (8 ln 2 · m) up to a relative O(d²); a naive Σ p·log(p/m) loses it to cancellation.
    p = np.array([0.5, 0.5])
    q = np.array([0.5 + 1e-7, 0.5 - 1e-7])
    approx = math.sqrt(np.sum((p - q) ** 2 / ((p + q) / 2)) / (8 * math.log(2)))
    assert js_distance(p, q) == pytest.approx(approx, rel=1e-9)


@pytest.mark.parametrize(("ref", "cur"), [([0, 0], [1, 2]), ([1, 2], [0, 0]), ([], [])])
def test_js_and_hellinger_are_nan_for_an_empty_side(ref: list[int], cur: list[int]) -> None:
    assert math.isnan(js_distance(ref, cur))
    assert math.isnan(hellinger_distance(ref, cur))


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([1, 2], [1, 2, 3]), ([1, -2], [1, 2]), ([1, math.nan], [1, 2]), ([[1, 2]], [[1, 2]])],
)
def test_count_vectors_are_validated(ref: list, cur: list) -> None:
    with pytest.raises(ValueError):
        js_distance(ref, cur)
    with pytest.raises(ValueError):
        hellinger_distance(ref, cur)


# ---------------------------------------------------------------- Hellinger


@settings(max_examples=200, deadline=None)
@given(count_vectors)
def test_hellinger_matches_naive_twin(pair: tuple[list[int], list[int]]) -> None:
    ref, cur = (np.array(c, dtype=float) for c in pair)
    assert hellinger_distance(ref, cur) == pytest.approx(naive_hellinger(ref, cur), rel=1e-7, abs=1e-7)


def test_hellinger_normalisation_gives_unit_range() -> None:
    assert hellinger_distance([1, 0], [0, 1]) == pytest.approx(1.0, rel=1e-12)
    assert hellinger_distance([2, 2], [7, 7]) == 0.0
    # One bin moved from 50/50 to 100/0: H² = 1 − sqrt(0.5).
    assert hellinger_distance([1, 1], [1, 0]) == pytest.approx(math.sqrt(1 - math.sqrt(0.5)), rel=1e-12)


def test_hellinger_keeps_precision_for_nearly_equal_windows() -> None:
    p = np.array([0.5, 0.5])
    q = np.array([0.5 + 1e-9, 0.5 - 1e-9])
    # H² = ½Σ(√p − √q)² ≈ Σ (p − q)² / (8p) = 2e-18 / 4; the form 1 − Σ√(pq) rounds this to 0.
    assert hellinger_distance(p, q) == pytest.approx(math.sqrt(2e-18 / 4), rel=1e-3)


# ---------------------------------------------------------------- Wasserstein-1


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 7), (50, 3), (1000, 200), (4000, 4000)])
@pytest.mark.parametrize("integer_values", [False, True])
def test_wasserstein_matches_scipy(n: int, m: int, integer_values: bool) -> None:
    rng = np.random.default_rng(n * 31 + m)
    if integer_values:  # many ties, within and across the samples
        ref = rng.integers(-5, 6, size=n).astype(float)
        cur = rng.integers(-3, 9, size=m).astype(float)
    else:
        ref = rng.normal(size=n)
        cur = rng.normal(0.4, 1.5, size=m)
    expected = stats.wasserstein_distance(ref, cur)
    assert wasserstein_distance(np.sort(ref), cur) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=30),
    st.lists(st.integers(-20, 20), min_size=1, max_size=30),
)
def test_wasserstein_kernel_matches_naive_twin(u: list[int], v: list[int]) -> None:
    u_sorted = np.sort(np.array(u, dtype=float))
    v_sorted = np.sort(np.array(v, dtype=float))
    assert wasserstein1_sorted(u_sorted, v_sorted) == pytest.approx(naive_w1(u, v), rel=1e-12, abs=1e-12)


def test_wasserstein_equal_sizes_is_mean_gap_of_order_statistics() -> None:
    rng = np.random.default_rng(7)
    u = np.sort(rng.exponential(size=500))
    v = np.sort(rng.exponential(2.0, size=500))
    assert wasserstein_distance(u, v, current_sorted=True) == pytest.approx(np.mean(np.abs(u - v)), rel=1e-9)


@pytest.mark.parametrize("position", ["start", "middle", "end"])
@pytest.mark.parametrize("side", ["reference", "current"])
def test_wasserstein_drops_nan_anywhere(position: str, side: str) -> None:
    rng = np.random.default_rng(3)
    ref = np.sort(rng.normal(size=40))
    cur = rng.normal(1.0, size=30)
    expected = stats.wasserstein_distance(ref, cur)
    at = {"start": 0, "middle": 15, "end": None}[position]

    def with_nan(a: np.ndarray) -> np.ndarray:
        return np.append(a, np.nan) if at is None else np.insert(a, at, np.nan)

    if side == "reference":
        got = wasserstein_distance(with_nan(ref), cur)  # NaN breaks no order: it is dropped first
    else:
        got = wasserstein_distance(ref, with_nan(cur))
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("ref", "cur", "expected"),
    [
        ([1.0, INF], [1.0, 2.0], INF),  # scipy: inf
        ([-INF, 1.0], [1.0, 2.0], INF),  # scipy: inf
        ([-INF, 1.0], [2.0, INF], INF),  # scipy: inf
        ([1.0, 2.0], [5.0, INF, INF], INF),  # scipy: nan (inf − inf widths); all that mass must move
        ([1.0, INF, INF], [1.0, 2.0, INF], INF),  # shares at +inf 2/3 vs 1/3; scipy: nan
        ([1.0, INF], [2.0, INF], math.nan),  # equal shares at +inf: ∞ − ∞; scipy: nan
        ([-INF, 0.0, INF], [-INF, 5.0, INF], math.nan),
        ([INF], [INF], math.nan),
    ],
)
def test_wasserstein_infinities_follow_the_documented_rule(
    ref: list[float], cur: list[float], expected: float
) -> None:
    got = wasserstein_distance(ref, cur)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected
    assert normalized_wasserstein(ref, cur) == got or (
        math.isnan(got) and math.isnan(normalized_wasserstein(ref, cur))
    )


@pytest.mark.parametrize(("ref", "cur"), [([], [1.0]), ([1.0], []), ([math.nan], [1.0]), ([1.0], [math.nan])])
def test_wasserstein_is_nan_for_an_empty_side(ref: list[float], cur: list[float]) -> None:
    assert math.isnan(wasserstein_distance(ref, cur))
    assert math.isnan(normalized_wasserstein(ref, cur))


def test_wasserstein_rejects_unsorted_reference() -> None:
    with pytest.raises(ValueError, match="sorted"):
        wasserstein_distance([2.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="sorted"):
        wasserstein_distance([1.0, 2.0], [3.0, 1.0], current_sorted=True)


def test_normalized_wasserstein_divides_by_population_std() -> None:
    rng = np.random.default_rng(11)
    ref = np.sort(rng.normal(10.0, 3.0, size=2000))
    cur = rng.normal(11.0, 3.0, size=500)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref, ddof=0)
    assert normalized_wasserstein(ref, cur) == pytest.approx(expected, rel=1e-9)
    # Unit-free: rescaling both samples leaves it unchanged.
    assert normalized_wasserstein(ref * 1000.0, cur * 1000.0) == pytest.approx(expected, rel=1e-9)


def test_normalized_wasserstein_constant_reference() -> None:
    assert normalized_wasserstein([4.0, 4.0, 4.0], [4.0, 4.0]) == 0.0
    assert normalized_wasserstein([4.0, 4.0, 4.0], [4.0, 5.0]) == INF


# ---------------------------------------------------------------- chi-squared


@pytest.mark.parametrize("seed", range(6))
def test_chi2_homogeneity_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 15))
    ref = rng.integers(1, 5000, size=k)
    cur = rng.integers(1, 300, size=k)
    expected = stats.chi2_contingency(np.stack([ref, cur]), correction=False)
    got = chi2_homogeneity(ref, cur)
    assert got.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert got.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert got.dof == expected.dof == k - 1


def test_chi2_two_columns_has_no_yates_correction() -> None:
    ref, cur = [90, 10], [80, 20]
    expected = stats.chi2_contingency(np.array([ref, cur]), correction=False)
    got = chi2_homogeneity(ref, cur)
    assert got.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert got.pvalue != pytest.approx(stats.chi2_contingency(np.array([ref, cur]), correction=True).pvalue)


def test_chi2_keeps_unseen_and_missing_and_drops_empty_columns() -> None:
    # [a, b, c, unseen, missing]: c is absent on both sides, unseen only appears in the window.
    ref = np.array([500, 300, 0, 0, 20])
    cur = np.array([40, 30, 0, 25, 5])
    got = chi2_homogeneity(ref, cur)
    kept = np.array([[500, 300, 0, 20], [40, 30, 25, 5]])
    expected = stats.chi2_contingency(kept, correction=False)
    assert got.n_columns == 4
    assert got.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert got.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        ([10, 0, 0], [5, 0, 0]),  # one column left
        ([0, 0], [0, 0]),  # nothing at all
        ([10, 20], [0, 0]),  # empty window
        ([0, 0], [3, 4]),  # empty reference
    ],
)
def test_chi2_degenerate_tables_are_nan(ref: list[int], cur: list[int]) -> None:
    got = chi2_homogeneity(ref, cur)
    assert math.isnan(got.statistic) and math.isnan(got.pvalue)


def test_chi2_validates_inputs() -> None:
    with pytest.raises(ValueError):
        chi2_homogeneity([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        chi2_homogeneity([1, -2], [1, 2])


@pytest.mark.parametrize(
    ("ref_missing", "ref_rows", "cur_missing", "cur_rows"),
    [(10, 1000, 200, 1000), (50, 20_000, 9, 300), (0, 500, 3, 400), (7, 70, 7, 70)],
)
def test_two_proportion_pvalue_matches_2x2_chi2(
    ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int
) -> None:
    table = np.array([[ref_missing, ref_rows - ref_missing], [cur_missing, cur_rows - cur_missing]])
    expected = stats.chi2_contingency(table, correction=False).pvalue
    got = two_proportion_pvalue(ref_missing / ref_rows, ref_rows, cur_missing / cur_rows, cur_rows)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("ref_share", "cur_missing", "cur_rows"), [(0.01, 25, 1000), (0.3, 20, 100), (0.5, 50, 100)]
)
def test_two_proportion_pvalue_without_reference_rows_is_goodness_of_fit(
    ref_share: float, cur_missing: int, cur_rows: int
) -> None:
    expected = stats.chisquare(
        [cur_missing, cur_rows - cur_missing], [ref_share * cur_rows, (1 - ref_share) * cur_rows]
    ).pvalue
    got = two_proportion_pvalue(ref_share, None, cur_missing / cur_rows, cur_rows)
    assert got == pytest.approx(expected, rel=1e-9)


def test_two_proportion_pvalue_zero_variance() -> None:
    assert two_proportion_pvalue(0.0, 1000, 0.0, 100) == 1.0
    assert two_proportion_pvalue(0.0, None, 0.0, 100) == 1.0
    assert two_proportion_pvalue(0.0, None, 0.1, 100) == 0.0
    with pytest.raises(ValueError):
        two_proportion_pvalue(1.5, 10, 0.1, 10)
