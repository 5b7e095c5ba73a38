"""Mergeable partials (stats.partials): any partitioning of a window merges to the single-node result.

The oracle is the in-memory path the pipeline runs (`numeric_feature_stats` / `categorical_feature_stats`,
themselves tested against scipy and tests/naive.py): D, p, PSI, JS, Hellinger, χ² and the shares must be equal
bit for bit, whatever the split points, chunk order or merge tree. The partial's counts are checked against
the literal twin `naive_ks_counts`, and the Wasserstein estimate against the exact integral
(`naive_wasserstein`) within the bound the partial reports.
"""

from __future__ import annotations

import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftwatch.stats.distances import normalize_w1
from driftwatch.stats.feature_drift import (
    FeatureDrift,
    categorical_feature_stats,
    numeric_feature_stats,
)
from driftwatch.stats.partials import (
    Accumulator,
    CategoricalPartial,
    NumericPartial,
    Partial,
    categorical_partial,
    empty_partial,
    finish,
    ks_counts,
    merge,
    merge_all,
    numeric_layout,
    numeric_partial,
    w1_from_counts,
)
from driftwatch.stats.profile import FeatureProfile, categorical_profile, numeric_profile
from naive import naive_ks_counts, naive_wasserstein

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, 1.0, 2.0]
values_strategy = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3)),
    max_size=40,
).map(lambda xs: np.array(xs, dtype=np.float64))
finite_strategy = st.lists(
    st.one_of(st.integers(-4, 4), st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, 5e-324])),
    max_size=40,
).map(lambda xs: np.array(xs, dtype=np.float64))


def same(a: float, b: float) -> bool:
    """Equal bit for bit (NaN equals NaN)."""
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def assert_same_result(got: FeatureDrift, want: FeatureDrift, *, exact_w1: bool = False) -> None:
    assert got.rows == want.rows and got.reference_rows == want.reference_rows
    assert np.array_equal(got.bin_counts, want.bin_counts)
    for name, value in want.stats.items():
        if name == "wasserstein_norm" and not exact_w1:
            continue
        assert same(got.stats[name], value), (name, got.stats[name], value)
    assert set(got.stats) == set(want.stats)


def chunks(values: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    return np.split(values, sorted(min(c, values.size) for c in cuts))


def tree_merge(profile: FeatureProfile, parts: list[Partial]) -> Partial:
    """Merge pairwise, level by level (a different bracketing than a left fold)."""
    items = list(parts)
    while len(items) > 1:
        pairs = range(0, len(items), 2)
        items = [merge(items[k], items[k + 1]) if k + 1 < len(items) else items[k] for k in pairs]
    return items[0] if items else empty_partial(profile)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reference=values_strategy,
    current=values_strategy,
    cuts=st.lists(st.integers(0, 40), max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_partitioning_gives_the_single_node_result(
    reference: np.ndarray, current: np.ndarray, cuts: list[int], seed: int
) -> None:
    profile = numeric_profile("x", reference)
    want = numeric_feature_stats(profile, current)
    parts = [numeric_partial(profile, chunk) for chunk in chunks(current, cuts)]
    rng = np.random.default_rng(seed)
    linear = merge_all(profile, [parts[i] for i in rng.permutation(len(parts))])
    tree = tree_merge(profile, [parts[i] for i in rng.permutation(len(parts))])
    for merged in (linear, tree):
        assert isinstance(merged, NumericPartial)
        assert merged.ks_counts.tolist() == naive_ks_counts(reference.tolist(), current.tolist())
        assert_same_result(finish(merged, profile), want)
    # The merged partial, and so everything finished from it, does not depend on the partitioning.
    assert isinstance(tree, NumericPartial)
    assert same(
        finish(linear, profile).get("wasserstein_norm"), finish(tree, profile).get("wasserstein_norm")
    )


@settings(max_examples=200, deadline=None)
@given(reference=finite_strategy, current=finite_strategy, cuts=st.lists(st.integers(0, 40), max_size=4))
def test_wasserstein_estimate_is_within_its_bound_of_the_exact_integral(
    reference: np.ndarray, current: np.ndarray, cuts: list[int]
) -> None:
    profile = numeric_profile("x", reference)
    merged = merge_all(profile, [numeric_partial(profile, c) for c in chunks(current, cuts)])
    got = finish(merged, profile)
    if reference.size == 0 or current.size == 0:
        assert math.isnan(got.get("wasserstein_norm"))
        return
    exact = naive_wasserstein(reference.tolist(), current.tolist())
    assert isinstance(merged, NumericPartial)
    n, m = int(np.count_nonzero(~np.isnan(reference))), int(np.count_nonzero(~np.isnan(current)))
    estimate, bound = w1_from_counts(numeric_layout(profile), merged, n, m)
    assert bound >= 0.0
    # Float rounding of the sums on top of the bound: a few ulps of the terms, and subnormal underflow.
    slack = Fraction(1e-9) * (exact + Fraction(bound)) + Fraction(1e-320)
    assert abs(Fraction(estimate) - exact) <= Fraction(bound) + slack
    # finish reports exactly these, normalised by the reference's standard deviation.
    assert same(got.get("wasserstein_norm"), normalize_w1(estimate, profile.w1_scale))


def test_wasserstein_is_exact_when_every_current_value_is_a_reference_value() -> None:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 20, 5000).astype(float)
    current = rng.integers(0, 20, 3000).astype(float)
    profile = numeric_profile("x", reference)
    merged = merge_all(profile, [numeric_partial(profile, c) for c in np.array_split(current, 7)])
    got, want = finish(merged, profile), numeric_feature_stats(profile, current)
    assert got.wasserstein_bound == 0.0
    assert got.get("wasserstein_norm") == pytest.approx(want.get("wasserstein_norm"), rel=1e-12)


@pytest.mark.parametrize("n_current", [5_000, 30_000])  # exact and asymptotic p-value regimes
def test_large_windows_in_many_chunks(n_current: int) -> None:
    rng = np.random.default_rng(n_current)
    reference = np.concatenate([rng.normal(size=20_000), np.round(rng.normal(size=5_000), 1), [np.nan] * 30])
    current = np.concatenate(
        [rng.normal(0.05, 1.1, n_current), np.round(rng.normal(size=500), 1), [np.nan] * 9]
    )
    rng.shuffle(current)
    profile = numeric_profile("x", reference)
    want = numeric_feature_stats(profile, current)
    cuts = sorted(rng.integers(0, current.size, 25).tolist())
    merged = merge_all(profile, [numeric_partial(profile, c) for c in np.split(current, cuts)])
    got = finish(merged, profile)
    assert_same_result(got, want)
    assert got.wasserstein_bound is not None
    assert abs(got.get("wasserstein_norm") - want.get("wasserstein_norm")) <= got.wasserstein_bound * (
        1 + 1e-9
    )


def test_chunk_counts_against_few_and_many_reference_values() -> None:
    """Few distinct values against a big chunk (a walk), many against a small one (galloping)."""
    rng = np.random.default_rng(5)
    for k, n in ((3, 1000), (1000, 3), (500, 500), (1, 0), (0, 10)):
        distinct = np.unique(rng.integers(-50, 50, k).astype(float))
        current = np.sort(rng.integers(-60, 60, n).astype(float))
        assert ks_counts(distinct, current).tolist() == naive_ks_counts(distinct.tolist(), current.tolist())


@settings(max_examples=150, deadline=None)
@given(
    reference=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "1", "2", ""])), max_size=30),
    current=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "d", "1", "3", "true"])), max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=5),
)
def test_categorical_partitions_give_the_single_node_result(
    reference: list[str | None], current: list[str | None], cuts: list[int]
) -> None:
    def counts(values: list[str | None]) -> dict[str | None, int]:
        out: dict[str | None, int] = {}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return out

    profile = categorical_profile("c", counts(reference))
    want = categorical_feature_stats(profile, counts(current))
    bounds = [0, *sorted(min(c, len(current)) for c in cuts), len(current)]
    parts = [
        categorical_partial(profile, counts(current[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    got = finish(merge_all(profile, reversed(parts)), profile)
    assert_same_result(got, want, exact_w1=True)
    assert got.type_change == want.type_change
    accumulator = Accumulator(profile)
    for a, b in zip(bounds, bounds[1:], strict=False):
        accumulator.add_value_counts(counts(current[a:b]))
    streamed = finish(accumulator.partial(), profile)
    assert_same_result(streamed, want, exact_w1=True)
    assert streamed.type_change == want.type_change
    with pytest.raises(ValueError, match="handed over"):
        accumulator.add_value_counts({"a": 1})
    with pytest.raises(ValueError, match="categorical"):
        Accumulator(profile).add_values(np.array([1.0]))


def test_partials_pickle_and_refuse_mismatched_merges() -> None:
    reference = np.array([1.0, 2.0, 2.0, 3.0])
    profile = numeric_profile("x", reference)
    part = numeric_partial(profile, np.array([2.0, 2.5, np.nan, np.inf]))
    copy = pickle.loads(pickle.dumps(part))
    assert (
        copy.ks_counts.tolist() == part.ks_counts.tolist()
        and copy.bin_counts.tolist() == part.bin_counts.tolist()
    )
    assert_same_result(finish(merge(copy, part), profile), finish(merge(part, part), profile), exact_w1=True)
    other = numeric_partial(numeric_profile("x", np.array([1.0, 5.0, 7.0])), np.array([1.0]))
    with pytest.raises(ValueError, match="different reference profiles"):
        merge(part, other)
    with pytest.raises(ValueError, match="different features"):
        merge(part, numeric_partial(numeric_profile("y", reference), np.array([1.0])))
    categorical = CategoricalPartial("x", {"a": 1})
    with pytest.raises(ValueError, match="numeric and a categorical"):
        merge(part, categorical)
    with pytest.raises(ValueError, match="does not match"):
        finish(categorical, profile)
    with pytest.raises(ValueError, match="another reference profile"):
        finish(other, profile)


def test_layout_is_computed_once_per_profile() -> None:
    profile = numeric_profile("x", np.array([3.0, 1.0, 1.0, -0.0, 0.0, np.inf]))
    layout = numeric_layout(profile)
    assert layout is numeric_layout(profile)
    assert layout.distinct.tolist() == [0.0, 1.0, 3.0, math.inf]
    assert layout.cumulative.tolist() == [2, 4, 5, 6]
    assert (layout.negative_infinities, layout.positive_infinities) == (0, 1)


def test_chart_data_is_the_current_ecdf_at_reference_values() -> None:
    """A window from partials carries its ECDF (finite values) at reference values, so a window page draws it
    without fetching the window's rows."""
    rng = np.random.default_rng(11)
    reference = np.concatenate([rng.normal(size=3000), [np.inf, -np.inf, np.nan]])
    current = np.concatenate([rng.normal(0.4, 1.0, 2000), [np.inf, np.nan, np.nan]])
    profile = numeric_profile("x", reference)
    got = finish(
        merge_all(profile, [numeric_partial(profile, c) for c in np.array_split(current, 3)]), profile
    )
    assert got.ecdf is not None and got.ecdf.location is not None
    finite_cur = current[np.isfinite(current)]
    finite_ref = reference[np.isfinite(reference)]
    assert 2 <= got.ecdf.x.size <= 250 and np.all(np.diff(got.ecdf.x) > 0)
    assert set(got.ecdf.x.tolist()) <= set(finite_ref.tolist())
    for x, y in zip(got.ecdf.x, got.ecdf.y, strict=True):
        assert y == np.count_nonzero(finite_cur <= x) / finite_cur.size
    where = got.ecdf.location
    assert where.reference == np.count_nonzero(finite_ref <= where.x) / finite_ref.size
    assert where.current == np.count_nonzero(finite_cur <= where.x) / finite_cur.size
    # The marker is the largest gap among the reference values, within one step of the exact D.
    assert abs(where.distance - got.get("ks_statistic")) <= 2 / finite_cur.size + 2 / finite_ref.size
