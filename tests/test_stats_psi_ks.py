"""The checked statistics layer: PSI bins and PSI, KS (against scipy and the naive twins), categorical counts."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.stats.binning import (
    missing_share,
    numeric_bin_counts,
    numeric_bin_counts_sorted,
    psi_bin_edges_sorted,
)
from driftwatch.stats.feature_drift import categorical_feature_stats
from driftwatch.stats.ks import (
    FAST_SMIRNOV_MIN_N,
    KSResult,
    ks_2samp_sorted,
    ks_pvalue,
    kstwo_sf,
    sorted_valid,
)
from driftwatch.stats.ks_w1 import ks_w1_trusted
from driftwatch.stats.profile import categorical_bins, categorical_profile, numeric_profile
from driftwatch.stats.psi import PSI_EPSILON, psi
from naive import (
    naive_category_counts,
    naive_ks_statistic,
    naive_ks_statistic_exact,
    naive_numeric_bin_counts,
    naive_psi,
    naive_quantile_linear,
    naive_reference_categories,
    numpy_psi_bin_edges,
)

HYPOTHESIS = settings(max_examples=50, deadline=None, database=None)
RNG_SEED = 20240601


def psi_bin_edges(ref: object, bins: int = 10) -> np.ndarray:
    """The edges the pipeline stores in a reference profile (``stats.profile.numeric_profile``): the
    index-based quantiles of the sorted valid values."""
    return psi_bin_edges_sorted(sorted_valid(ref), bins)


def ks_2samp(ref: np.ndarray, cur: np.ndarray) -> KSResult:
    """The KS test as the pipeline runs it (``stats.feature_drift.numeric_feature_stats``): the profile's
    checked sorted reference and the window's sorted valid values, one merge for KS and W1."""
    return ks_w1_trusted(numeric_profile("f", ref).checked_sorted_values, sorted_valid(cur)).ks


# --- PSI bins ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bins", [2, 5, 10, 20])
def test_psi_bin_edges_follow_the_definition(bins: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = rng.standard_normal(997)
    ref[[0, 10, 500]] = np.nan
    valid = ref[~np.isnan(ref)]
    probabilities = [k / bins for k in range(1, bins)]
    edges = psi_bin_edges(ref, bins)
    assert edges.dtype == np.float64
    np.testing.assert_array_equal(edges, np.unique(np.quantile(valid, probabilities)))
    # and against a hand-written type-7 quantile (interpolation may differ in the last bit)
    np.testing.assert_allclose(
        edges, [naive_quantile_linear(valid.tolist(), q) for q in probabilities], rtol=1e-14
    )


def test_psi_bin_edges_collapse_ties_and_handle_degenerate_references() -> None:
    assert psi_bin_edges(np.full(50, 3.0)).tolist() == [3.0]
    # positions 3q for q = 0.1..0.9: the first six quantiles are all 1.0 and collapse into one edge
    np.testing.assert_allclose(
        psi_bin_edges(np.array([1.0, 1.0, 1.0, 2.0])), [1.0, 1.1, 1.4, 1.7], rtol=1e-15
    )
    assert psi_bin_edges(np.repeat([0.0, 1.0], [85, 15])).tolist() == [0.0, 1.0]
    assert psi_bin_edges(np.empty(0)).size == 0
    assert psi_bin_edges(np.array([np.nan, np.nan])).size == 0
    assert psi_bin_edges(np.arange(10.0), bins=1).size == 0
    assert psi_bin_edges([None, 1.0, 2.0], bins=2).tolist() == [1.5]
    assert (
        numeric_profile("f", np.array([1.0, 1.0, 1.0, 2.0])).edges.tolist()
        == psi_bin_edges(np.array([1.0, 1.0, 1.0, 2.0])).tolist()
    )


def test_psi_bin_edges_with_infinite_reference_values_have_no_nan() -> None:
    ref = np.concatenate([[-np.inf, -np.inf], np.arange(16.0), [np.inf, np.inf]])
    edges = psi_bin_edges(ref)
    assert not np.isnan(edges).any()
    assert np.all(np.diff(edges) > 0)
    # what is kept are exactly the non-NaN quantiles
    with np.errstate(invalid="ignore"):
        literal = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    np.testing.assert_array_equal(edges, literal[~np.isnan(literal)])


@pytest.mark.parametrize("bins", [0, -3, 2.5, True])
def test_psi_bin_edges_rejects_bad_bin_counts(bins: object) -> None:
    with pytest.raises(ValueError, match="bins"):
        psi_bin_edges(np.arange(5.0), bins)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.integers(-3, 3).map(float),  # heavy ties
            st.sampled_from([0.0, -0.0]),
        ),
        max_size=60,
    ),
    bins=st.integers(1, 25),
)
def test_psi_bin_edges_sorted_equals_the_quantile_path(values: list[float], bins: int) -> None:
    """The index-based edges of sorted values equal numpy's copy-and-partition quantiles, in value."""
    column = np.array(values, dtype=np.float64)
    expected = numpy_psi_bin_edges(column, bins)
    got = psi_bin_edges_sorted(sorted_valid(column), bins)
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # ±0 compare equal: the sign of a zero edge may differ


def test_psi_bin_edges_sorted_on_large_columns_and_bad_input() -> None:
    rng = np.random.default_rng(7)
    for column in (
        rng.normal(size=100_001),
        rng.poisson(3.0, size=50_000).astype(float),
        rng.lognormal(0, 3, 9),
    ):
        for bins in (2, 10, 20, 64):
            np.testing.assert_array_equal(
                psi_bin_edges_sorted(np.sort(column), bins), numpy_psi_bin_edges(column, bins)
            )
    with pytest.raises(ValueError, match="ascending"):
        psi_bin_edges_sorted(np.array([2.0, 1.0]))
    with pytest.raises(ValueError, match="ascending"):
        psi_bin_edges_sorted(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="bins"):
        psi_bin_edges_sorted(np.arange(5.0), 0)


NUMERIC_CASES = {
    "nan-first": [np.nan, 0.5, 1.5, 2.5, 3.5],
    "nan-last": [0.5, 1.5, 2.5, 3.5, np.nan],
    "nan-many": [np.nan, 0.5, np.nan, 2.0, np.nan],
    "infs": [-np.inf, 0.0, 1.0, 2.0, 3.0, np.inf],
    "on-edges": [1.0, 2.0, 3.0, 1.0],
    "one-row": [2.2],
    "empty": [],
    "all-missing": [np.nan, np.nan],
}


@pytest.mark.parametrize("values", NUMERIC_CASES.values(), ids=NUMERIC_CASES.keys())
def test_numeric_bin_counts_match_naive(values: list[float]) -> None:
    edges = np.array([1.0, 2.0, 3.0])
    expected = naive_numeric_bin_counts(values, edges.tolist())
    counts = numeric_bin_counts(np.array(values, dtype=np.float64), edges)
    assert counts.dtype == np.int64
    assert counts.tolist() == expected
    assert counts.size == edges.size + 2
    ordered = sorted_valid(np.array(values, dtype=np.float64))
    n_missing = len(values) - ordered.size
    assert numeric_bin_counts_sorted(ordered, n_missing, edges).tolist() == expected


def test_numeric_bin_counts_against_numpy_on_reference_edges() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = rng.lognormal(size=5000)
    cur = rng.lognormal(mean=0.1, size=4000)
    cur[rng.random(cur.size) < 0.02] = np.nan
    edges = psi_bin_edges(ref)
    valid = cur[~np.isnan(cur)]
    expected = np.bincount(np.searchsorted(edges, valid, side="right"), minlength=edges.size + 1).tolist()
    assert numeric_bin_counts(cur, edges).tolist() == expected + [int(np.isnan(cur).sum())]
    # integer columns are binned as floats; a list with None counts None as missing
    assert numeric_bin_counts(np.array([0, 1, 2, 3]), np.array([1.5])).tolist() == [2, 2, 0]
    assert numeric_bin_counts([None, 1.0, 2.0], np.array([1.5])).tolist() == [1, 1, 1]


@pytest.mark.parametrize(
    ("edges", "message"),
    [(np.array([2.0, 1.0]), "increasing"), (np.array([1.0, 1.0]), "increasing"), (np.array([np.nan]), "NaN")],
)
def test_numeric_bin_counts_rejects_bad_edges(edges: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        numeric_bin_counts(np.arange(3.0), edges)


def test_numeric_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        numeric_bin_counts(np.zeros((2, 2)), np.array([1.0]))
    with pytest.raises(TypeError, match="numeric"):
        numeric_bin_counts(np.array(["1.5"]), np.array([1.0]))
    with pytest.raises(TypeError, match="numeric or None"):
        numeric_bin_counts(["1.5", None], np.array([1.0]))
    with pytest.raises(ValueError, match="ascending"):
        numeric_bin_counts_sorted(np.array([2.0, 1.0]), 0, np.array([1.5]))
    with pytest.raises(ValueError, match="n_missing"):
        numeric_bin_counts_sorted(np.array([1.0]), -1, np.array([1.5]))


# --- PSI ------------------------------------------------------------------------------------------------


def test_psi_by_hand() -> None:
    # shares ref (0.5, 0.5), cur (0.25, 0.75): (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(expected, rel=1e-15)


def test_psi_floors_empty_bins_without_renormalising() -> None:
    ref = np.array([100, 0, 0])
    cur = np.array([50, 50, 0])
    # bin 1: ref share floored to eps; bin 2: empty on both sides contributes exactly 0
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - PSI_EPSILON) * math.log(0.5 / PSI_EPSILON)
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-15)
    assert psi(ref, cur, eps=1e-3) != psi(ref, cur)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([0, 0], [1, 2]), ([1, 2], [0, 0]), ([0], [0])],
)
def test_psi_is_nan_for_an_empty_side(ref: list[int], cur: list[int]) -> None:
    assert math.isnan(psi(np.array(ref), np.array(cur)))
    assert math.isnan(naive_psi(ref, cur))


def test_psi_of_identical_shares_is_zero() -> None:
    assert psi(np.array([10, 20, 0, 5]), np.array([20, 40, 0, 10])) == 0.0


@given(
    st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=30),
    st.sampled_from([1e-4, 1e-3, 1e-6]),
)
@HYPOTHESIS
def test_psi_matches_naive(pairs: list[tuple[int, int]], eps: float) -> None:
    ref = [r for r, _ in pairs]
    cur = [c for _, c in pairs]
    expected = naive_psi(ref, cur, eps)
    got = psi(np.array(ref), np.array(cur), eps)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got >= 0.0
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("ref", "cur", "eps", "error"),
    [
        ([1, 2], [1, 2, 3], PSI_EPSILON, ValueError),
        ([1, -2], [1, 2], PSI_EPSILON, ValueError),
        ([1, np.nan], [1, 2], PSI_EPSILON, ValueError),
        ([], [], PSI_EPSILON, ValueError),
        ([1, 2], [1, 2], 0.0, ValueError),
        (["a"], ["b"], PSI_EPSILON, TypeError),
    ],
)
def test_psi_rejects_bad_input(
    ref: list[object], cur: list[object], eps: float, error: type[Exception]
) -> None:
    with pytest.raises(error):
        psi(np.array(ref), np.array(cur), eps)


def test_psi_end_to_end_on_a_shift() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = rng.standard_normal(20_000)
    edges = psi_bin_edges(ref)
    ref_counts = numeric_bin_counts(ref, edges)
    same = psi(ref_counts, numeric_bin_counts(rng.standard_normal(20_000), edges))
    shifted = psi(ref_counts, numeric_bin_counts(rng.standard_normal(20_000) + 1.0, edges))
    assert same < 0.01 < 0.25 < shifted


def test_missing_share() -> None:
    assert missing_share(np.array([3, 1, 4, 2])) == 0.2
    assert math.isnan(missing_share(np.array([0, 0, 0])))
    with pytest.raises(ValueError):
        missing_share(np.array([]))


# --- KS -------------------------------------------------------------------------------------------------


def scipy_ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """scipy's answer on the non-missing values. scipy warns where its exact p falls back; we do not."""
    ref_valid = ref[~np.isnan(ref)]
    cur_valid = cur[~np.isnan(cur)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy.stats.ks_2samp(ref_valid, cur_valid, method="auto")
    return float(result.statistic), float(result.pvalue)


def assert_ks_like_scipy(ref: np.ndarray, cur: np.ndarray) -> KSResult:
    result = ks_2samp(ref, cur)
    statistic, pvalue = scipy_ks(ref, cur)
    assert result.statistic == statistic
    assert result.pvalue == pytest.approx(pvalue, abs=1e-9, rel=0)
    assert (result.n_reference, result.n_current) == (
        int((~np.isnan(ref)).sum()),
        int((~np.isnan(cur)).sum()),
    )
    return result


def _case(
    seed: int, n1: int, n2: int, *, ties: bool = False, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if ties:
        return rng.integers(0, 6, n1).astype(np.float64), (rng.integers(0, 6, n2) + shift).astype(np.float64)
    return rng.standard_normal(n1), rng.standard_normal(n2) + shift


def _nan_at(values: np.ndarray, positions: list[int]) -> np.ndarray:
    out = values.copy()
    out[positions] = np.nan
    return out


KS_CASES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "equal-n": _case(1, 40, 40, shift=0.3),
    "equal-n-ties": _case(2, 30, 30, ties=True),
    "unequal-n": _case(3, 37, 55, shift=0.4),
    "unequal-n-ties": _case(4, 120, 45, ties=True, shift=1.0),
    "one-row-each": (np.array([1.0]), np.array([2.0])),
    "one-row-current": (np.arange(20.0), np.array([7.5])),
    "one-row-same-value": (np.array([3.0]), np.array([3.0, 3.0])),
    "constant-same": (np.full(25, 2.0), np.full(17, 2.0)),
    "constant-different": (np.full(25, 2.0), np.full(17, 3.0)),
    "nan-first": (_nan_at(_case(5, 30, 30)[0], [0]), _case(5, 30, 30)[1]),
    "nan-last-current": (_case(6, 30, 25)[0], _nan_at(_case(6, 30, 25)[1], [24])),
    "nan-scattered": (_nan_at(_case(7, 50, 60)[0], [3, 9, 27]), _nan_at(_case(7, 50, 60)[1], [0, 59])),
    "infinities": (
        np.array([-np.inf, -1.0, 0.0, 1.0, np.inf, np.inf]),
        np.array([-np.inf, -np.inf, 0.5, 2.0, np.inf]),
    ),
    # n1 = n2, D = 1/n: scipy's exact p comes out a hair above 1 and it falls back to the asymptotic p,
    # which for n = 7 is 0.99996, not 1
    "square-fallback-5": (np.arange(5.0), np.arange(5.0) + 0.5),
    "square-fallback-7": (np.arange(7.0), np.arange(7.0) + 0.5),
    "exact-boundary-10000": _case(8, 10_000, 50, shift=0.2),
    "asymptotic-10001": _case(9, 10_001, 50, shift=0.2),
    "asymptotic-large": _case(10, 20_000, 15_000, shift=0.02),
    "asymptotic-large-ties": _case(11, 30_000, 12_000, ties=True),
    "identical-large": (np.arange(12_000.0), np.arange(12_000.0)),
}


@pytest.mark.parametrize(("ref", "cur"), KS_CASES.values(), ids=KS_CASES.keys())
def test_ks_matches_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    result = assert_ks_like_scipy(ref, cur)
    assert_ks_like_scipy(cur, ref)
    if ref.size * cur.size <= 20_000:
        assert result.statistic == pytest.approx(naive_ks_statistic(ref.tolist(), cur.tolist()), abs=1e-15)


def test_ks_statistic_is_a_multiple_of_one_over_lcm_in_the_exact_regime() -> None:
    ref = np.array([0.0, 1.0, 1.0, 3.0, 5.0, 6.0])
    cur = np.array([2.0, 4.0, 4.0, 4.0, 4.0, 7.0, 8.0])
    result = assert_ks_like_scipy(ref, cur)
    lcm = 42  # lcm(6, 7)
    assert result.statistic == round(result.statistic * lcm) / lcm
    # i.e. the exact rational D, correctly rounded
    assert result.statistic == float(naive_ks_statistic_exact(ref.tolist(), cur.tolist()))


def test_ks_statistic_is_snapped_like_scipy_not_the_raw_float_gap() -> None:
    # In the exact regime scipy reports round(D * lcm) / lcm, which can differ from the float gap
    # i/n - j/m in the last bit; find such a sample and check we report scipy's value.
    rng = np.random.default_rng(5)
    for _ in range(200):
        ref, cur = rng.integers(0, 9, 7).astype(float), rng.integers(0, 9, 10).astype(float)
        raw = naive_ks_statistic(ref.tolist(), cur.tolist())
        result = assert_ks_like_scipy(ref, cur)
        assert result.statistic == float(naive_ks_statistic_exact(ref.tolist(), cur.tolist()))
        if result.statistic != raw:
            break
    else:
        pytest.fail("no sample showed scipy's snapping of D; widen the search")


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([], [1.0]), ([1.0], []), ([np.nan], [1.0, 2.0]), ([np.nan, np.nan], [np.nan]), ([], [])],
)
def test_ks_with_an_empty_valid_side_is_nan(ref: list[float], cur: list[float]) -> None:
    result = ks_2samp(np.array(ref, dtype=np.float64), np.array(cur, dtype=np.float64))
    assert math.isnan(result.statistic) and math.isnan(result.pvalue)
    assert result.n_reference == sum(1 for x in ref if not math.isnan(x))
    assert result.n_current == sum(1 for x in cur if not math.isnan(x))


def test_sorted_valid_drops_nan_and_keeps_infinities() -> None:
    values = np.array([3.0, np.nan, -np.inf, 1.0, np.nan, np.inf, 1.0])
    assert sorted_valid(values).tolist() == [-np.inf, 1.0, 1.0, 3.0, np.inf]
    assert sorted_valid(np.array([np.nan])).size == 0
    assert sorted_valid(np.array([], dtype=np.float64)).size == 0
    assert sorted_valid([2, None, 1]).tolist() == [1.0, 2.0]


def test_ks_2samp_sorted_rejects_unsorted_or_missing_values() -> None:
    with pytest.raises(ValueError, match="ref_sorted"):
        ks_2samp_sorted(np.array([2.0, 1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="cur_sorted"):
        ks_2samp_sorted(np.array([1.0]), np.array([1.0, np.nan]))


def test_ks_with_stored_sorted_reference_equals_convenience_form() -> None:
    ref, cur = _case(12, 3000, 700, shift=0.1)
    stored = sorted_valid(ref)
    assert ks_2samp_sorted(stored, sorted_valid(cur)) == ks_2samp(ref, cur)


def test_ks_pvalue_agrees_with_the_test() -> None:
    for ref, cur in [
        _case(13, 80, 50, shift=0.5),
        _case(14, 11_000, 300, shift=0.1),
        _case(15, 64, 64, ties=True),
    ]:
        result = ks_2samp(ref, cur)
        assert ks_pvalue(result.statistic, result.n_reference, result.n_current) == result.pvalue
    assert ks_pvalue(0.0, 10, 20) == 1.0
    assert ks_pvalue(1.0, 3, 3) == pytest.approx(0.1, abs=1e-15)  # 2 / C(6, 3)
    assert math.isnan(ks_pvalue(0.5, 0, 10))
    assert math.isnan(ks_pvalue(float("nan"), 10, 10))
    with pytest.raises(ValueError, match="d must be"):
        ks_pvalue(1.5, 10, 10)
    with pytest.raises(ValueError, match="n_cur"):
        ks_pvalue(0.5, 10, -1)


KSTWO_CASES = [
    (n, z_squared)
    for n in (FAST_SMIRNOV_MIN_N, FAST_SMIRNOV_MIN_N + 1, 7_919, 40_000, 100_000)
    for z_squared in (1.0, 2.19, 2.2, 2.21, 12.0, 150.0, 369.9, 370.0)
]


@pytest.mark.parametrize(("n", "z_squared"), KSTWO_CASES)
def test_kstwo_sf_matches_scipy(n: int, z_squared: float) -> None:
    d = math.sqrt(z_squared / n)
    expected = float(scipy.stats.kstwo.sf(d, n))
    fast_branch = n > FAST_SMIRNOV_MIN_N and 2.2 <= (n * d) * d < 370.0
    if fast_branch:
        assert kstwo_sf(d, n) == pytest.approx(expected, rel=1e-11, abs=1e-15)
    else:
        assert kstwo_sf(d, n) == expected


def test_kstwo_sf_leaves_scipys_own_approximation_above_a_million() -> None:
    n = 1_000_001
    d = math.sqrt(5.0 / n)
    assert kstwo_sf(d, n) == float(scipy.stats.kstwo.sf(d, n))


def test_ks_mild_drift_on_large_windows_takes_the_fast_branch_and_matches_scipy() -> None:
    ref, cur = _case(16, 30_000, 20_000, shift=0.04)
    result = assert_ks_like_scipy(ref, cur)
    n = round(30_000 * 20_000 / 50_000)
    assert n > FAST_SMIRNOV_MIN_N and 2.2 <= n * result.statistic**2 < 370.0
    assert 0.0 < result.pvalue < 0.05


@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),
)
@HYPOTHESIS
def test_ks_matches_scipy_with_heavy_ties(ref: list[int], cur: list[int]) -> None:
    assert_ks_like_scipy(np.array(ref, dtype=np.float64), np.array(cur, dtype=np.float64))


_FLOAT_OR_MISSING = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]),
)


@given(st.lists(_FLOAT_OR_MISSING, max_size=80), st.lists(_FLOAT_OR_MISSING, max_size=80))
@HYPOTHESIS
def test_ks_matches_scipy_on_floats_with_nan_and_inf(ref: list[float], cur: list[float]) -> None:
    ref_array = np.array(ref, dtype=np.float64)
    cur_array = np.array(cur, dtype=np.float64)
    if np.isnan(ref_array).all() or np.isnan(cur_array).all():
        assert math.isnan(ks_2samp(ref_array, cur_array).statistic)
    else:
        assert_ks_like_scipy(ref_array, cur_array)


# --- categorical ------------------------------------------------------------------------------------------

_CATEGORY_VALUES = st.lists(st.sampled_from(["a", "b", "c", "d", "", "nan", "null", None]), max_size=60)


@given(_CATEGORY_VALUES, st.lists(st.sampled_from(["a", "b", "c", "x", ""]), unique=True, max_size=5))
@HYPOTHESIS
def test_category_counts_match_naive(values: list[str | None], categories: list[str]) -> None:
    """The pipeline's layout of a window's GROUP BY counts (``stats.profile.categorical_bins``)."""
    expected = naive_category_counts(values, categories)
    counts = categorical_bins(tuple(categories), Counter(values))
    assert counts.dtype == np.int64 and counts.tolist() == expected


@given(_CATEGORY_VALUES)
@HYPOTHESIS
def test_reference_categories_match_naive(values: list[str | None]) -> None:
    """The reference profile the pipeline stores (``stats.profile.categorical_profile``)."""
    expected_categories, expected_counts = naive_reference_categories(values)
    profile = categorical_profile("f", Counter(values))
    assert list(profile.categories) == expected_categories
    assert profile.bin_counts.dtype == np.int64 and profile.bin_counts.tolist() == expected_counts
    assert categorical_bins(profile.categories, Counter(values)).tolist() == expected_counts


def test_categorical_psi_and_shares_end_to_end() -> None:
    """Through ``categorical_feature_stats``, the call the pipeline makes, against hand counts."""
    reference = ["a"] * 60 + ["b"] * 30 + [None] * 10
    current = ["a"] * 40 + ["b"] * 30 + ["z"] * 20 + [None] * 10
    profile = categorical_profile("f", Counter(reference))
    assert profile.categories == ("a", "b")
    assert profile.bin_counts.tolist() == [60, 30, 0, 10]
    drift = categorical_feature_stats(profile, Counter(current))
    assert drift.bin_counts.tolist() == [40, 30, 20, 10]
    assert drift.get("unseen_share") == pytest.approx(20 / 100)
    assert drift.get("missing_share_current") == pytest.approx(10 / 100)
    assert missing_share(drift.bin_counts) == pytest.approx(10 / 100)
    assert drift.get("psi") == pytest.approx(naive_psi([60, 30, 0, 10], [40, 30, 20, 10]), rel=1e-12)
    assert math.isnan(categorical_feature_stats(profile, {}).get("unseen_share"))


def test_categorical_missing_is_only_none_for_strings() -> None:
    counts = categorical_bins(("", "nan"), Counter(["", "nan", "None", "null", None]))
    assert counts.tolist() == [1, 1, 2, 1]
