"""Thresholds learned from splits of the reference: calibration, no self-comparison, recalibration rule."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from driftwatch.stats.distances import js_distance
from driftwatch.stats.reference_thresholds import learn_threshold, needs_recalibration


def ks_d(ref_sorted: NDArray, sample: NDArray) -> float:
    """Two-sample KS D in O(n log m): F_cur only jumps at sample points, so the supremum sits at a sample
    point or just before one, where F_ref is read by binary search."""
    s = np.sort(sample)
    n = s.size
    at = np.searchsorted(ref_sorted, s, side="right") / ref_sorted.size
    before = np.searchsorted(ref_sorted, s, side="left") / ref_sorted.size
    k = np.arange(1, n + 1)
    # Right at s_k the window CDF is k/n; just before it, (k − 1)/n (ties in s only shrink these gaps).
    return float(max(np.max(np.abs(at - k / n)), np.max(np.abs(before - (k - 1) / n))))


@pytest.mark.parametrize("seed", range(3))
def test_ks_twin_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.sort(rng.normal(size=3000))
    cur = rng.normal(0.2, size=150)
    assert ks_d(ref, cur) == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


def test_false_alarm_rate_on_stationary_data_is_one_minus_q() -> None:
    rng = np.random.default_rng(2024)
    reference = np.sort(rng.normal(size=20_000))
    learned = learn_threshold(
        reference, 100, ks_d, statistic_name="ks_statistic", n_splits=1000, quantile=0.95, seed=1
    )
    assert (learned.n_samples, learned.window_size, learned.reference_size) == (1000, 100, 20_000)
    windows = rng.normal(size=(4000, 100))
    alarms = np.mean([ks_d(reference, w) > learned.value for w in windows])
    # Expected 0.05. Standard errors: the learned quantile ±0.007 (1000 splits), the alarm rate ±0.0035
    # (4000 windows); the bounds are about 4 combined standard errors either side.
    assert 0.02 <= alarms <= 0.08


def test_false_alarm_rate_for_a_categorical_feature() -> None:
    rng = np.random.default_rng(99)
    categories = np.array(["a", "b", "c", "d"])
    shares = [0.5, 0.3, 0.15, 0.05]
    reference = rng.choice(categories, size=20_000, p=shares)

    def js(rest: NDArray, sample: NDArray) -> float:
        counts = [np.searchsorted(categories, a, side="left") for a in (rest, sample)]
        return js_distance(*(np.bincount(c, minlength=categories.size) for c in counts))

    learned = learn_threshold(reference, 200, js, statistic_name="js_distance", n_splits=1000, quantile=0.9)
    windows = rng.choice(categories, size=(3000, 200), p=shares)
    alarms = np.mean([js(reference, w) > learned.value for w in windows])
    # Expected 0.10, ±0.0095 from the quantile and ±0.0055 from the windows.
    assert 0.06 <= alarms <= 0.14


def test_a_sample_is_never_compared_with_itself() -> None:
    reference = np.arange(10_000, dtype=np.float64)  # every value unique, so overlap is visible
    seen: list[tuple[NDArray, NDArray]] = []

    def overlap(rest: NDArray, sample: NDArray) -> float:
        seen.append((rest, sample))
        return float(np.isin(sample, rest).mean())

    learned = learn_threshold(reference, 1000, overlap, statistic_name="overlap", n_splits=25)
    # Any self-comparison (rest including the sample) would put some overlap into the quantile.
    assert learned.value == 0.0
    assert learned.n_samples == 25
    for rest, sample in seen:
        assert rest.size + sample.size == reference.size
        assert np.array_equal(np.sort(np.concatenate([rest, sample])), reference)
        # Both keep the reference's (sorted) order.
        assert np.all(np.diff(rest) > 0) and np.all(np.diff(sample) > 0)
    # The first round cuts the reference into 10 disjoint samples.
    first_round = np.concatenate([sample for _, sample in seen[:10]])
    assert np.unique(first_round).size == 10_000


def test_reference_is_capped_to_a_seeded_subset() -> None:
    reference = np.arange(50_000, dtype=np.float64)
    sizes: list[int] = []

    def size(rest: NDArray, sample: NDArray) -> float:
        sizes.append(rest.size + sample.size)
        return float(np.mean(sample))

    learned = learn_threshold(
        reference, 100, size, statistic_name="mean", n_splits=20, max_reference_size=5_000, seed=3
    )
    assert learned.reference_size == 5_000
    assert set(sizes) == {5_000}
    again = learn_threshold(
        reference, 100, size, statistic_name="mean", n_splits=20, max_reference_size=5_000, seed=3
    )
    assert again == learned
    other = learn_threshold(
        reference, 100, size, statistic_name="mean", n_splits=20, max_reference_size=5_000, seed=4
    )
    assert other.value != learned.value


def test_nan_results_are_left_out_and_counted() -> None:
    calls = iter(range(1000))

    def every_other(rest: NDArray, sample: NDArray) -> float:
        return float("nan") if next(calls) % 2 else 1.0

    learned = learn_threshold(np.zeros(1000), 10, every_other, statistic_name="x", n_splits=40)
    assert (learned.value, learned.n_samples) == (1.0, 20)
    with pytest.raises(ValueError, match="NaN on every split"):
        learn_threshold(np.zeros(1000), 10, lambda r, s: float("nan"), statistic_name="x", n_splits=5)


@pytest.mark.parametrize(
    "bad",
    [
        {"window_size": 0},
        {"window_size": 501},  # more than half of the 1000-row reference
        {"quantile": 1.0},
        {"quantile": 0.0},
        {"n_splits": 0},
    ],
)
def test_learn_threshold_validates(bad: dict) -> None:
    args = {"window_size": 100} | bad
    with pytest.raises(ValueError):
        learn_threshold(np.zeros(1000), statistic=lambda r, s: 0.0, statistic_name="x", **args)


@pytest.mark.parametrize(
    ("learned", "new", "tolerance", "expected"),
    [
        (1000, 1000, 1.25, False),
        (1000, 800, 1.25, False),
        (1000, 1250, 1.25, False),
        (1000, 799, 1.25, True),
        (1000, 1251, 1.25, True),
        (1000, 500, 1.25, True),
        (1000, 0, 1.25, True),
        (1000, 500, 2.0, False),
        (1000, 2001, 2.0, True),
    ],
)
def test_needs_recalibration(learned: int, new: int, tolerance: float, expected: bool) -> None:
    assert needs_recalibration(learned, new, tolerance) is expected


def test_needs_recalibration_default_and_validation() -> None:
    assert needs_recalibration(1000, 1300) is True
    assert needs_recalibration(1000, 1200) is False
    with pytest.raises(ValueError):
        needs_recalibration(1000, 900, tolerance=0.5)
    with pytest.raises(ValueError):
        needs_recalibration(0, 900)


def test_counts_learning_has_the_same_null_as_splitting_the_rows() -> None:
    """A hypergeometric draw of bin counts is what a random split of the expanded rows gives: the two
    learners' null values must be indistinguishable (two-sample KS on 2,000 values each)."""
    from driftwatch.stats.psi import psi
    from driftwatch.stats.reference_thresholds import learn_counts_threshold

    counts = np.array([5000, 2500, 1200, 600, 300, 150, 80, 40, 0, 130])
    codes = np.repeat(np.arange(counts.size), counts)

    def on_rows(rest: NDArray, sample: NDArray) -> float:
        return psi(np.bincount(rest, minlength=counts.size), np.bincount(sample, minlength=counts.size))

    seen_rows: list[float] = []
    seen_counts: list[float] = []

    def record(into: list[float], fn):  # type: ignore[no-untyped-def]
        def wrapped(a: NDArray, b: NDArray):  # type: ignore[no-untyped-def]
            value = fn(a, b)
            into.extend(np.atleast_1d(value).tolist())
            return value

        return wrapped

    by_rows = learn_threshold(
        codes, 250, record(seen_rows, on_rows), statistic_name="psi", n_splits=2000, seed=3
    )

    def rows_psi(rest: NDArray, sample: NDArray) -> NDArray:
        return np.array([psi(r, c) for r, c in zip(rest, sample, strict=True)])

    by_counts = learn_counts_threshold(
        counts, 250, record(seen_counts, rows_psi), statistic_name="psi", n_splits=2000, seed=4
    )
    assert stats.ks_2samp(seen_rows, seen_counts).pvalue > 0.001
    assert by_counts.value == pytest.approx(by_rows.value, rel=0.15)
    assert (by_counts.window_size, by_counts.reference_size, by_counts.n_samples) == (250, counts.sum(), 2000)


def test_counts_learning_compares_each_sample_with_its_complement() -> None:
    from driftwatch.stats.reference_thresholds import learn_counts_threshold

    counts = np.array([40, 0, 25, 35])
    pairs: list[tuple[NDArray, NDArray]] = []

    def keep(rest: NDArray, sample: NDArray) -> NDArray:
        pairs.extend(zip(rest.copy(), sample.copy(), strict=True))
        return np.zeros(len(rest))

    learn_counts_threshold(counts, 30, keep, statistic_name="psi", n_splits=50)
    for rest, sample in pairs:
        assert sample.sum() == 30 and np.all(sample >= 0) and np.all(rest >= 0)
        assert np.array_equal(rest + sample, counts)
        assert sample[1] == 0  # an empty reference bin is never drawn


@pytest.mark.parametrize("bad", [{"window_size": 0}, {"window_size": 51}, {"quantile": 1.0}, {"n_splits": 0}])
def test_learn_counts_threshold_validates(bad: dict) -> None:
    from driftwatch.stats.judgement import psi_rows
    from driftwatch.stats.reference_thresholds import learn_counts_threshold

    args = {"window_size": 10, "quantile": 0.99, "n_splits": 10, **bad}
    with pytest.raises(ValueError):
        learn_counts_threshold(np.array([50, 50]), statistic=psi_rows, statistic_name="psi", **args)


def test_window_size_classes_are_close_and_stable() -> None:
    from driftwatch.stats.reference_thresholds import DEFAULT_WINDOW_TOLERANCE, window_size_class

    sizes = np.unique(np.geomspace(1, 5_000_000, 4000).astype(int))
    classes = np.array([window_size_class(int(n)) for n in sizes])
    ratio = classes / sizes
    big = sizes >= 50  # below that, rounding to whole rows adds a few percent
    assert ratio[big].max() <= 1.05 and ratio[big].min() >= 1 / 1.05
    assert not any(
        needs_recalibration(int(c), int(n), DEFAULT_WINDOW_TOLERANCE)
        for c, n in zip(classes, sizes, strict=True)
    )
    # A grid: far fewer classes than sizes, and the class of a class is itself.
    assert len(set(classes)) < 200
    assert all(window_size_class(int(c)) == c for c in set(classes.tolist()) if c >= 8)
