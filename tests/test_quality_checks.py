"""The data-quality checks of stats/quality.py: each with a case that must fire and one that must not, the
learned range against brute-force sampling and its false-alarm rate on stationary data."""

from __future__ import annotations

import numpy as np
import pytest

from driftwatch.stats import quality as q
from driftwatch.stats.ks_location import ecdf_steps


def window_values(values: np.ndarray) -> q.WindowValues:
    """A window's ECDF steps as the pipeline hands them over (stats.ks_location.ecdf_steps)."""
    present = np.sort(values[~np.isnan(values)])
    x, y = ecdf_steps(present)
    return q.WindowValues(np.asarray(x), np.asarray(y), int(present.size))


# --- the binomial quantile (scipy.special, not scipy.stats) ----------------------------------------------------


def test_binomial_quantile_is_scipys_binom_ppf_at_the_bars_quantiles() -> None:
    """The bars' quantiles (0.99, 0.999) by bisection on `bdtr`, against `scipy.stats.binom.ppf` on a grid of
    window sizes from 1 to 10^8 rows and shares from 0 to 1 (edges included). At q = 0.5 the two can part by
    one where the CDF equals q to the last bit (n = 999, p = 0.5): the bars never ask for it."""
    from scipy.stats import binom

    rng = np.random.default_rng(1)
    sizes = [1, 2, 3, 5, 10, 50, 100, 999, 1000, 12_345, 10**5, 10**6, 10**7, 10**8]
    shares = [0.0, 1e-9, 1e-6, 1e-4, 0.001, 0.01, 0.02, 0.05, 0.1, 0.3, 0.5, 0.7, 0.99, 0.999999, 1.0]
    shares += [float(x) for x in rng.random(20)]
    for n in sizes:
        for p in shares:
            for level in (0.99, 0.999):
                assert q.binomial_quantile(level, n, p) == int(binom.ppf(level, n, p)), (level, n, p)
    for n in (2**31 - 1, 2**31 + 5):  # past what bdtr takes (a C int): scipy.stats, imported then
        for p in (0.0, 0.02, 0.5):
            assert q.binomial_quantile(0.999, n, p) == int(binom.ppf(0.999, n, p)), (n, p)


# --- missing / categories ------------------------------------------------------------------------------------


def test_missing_share_far_above_the_reference_fails() -> None:
    r = q.missing_check("debt", 0.15, 0.02, 1000, q.FeatureQuality().missing)
    assert r.status == "fail"
    assert "15.00 % missing" in r.reason and "reference 2.00 %" in r.reason


def test_missing_share_within_chance_of_the_reference_is_ok() -> None:
    # 2.5 % at 1,000 rows with a 2 % reference: well inside the binomial 0.99 quantile plus the margin.
    assert q.missing_check("debt", 0.025, 0.02, 1000, q.FeatureQuality().missing).status == "ok"


def test_missing_bar_is_the_binomial_quantile_at_small_windows() -> None:
    # At 50 rows a 2 % reference gives 3 missing (6 %) 1 % of the time or more: below that bar is chance.
    warn, fail = q.share_bars(0.02, 50, q.ShareSettings(warn_margin=0.0, fail_margin=0.0))
    assert warn == pytest.approx(4 / 50) and fail >= warn
    assert q.missing_check("debt", 0.06, 0.02, 50, q.ShareSettings(True, 0.0, 0.0)).status == "ok"


def test_values_outside_the_category_set() -> None:
    settings = q.FeatureQuality().categories
    assert q.category_check("region", 0.15, 0.0, 1500, settings).status == "fail"
    assert q.category_check("region", 0.002, 0.0, 1500, settings).status == "warn"  # any new value warns
    assert q.category_check("region", 0.0, 0.0, 1500, settings).status == "ok"


def test_a_capped_reference_s_own_other_share_is_the_baseline() -> None:
    # Over the category cap, 10 % of the reference is "other": a window at 10.5 % is what chance gives.
    assert q.category_check("city", 0.105, 0.10, 2000, q.FeatureQuality().categories).status == "ok"
    assert q.category_check("city", 0.20, 0.10, 2000, q.FeatureQuality().categories).status == "fail"


def test_a_share_check_of_an_empty_window_is_not_judged() -> None:
    assert q.missing_check("x", float("nan"), 0.0, 0, q.ShareSettings()).status == "not_judged"


# --- range ---------------------------------------------------------------------------------------------------


def test_learned_range_matches_brute_force_sampling() -> None:
    """The inverse-transform draw of a sample's max index has the distribution of the max of s uniform
    indices: the learned tolerance equals the brute-force one (sampling s values and taking their max)."""
    rng = np.random.default_rng(3)
    ref = np.sort(rng.lognormal(10.0, 0.6, 5000))
    s = 200
    learned = q.learned_range(ref, s, quantile=0.9)
    assert learned is not None
    brute = np.array([ref.max() - ref[rng.integers(0, ref.size, s)].max() for _ in range(4000)])
    expected = float(np.quantile(brute, 0.9))
    assert learned.tolerance_high == pytest.approx(expected, rel=0.15)
    brute_low = np.array([ref[rng.integers(0, ref.size, s)].min() - ref.min() for _ in range(4000)])
    assert learned.tolerance_low == pytest.approx(float(np.quantile(brute_low, 0.9)), rel=0.15)


def test_a_bounded_feature_learns_no_tolerance_a_heavy_tail_a_wide_one() -> None:
    rng = np.random.default_rng(1)
    ages = np.sort(rng.integers(18, 91, 20_000).astype(np.float64))
    bounded = q.learned_range(ages, 1000)
    assert bounded is not None and bounded.low == 18 and bounded.high == 90
    incomes = np.sort(rng.lognormal(10.8, 0.8, 20_000))
    wide = q.learned_range(incomes, 1000)
    assert wide is not None and wide.tolerance_high > 0.1 * (incomes[-1] - np.median(incomes))


@pytest.mark.parametrize("kind", ["normal", "lognormal"])
def test_stationary_windows_rarely_leave_the_learned_range(kind: str) -> None:
    """300 windows of 1,000 rows drawn like a 20,000-row reference: at most 3 % warn (the 0.99 quantile of
    the shortfall bounds the overshoot a window of that size shows), none fails."""
    rng = np.random.default_rng(11)
    draw = (lambda n: rng.normal(0, 1, n)) if kind == "normal" else (lambda n: rng.lognormal(10, 0.7, n))
    ref = np.sort(draw(20_000))
    statuses = [
        q.range_check("x", window_values(draw(1000)), ref, q.RangeSettings()).status for _ in range(300)
    ]
    assert statuses.count("fail") == 0
    assert statuses.count("warn") <= 9, statuses.count("warn")


def test_values_far_outside_the_range_fail_and_one_stray_value_warns() -> None:
    rng = np.random.default_rng(5)
    ref = np.sort(rng.normal(0, 1, 20_000))
    window = rng.normal(0, 1, 1000)
    window[:30] = 50.0  # 3 % of the values: a unit bug
    failed = q.range_check("x", window_values(window), ref, q.RangeSettings())
    assert failed.status == "fail"
    assert failed.value == pytest.approx(0.03, abs=1 / 249)
    assert "max 50" in failed.reason
    one = rng.normal(0, 1, 1000)
    one[0] = -40.0
    warned = q.range_check("x", window_values(one), ref, q.RangeSettings())
    assert warned.status == "warn" and "min -40" in warned.reason


def test_the_share_outside_is_counted_exactly_when_a_counter_is_given() -> None:
    rng = np.random.default_rng(8)
    ref = np.sort(rng.normal(0, 1, 20_000))
    window = rng.normal(0, 1, 5000)  # continuous: the ECDF has 250 steps, each 0.4 % of the values
    window[:3] = 30.0

    def exact(low: float, high: float) -> int:
        return int(np.count_nonzero((window < low) | (window > high)))

    approximate = q.range_check("x", window_values(window), ref, q.RangeSettings())
    counted = q.range_check("x", window_values(window), ref, q.RangeSettings(), exact_outside=exact)
    assert counted.value == pytest.approx(3 / 5000) and "3 of 5,000 values outside" in counted.reason
    assert approximate.value is not None and 3 / 5000 <= approximate.value <= 3 / 5000 + 1 / 249
    assert counted.status == approximate.status == "warn"


def test_configured_bounds_replace_the_learned_ones() -> None:
    ref = np.sort(np.arange(18.0, 91.0))
    window = window_values(np.full(600, 95.0))
    assert q.range_check("age", window, ref, q.RangeSettings()).status == "fail"
    assert q.range_check("age", window, ref, q.RangeSettings(max=120.0)).status == "ok"
    below = q.range_check("age", window_values(np.full(600, 30.0)), ref, q.RangeSettings(min=40.0))
    assert below.status == "fail" and "configured min" in below.reason


def test_share_outside_is_exact_with_few_distinct_values() -> None:
    window = np.repeat(np.arange(10.0), 100)  # 10 distinct values: exact ECDF steps
    values = window_values(window)
    assert q._share_outside(values, 2.0, 6.5) == pytest.approx(0.5)  # 0, 1 below; 7, 8, 9 above


# --- constant ------------------------------------------------------------------------------------------------


def test_a_column_stuck_at_one_value_fails() -> None:
    ref = np.sort(np.random.default_rng(2).lognormal(10.8, 0.45, 10_000))
    top, distinct = q.numeric_top(window_values(np.full(1500, 52000.0)))
    r = q.constant_check(
        "income", top, distinct, 1500, q.top_share_sorted(ref), q.ConstantSettings(), 100, "52000"
    )
    assert r.status == "fail" and "52000" in r.reason


def test_a_near_constant_column_warns_and_a_varied_one_is_ok() -> None:
    rng = np.random.default_rng(4)
    ref_top = q.top_share_sorted(np.sort(rng.integers(0, 50, 10_000).astype(float)))
    mostly = np.where(rng.random(2000) < 0.97, 7.0, rng.integers(0, 50, 2000).astype(float))
    top, distinct = q.numeric_top(window_values(mostly))
    assert q.constant_check("n", top, distinct, 2000, ref_top, q.ConstantSettings(), 100).status == "warn"
    varied = rng.integers(0, 50, 2000).astype(float)
    top, distinct = q.numeric_top(window_values(varied))
    assert q.constant_check("n", top, distinct, 2000, ref_top, q.ConstantSettings(), 100).status == "ok"


def test_a_feature_mostly_one_value_in_the_reference_too_is_no_alarm() -> None:
    # 97 % zeros in the reference (a sparse count): a window with 97.5 % zeros is what it always looks like.
    ref = np.sort(np.where(np.arange(10_000) < 9700, 0.0, np.arange(10_000, dtype=float)))
    ref_top = q.top_share_sorted(ref)
    assert ref_top == pytest.approx(0.97)
    assert q.constant_check("x", 0.975, 30, 1000, ref_top, q.ConstantSettings(), 100).status == "ok"


def test_constant_is_not_judged_with_few_values_or_a_constant_reference() -> None:
    assert q.constant_check("x", 1.0, 1, 20, 0.1, q.ConstantSettings(), 100).status == "not_judged"
    assert q.constant_check("x", 1.0, 1, 500, 1.0, q.ConstantSettings(), 100).status == "not_judged"


# --- row count -----------------------------------------------------------------------------------------------


def test_row_count_far_below_the_usual_volume_fails() -> None:
    history = [1000, 990, 1012, 1003, 985, 1020, 998, 1005]
    r = q.row_count_check(120, history, q.RowCountSettings())
    assert r.status == "fail" and "median 1,002" in r.reason
    assert r.value is not None and r.value < -6  # z, signed: too few rows


def test_row_count_within_the_usual_spread_is_ok_even_with_a_perfectly_regular_history() -> None:
    # MAD 0: the spread falls back to the Poisson floor sqrt(1000) ≈ 31.6, so 1,050 rows is z ≈ 1.6.
    assert q.row_count_check(1050, [1000] * 10, q.RowCountSettings()).status == "ok"
    assert q.row_count_check(1150, [1000] * 10, q.RowCountSettings()).status == "warn"  # z ≈ 4.7


def test_row_count_needs_history() -> None:
    r = q.row_count_check(10, [1000] * 6, q.RowCountSettings())
    assert r.status == "not_judged" and "fewer than 7" in r.reason


# --- ingest: parse, type, duplicates -------------------------------------------------------------------------


def test_quarantine_reasons_group_by_problem_and_name_the_feature() -> None:
    assert q.reason_kinds("feature 'age': 'forty' is not a number (line 7)") == [
        "feature 'age': … is not a number"
    ]
    assert q.reason_kinds("unparseable timestamp 'yesterday'; feature 'a''b': 'x' is not a number") == [
        "unparseable timestamp …",
        "feature 'a''b': … is not a number",
    ]
    assert q.type_failure_feature("feature 'a''b': … is not a number") == "a'b"
    assert q.type_failure_feature("unparseable timestamp …") is None


def test_quarantine_checks_count_parse_failures_and_type_failures_per_feature() -> None:
    reasons = {
        "feature 'age': 'forty' is not a number": 30,
        "feature 'age': 'fifty' is not a number": 20,
        "unparseable timestamp 'yesterday'": 5,
    }
    results = q.quarantine_checks(reasons, 1000, q.QualitySettings(), ["age", "income"])
    by = {(r.check, r.feature): r for r in results}
    assert by[("parse", None)].status == "fail"  # 5.5 % quarantined
    assert "feature 'age': … is not a number: 50" in by[("parse", None)].reason
    assert by[("type", "age")].status == "fail" and by[("type", "age")].value == pytest.approx(0.05)
    assert by[("type", "income")].status == "ok"


def test_a_clean_cycle_passes_the_ingest_checks() -> None:
    results = q.quarantine_checks({}, 5000, q.QualitySettings(), ["age"])
    assert {r.status for r in results} == {"ok"}
    assert q.duplicates_check(0, 5000, q.IngestShareSettings(warn_share=0.01, fail_share=0.05)).status == "ok"


def test_duplicated_request_ids() -> None:
    settings = q.QualitySettings().duplicates
    assert q.duplicates_check(10, 1000, settings).status == "ok"  # 1 %: not above the warn bar
    assert q.duplicates_check(20, 1000, settings).status == "warn"
    assert q.duplicates_check(100, 1000, settings).status == "fail"
    assert q.duplicates_check(0, 0, settings).status == "not_judged"


def test_worst_status() -> None:
    assert q.worst(["ok", "not_judged", "warn"]) == "warn"
    assert q.worst(["not_judged"]) == "not_judged"
    assert q.worst(["ok", "fail"]) == "fail"


# --- streamed windows (computed from partials: the ECDF sits at the reference's values) ----------------------


def streamed_values(values: np.ndarray, reference: np.ndarray) -> q.WindowValues:
    """A window's values as the pipeline hands them over for a window computed from partials."""
    from driftwatch.stats.partials import finish, numeric_partial
    from driftwatch.stats.profile import numeric_profile

    profile = numeric_profile("x", reference)
    fs = finish(numeric_partial(profile, values), profile)
    assert fs.ecdf is not None and fs.wasserstein_bound is not None
    present = fs.rows - int(fs.bin_counts[-1])
    x, y = np.asarray(fs.ecdf.x), np.asarray(fs.ecdf.y)
    return q.WindowValues(x, y, present, fs.window_min, fs.window_max, exact_steps=False)


def test_a_streamed_window_outside_the_range_fails() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 5000)
    window = rng.normal(0, 1, 2000)
    window[:200] = 1e6  # 10 % far outside
    values = streamed_values(window, ref)
    r = q.range_check("x", values, np.sort(ref), q.RangeSettings())
    assert r.status == "fail" and "max 1e+06" in r.reason
    inside = q.range_check("x", streamed_values(rng.normal(0, 1, 2000), ref), np.sort(ref), q.RangeSettings())
    assert inside.status == "ok"


def test_a_streamed_window_stuck_at_one_value_fails_and_a_bounded_top_share_is_not_a_warning() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 5000)
    ref_top = q.top_share_sorted(np.sort(ref))
    top, distinct = q.numeric_top(streamed_values(np.full(2000, 0.123), ref))
    assert (top, distinct) == (1.0, 1)
    r = q.constant_check("x", top, distinct, 2000, ref_top, q.ConstantSettings(), 50, "0.123", True)
    assert r.status == "fail"
    # 97 % at one value (not the reference's): the bound says "at most" that much, it cannot say more.
    mostly = np.where(rng.random(2000) < 0.97, 0.123, rng.normal(0, 1, 2000))
    top, distinct = q.numeric_top(streamed_values(mostly, ref))
    r = q.constant_check("x", top, distinct, 2000, ref_top, q.ConstantSettings(), 50, None, True)
    assert r.status == "not_judged" and "at most" in r.reason
    top, distinct = q.numeric_top(streamed_values(rng.normal(0, 1, 2000), ref))
    assert top < 0.05  # an honest upper bound, far under the warn bar: ok is proven
    r = q.constant_check("x", top, distinct, 2000, ref_top, q.ConstantSettings(), 50, None, True)
    assert r.status == "ok"
