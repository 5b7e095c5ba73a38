"""Multiple-testing corrections and the per-feature / per-window drift decisions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from driftwatch.stats.chi2 import two_proportion_pvalue
from driftwatch.stats.decision import (
    FeatureDecision,
    FeatureStats,
    Thresholds,
    WindowDecision,
    decide_window,
    missing_rate_pvalue,
)
from driftwatch.stats.multiple_testing import adjusted_pvalues, benjamini_hochberg, bonferroni
from driftwatch.stats.reference_thresholds import LearnedThreshold

# ---------------------------------------------------------------- multiple testing


def naive_bh(p: list[float]) -> list[float]:
    """adj_i = min over all p_j ≥ p_i of min(1, m·p_j / rank_j), ranks from a stable sort, O(m²)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    rank = {index: position + 1 for position, index in enumerate(order)}
    return [min(min(1.0, m * p[j] / rank[j]) for j in range(m) if rank[j] >= rank[i]) for i in range(m)]


pvalue_lists = st.lists(
    st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1e-12, 0.01, 0.05, 1.0])), min_size=1, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(pvalue_lists)
def test_benjamini_hochberg_matches_scipy_and_naive_twin(p: list[float]) -> None:
    got = benjamini_hochberg(p)
    np.testing.assert_allclose(got, stats.false_discovery_control(p, method="bh"), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got, naive_bh(p), rtol=1e-12, atol=1e-300)


@settings(max_examples=100, deadline=None)
@given(pvalue_lists, st.lists(st.integers(0, 45), max_size=5))
def test_corrections_ignore_and_keep_nan_in_place(p: list[float], nan_at: list[int]) -> None:
    with_nan = list(p)
    for position in sorted(nan_at):
        with_nan.insert(min(position, len(with_nan)), math.nan)
    nan_mask = np.isnan(with_nan)
    for correct in (benjamini_hochberg, bonferroni):
        got = correct(with_nan)
        assert np.array_equal(np.isnan(got), nan_mask)
        np.testing.assert_allclose(got[~nan_mask], correct(p), rtol=1e-12, atol=1e-300)


def test_bonferroni_is_capped_product() -> None:
    np.testing.assert_allclose(bonferroni([0.01, 0.2, math.nan, 0.5]), [0.03, 0.6, math.nan, 1.0])


def test_corrections_validate_and_do_not_mutate() -> None:
    p = np.array([0.02, 0.01, 0.5])
    benjamini_hochberg(p)
    bonferroni(p)
    assert p.tolist() == [0.02, 0.01, 0.5]
    assert adjusted_pvalues(p, "none").tolist() == [0.02, 0.01, 0.5]
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.2])
    with pytest.raises(ValueError):
        bonferroni([-0.1])
    with pytest.raises(ValueError):
        adjusted_pvalues(p, "holm")  # type: ignore[arg-type]
    assert np.isnan(benjamini_hochberg([math.nan])).all()


# ---------------------------------------------------------------- decisions: helpers


def numeric(name: str = "x", rows: int = 1000, **kwargs: float | int | None) -> FeatureStats:
    return FeatureStats(name=name, kind="numeric", rows=rows, **kwargs)  # type: ignore[arg-type]


def categorical(name: str = "c", rows: int = 1000, **kwargs: float | int | None) -> FeatureStats:
    return FeatureStats(name=name, kind="categorical", rows=rows, **kwargs)  # type: ignore[arg-type]


def one(
    feature: FeatureStats,
    thresholds: Thresholds | None = None,
    learned: Mapping[str, LearnedThreshold] | None = None,
) -> FeatureDecision:
    return decide_window([feature], thresholds, learned).features[0]


# ---------------------------------------------------------------- thresholds


def test_threshold_defaults_are_the_documented_ones() -> None:
    t = Thresholds()
    assert (t.psi_warn, t.psi_drift, t.alpha, t.correction) == (0.1, 0.25, 0.05, "bh")
    assert (t.ks_warn_effect, t.ks_min_effect, t.js_warn_effect, t.js_min_effect) == (0.13, 0.2, 0.13, 0.21)
    assert (t.missing_warn_change, t.missing_drift_change) == (0.05, 0.10)
    assert (t.min_rows, t.dataset_drift_share, t.learned_window_tolerance) == (100, 0.5, 1.25)
    assert t.w1_warn_effect == 0.1


@pytest.mark.parametrize(
    "bad",
    [
        {"psi_warn": 0.3},  # above psi_drift
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"correction": "holm"},
        {"ks_min_effect": 0.1},  # below ks_warn_effect
        {"js_min_effect": 1.5},
        {"missing_warn_change": -0.01},
        {"min_rows": 0},
        {"dataset_drift_share": 0.0},
        {"learned_window_tolerance": 0.9},
    ],
)
def test_thresholds_reject_inconsistent_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        Thresholds(**bad)


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "text"},
        {"rows": -1},
        {"chi2_statistic": 3.0, "chi2_pvalue": 0.1},  # chi² on a numeric feature
        {"ks_statistic": 0.1},  # D without its p-value
        {"ks_statistic": 0.1, "ks_pvalue": 1.5},
        {"missing_share_reference": 0.1},  # only one side of the missing rate
    ],
)
def test_feature_stats_reject_inconsistent_fields(bad: dict) -> None:
    fields = {"name": "x", "kind": "numeric", "rows": 10} | bad
    with pytest.raises(ValueError):
        FeatureStats(**fields)


def test_duplicate_feature_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        decide_window([numeric("a", psi=0.0), numeric("a", psi=0.0)])


# ---------------------------------------------------------------- PSI


@pytest.mark.parametrize(
    ("psi", "status", "reason"),
    [
        (0.0999, "ok", "psi 0.0999 < 0.1"),
        (0.1, "warn", "psi 0.1 >= 0.1"),
        (0.25, "warn", "psi 0.25 >= 0.1"),
        (0.25004, "drift", "psi 0.25004 > 0.25"),  # extra digits rather than "0.25 > 0.25"
        (0.31, "drift", "psi 0.31 > 0.25"),
    ],
)
def test_psi_reading_of_the_seed(psi: float, status: str, reason: str) -> None:
    decision = one(numeric(psi=psi))
    assert (decision.status, decision.reason) == (status, reason)


# ---------------------------------------------------------------- KS and chi² with effect floors


def test_ks_drift_needs_significance_and_effect() -> None:
    decision = one(numeric(ks_statistic=0.22, ks_pvalue=1e-6))
    assert decision.status == "drift"
    assert decision.reason == "ks p_adj 1e-6 < 0.05 and D 0.22 >= 0.2"
    assert decision.pvalue_adjusted == 1e-6


def test_ks_warn_between_floors() -> None:
    decision = one(numeric(ks_statistic=0.15, ks_pvalue=1e-6))
    assert (decision.status, decision.reason) == ("warn", "ks p_adj 1e-6 < 0.05 and D 0.15 >= 0.13")


def test_a_p_value_alone_never_makes_drift() -> None:
    # A million rows: a harmless shift is overwhelmingly significant.
    decision = one(numeric(rows=1_000_000, ks_statistic=0.01, ks_pvalue=1e-300))
    assert decision.status == "ok"
    assert "but D 0.01 < 0.13" in decision.reason


def test_a_large_effect_without_significance_is_not_drift() -> None:
    decision = one(numeric(ks_statistic=0.5, ks_pvalue=0.2))
    assert (decision.status, decision.reason) == ("ok", "ks p_adj 0.2 >= 0.05")


def test_chi2_uses_js_as_effect_size() -> None:
    drift = one(categorical(chi2_statistic=90.0, chi2_pvalue=1e-9, js_distance=0.3))
    assert (drift.status, drift.reason) == ("drift", "chi2 p_adj 1e-9 < 0.05 and js 0.3 >= 0.21")
    small = one(categorical(chi2_statistic=90.0, chi2_pvalue=1e-9, js_distance=0.05))
    assert small.status == "ok"
    unknown = one(categorical(chi2_statistic=90.0, chi2_pvalue=1e-9))
    assert unknown.status == "ok" and "js unknown" in unknown.reason


def test_undefined_chi2_is_left_out_of_the_family() -> None:
    window = decide_window(
        [
            categorical("flat", chi2_statistic=math.nan, chi2_pvalue=math.nan, js_distance=0.0),
            numeric("x", ks_statistic=0.3, ks_pvalue=0.03),
        ]
    )
    assert window.feature("flat").status == "ok"
    assert math.isnan(window.feature("flat").pvalue_adjusted)  # type: ignore[arg-type]
    assert window.feature("x").pvalue_adjusted == pytest.approx(0.03)  # family of one, not two


def test_ks_and_chi2_pvalues_are_adjusted_together() -> None:
    features = [
        numeric("x", ks_statistic=0.3, ks_pvalue=0.03),
        categorical("c", chi2_statistic=1.0, chi2_pvalue=0.9, js_distance=0.01),
    ]
    bh = decide_window(features)
    # BH over {0.03, 0.9}: 0.03·2/1 = 0.06, which is no longer < 0.05.
    assert bh.feature("x").pvalue_adjusted == pytest.approx(0.06)
    assert bh.feature("x").status == "ok"
    bonf = decide_window(features, Thresholds(correction="bonferroni"))
    assert bonf.feature("x").pvalue_adjusted == pytest.approx(0.06)
    none = decide_window(features, Thresholds(correction="none"))
    assert none.feature("x").status == "drift"
    assert none.feature("x").reason == "ks p 0.03 < 0.05 and D 0.3 >= 0.2"


def test_correction_changes_outcome_across_many_features() -> None:
    noisy = [numeric(f"f{i}", ks_statistic=0.25, ks_pvalue=0.9) for i in range(19)]
    features = [numeric("x", ks_statistic=0.25, ks_pvalue=0.004), *noisy]
    assert decide_window(features, Thresholds(correction="none")).feature("x").status == "drift"
    assert decide_window(features, Thresholds(correction="bh")).feature("x").status == "ok"  # 0.08
    assert decide_window(features, Thresholds(correction="bonferroni")).feature("x").status == "ok"


# ---------------------------------------------------------------- missing rate


def test_missing_rate_jump_from_1_to_20_percent_is_drift() -> None:
    decision = one(
        numeric(psi=0.01, missing_share_reference=0.01, missing_share_current=0.2, reference_rows=50_000)
    )
    assert decision.status == "drift"
    assert decision.reason.startswith("missing 0.01 -> 0.2 (|change| 0.19 >= 0.1, p_adj ")
    assert decision.missing_pvalue_adjusted is not None and decision.missing_pvalue_adjusted < 1e-100


def test_missing_rate_small_change_is_ok_and_moderate_change_warns() -> None:
    small = one(numeric(missing_share_reference=0.01, missing_share_current=0.03, reference_rows=50_000))
    assert (small.status, small.reason) == ("ok", "missing 0.01 -> 0.03 (|change| 0.02 < 0.05)")
    moderate = one(numeric(missing_share_reference=0.01, missing_share_current=0.08, reference_rows=50_000))
    assert moderate.status == "warn"


def test_missing_rate_change_needs_significance() -> None:
    # 50 % → 56 % on 300 rows each side: z ≈ 1.5, p ≈ 0.14.
    decision = one(
        numeric(rows=300, missing_share_reference=0.5, missing_share_current=0.56, reference_rows=300),
        Thresholds(),
    )
    assert decision.status == "ok"
    assert "but p_adj" in decision.reason


def test_a_feature_without_missing_values_adds_no_missing_test_to_the_family() -> None:
    decision = one(
        numeric(ks_statistic=0.3, ks_pvalue=0.03, missing_share_reference=0.0, missing_share_current=0.0)
    )
    assert decision.pvalue_adjusted == pytest.approx(0.03)
    assert decision.missing_pvalue_adjusted is None
    assert decision.status == "drift"


def test_missing_rate_tests_share_the_family_of_the_distribution_tests() -> None:
    # One family per window: with no drift, all of a window's alarms together stay near alpha, instead of
    # alpha per family. A real missing-rate test (10 % -> 10 %, p = 1) therefore counts in m.
    decision = one(
        numeric(ks_statistic=0.3, ks_pvalue=0.03, missing_share_reference=0.1, missing_share_current=0.1)
    )
    assert decision.pvalue_adjusted == pytest.approx(0.06)
    assert decision.missing_pvalue_adjusted == pytest.approx(1.0)
    assert decision.status == "ok"


def test_mostly_missing_window_skips_ks_but_judges_the_missing_rate() -> None:
    decision = one(
        numeric(
            rows=1000,
            ks_statistic=0.5,
            ks_pvalue=1e-9,
            missing_share_reference=0.01,
            missing_share_current=0.95,
            reference_rows=10_000,
        )
    )
    assert decision.status == "drift"
    assert decision.pvalue_adjusted is None  # KS on 50 valid values is not judged
    assert any(c.rule == "ks" and c.level == "insufficient_data" for c in decision.checks)


# ---------------------------------------------------------------- insufficient data


def test_small_window_is_insufficient_and_left_out_of_family_and_share() -> None:
    window = decide_window(
        [
            numeric("tiny", rows=50, psi=2.0, ks_statistic=0.9, ks_pvalue=1e-12),
            numeric("x", ks_statistic=0.3, ks_pvalue=0.03),
            numeric("y", psi=0.01),
        ]
    )
    tiny = window.feature("tiny")
    assert (tiny.status, tiny.reason) == ("insufficient_data", "rows 50 < min_rows 100")
    assert window.feature("x").pvalue_adjusted == pytest.approx(0.03)
    assert (window.n_evaluated, window.n_drift, window.n_insufficient) == (2, 1, 1)
    assert window.drift_share == 0.5


def test_feature_without_statistics_is_insufficient() -> None:
    assert one(numeric()).status == "insufficient_data"


# ---------------------------------------------------------------- learned thresholds


def learned_psi(value: float, window_size: int = 1000) -> dict[str, LearnedThreshold]:
    return {"x": LearnedThreshold("psi", value, 0.99, window_size, 500, 100_000)}


def test_learned_threshold_raises_the_bar() -> None:
    decision = one(numeric(psi=0.3), learned=learned_psi(0.4))
    assert decision.status == "ok"
    assert decision.reason == "psi 0.3 < 0.4 (learned q0.99 at n=1000)"
    between = one(numeric(psi=0.3), learned=learned_psi(0.2))
    assert (between.status, between.reason) == ("drift", "psi 0.3 > 0.25")


def test_learned_threshold_never_lowers_the_bar() -> None:
    assert one(numeric(psi=0.05), learned=learned_psi(0.01)).status == "ok"


def test_learned_threshold_for_another_window_size_is_not_used() -> None:
    decision = one(numeric(rows=5000, psi=0.3), learned=learned_psi(0.4, window_size=1000))
    assert decision.status == "drift"
    assert "learned threshold for n=1000 not used at n=5000: recalibrate" in decision.reason


def test_learned_threshold_on_ks_effect() -> None:
    learned = {"x": LearnedThreshold("ks_statistic", 0.3, 0.99, 1000, 500, 100_000)}
    decision = one(numeric(ks_statistic=0.25, ks_pvalue=1e-9), learned=learned)
    assert decision.status == "ok"


def test_learned_threshold_on_an_unused_statistic_is_rejected() -> None:
    with pytest.raises(ValueError, match="hellinger"):
        decide_window(
            [numeric(psi=0.0)], learned={"x": LearnedThreshold("hellinger", 0.1, 0.99, 1000, 5, 10)}
        )


# ---------------------------------------------------------------- dataset verdict


def window_of(statuses: list[str]) -> WindowDecision:
    psi_for = {"ok": 0.01, "warn": 0.15, "drift": 0.5}
    features = [
        numeric(f"f{i}", rows=10, psi=0.5) if s == "insufficient_data" else numeric(f"f{i}", psi=psi_for[s])
        for i, s in enumerate(statuses)
    ]
    return decide_window(features)


@pytest.mark.parametrize(
    ("statuses", "status", "share"),
    [
        (["drift", "drift", "ok", "ok"], "drift", 0.5),
        (["drift", "ok", "ok", "ok"], "warn", 0.25),
        (["warn", "ok", "ok"], "warn", 0.0),
        (["ok", "ok"], "ok", 0.0),
        (["drift", "insufficient_data", "ok"], "drift", 0.5),
    ],
)
def test_dataset_verdict(statuses: list[str], status: str, share: float) -> None:
    window = window_of(statuses)
    assert [f.status for f in window.features] == statuses
    assert (window.status, window.drift_share) == (status, share)


def test_dataset_verdict_reason_names_the_drifting_features() -> None:
    window = window_of(["drift", "drift", "warn", "ok"])
    assert window.reason == "2 of 4 judged features drift (share 0.5 >= 0.5); drift: f0, f1; warn: f2"


def test_dataset_with_no_judged_feature_is_insufficient() -> None:
    window = window_of(["insufficient_data", "insufficient_data"])
    assert window.status == "insufficient_data"
    assert math.isnan(window.drift_share)


def test_dataset_drift_share_is_configurable() -> None:
    features = [numeric("a", psi=0.5), numeric("b", psi=0.0), numeric("c", psi=0.0)]
    assert decide_window(features).status == "warn"
    assert decide_window(features, replace(Thresholds(), dataset_drift_share=0.3)).status == "drift"


def test_model_outputs_are_judged_apart_from_the_inputs() -> None:
    inputs = [
        FeatureStats(name=f"x{i}", kind="numeric", rows=1000, psi=0.01, ks_statistic=0.02, ks_pvalue=0.5)
        for i in range(3)
    ]
    score = FeatureStats(
        name="raw_prediction",
        kind="numeric",
        rows=1000,
        psi=0.4,
        ks_statistic=0.3,
        ks_pvalue=1e-30,
        role="output",
    )
    decision = decide_window([*inputs, score])
    assert decision.feature("raw_prediction").status == "drift"
    assert decision.feature("raw_prediction").role == "output"
    # The score drifts, the inputs do not: the share counts inputs only, the window warns and says why.
    assert (decision.n_drift, decision.n_evaluated, decision.drift_share) == (0, 3, 0.0)
    assert decision.status == "warn"
    assert decision.reason.endswith("model output: raw_prediction drift")
    # Separate p-value families: the output's p-value does not change the inputs' adjustment.
    alone = decide_window(inputs)
    assert [f.pvalue_adjusted for f in decision.features[:3]] == [f.pvalue_adjusted for f in alone.features]
    assert decision.feature("raw_prediction").pvalue_adjusted == 1e-30
    with pytest.raises(ValueError, match="role"):
        FeatureStats(name="y", kind="numeric", rows=1, role="target")  # type: ignore[arg-type]


def test_several_learned_thresholds_per_feature() -> None:
    from driftwatch.stats.reference_thresholds import LearnedThreshold

    psi_bar = LearnedThreshold("psi", 0.15, 0.99, 1000, 500, 10_000, drift_value=0.3, drift_quantile=0.999)
    js_bar = LearnedThreshold("js_distance", 0.2, 0.99, 1000, 500, 10_000)
    feature = FeatureStats(
        name="c",
        kind="categorical",
        rows=1000,
        psi=0.28,
        chi2_statistic=50.0,
        chi2_pvalue=1e-9,
        js_distance=0.18,
    )
    decision = decide_window([feature], learned={"c": [psi_bar, js_bar]}).feature("c")
    assert decision.status == "warn"
    assert "psi 0.28 >= 0.15 (learned q0.99 at n=1000)" in decision.reason
    assert not any(c.level == "drift" for c in decision.checks)  # 0.28 < the learned drift bar 0.3
    chi2 = next(c for c in decision.checks if c.rule == "chi2")
    assert chi2.level == "ok" and "js 0.18 < 0.2" in chi2.reason
    with pytest.raises(ValueError, match="two learned thresholds"):
        decide_window([feature], learned={"c": [psi_bar, psi_bar]})


# ---------------------------------------------------------------- the warn band (issue 12.6)


def test_significant_ks_with_a_tenth_sigma_of_wasserstein_warns() -> None:
    # A 0.2σ shift at 5,000 rows: D 0.08 is under the 0.13 floor, but W1/σ 0.2 clears the peers' 0.1.
    decision = one(numeric(rows=5000, psi=0.04, ks_statistic=0.08, ks_pvalue=1e-20, wasserstein_norm=0.2))
    assert decision.status == "warn"
    assert decision.reason == "ks p_adj 1e-20 < 0.05 and w1 0.2 >= 0.1"


def test_wasserstein_never_makes_drift_and_never_warns_without_significance() -> None:
    big_w1 = one(numeric(rows=5000, psi=0.04, ks_statistic=0.08, ks_pvalue=1e-20, wasserstein_norm=3.0))
    assert big_w1.status == "warn"
    not_significant = one(numeric(rows=150, psi=0.05, ks_statistic=0.09, ks_pvalue=0.3, wasserstein_norm=0.2))
    assert not_significant.status == "ok"
    small = one(numeric(rows=5000, psi=0.01, ks_statistic=0.03, ks_pvalue=1e-4, wasserstein_norm=0.05))
    assert small.status == "ok"
    assert "but D 0.03 < 0.13 and w1 0.05 < 0.1" in small.reason


def test_w1_floor_can_be_switched_off() -> None:
    stats = numeric(rows=5000, psi=0.04, ks_statistic=0.08, ks_pvalue=1e-20, wasserstein_norm=0.2)
    assert one(stats, Thresholds(w1_warn_effect=math.inf)).status == "ok"
    with pytest.raises(ValueError, match="w1_warn_effect"):
        Thresholds(w1_warn_effect=-0.1)


def test_psi_warning_needs_the_features_test_when_it_has_one() -> None:
    # PSI has no test: at small windows one q0.99 bar per feature adds up over the window's features.
    noise = one(numeric(rows=150, psi=0.15, ks_statistic=0.1, ks_pvalue=0.4, wasserstein_norm=0.12))
    assert noise.status == "ok"
    assert noise.reason.startswith("psi 0.15 >= 0.1 but ks p_adj 0.4 >= 0.05")
    real = one(numeric(rows=150, psi=0.15, ks_statistic=0.12, ks_pvalue=0.01, wasserstein_norm=0.05))
    assert real.status == "warn"
    assert "psi 0.15 >= 0.1 and ks p_adj 0.01 < 0.05" in real.reason
    # Drift too: a PSI of 0.35 happens by chance at 150 rows; the window-wide correction is the guard.
    big = one(numeric(rows=150, psi=0.35, ks_statistic=0.1, ks_pvalue=0.4))
    assert big.status == "ok" and big.reason.startswith("psi 0.35 > 0.25 but ks p_adj 0.4 >= 0.05")
    assert one(numeric(rows=150, psi=0.35, ks_statistic=0.15, ks_pvalue=0.01)).status == "drift"
    # Without a test (a roll-up from bin counts has no KS) PSI stands on its own.
    assert one(numeric(rows=150, psi=0.15)).status == "warn"
    assert one(numeric(rows=150, psi=0.3)).status == "drift"
    cat = one(categorical(rows=150, psi=0.15, chi2_statistic=3.0, chi2_pvalue=0.5, js_distance=0.1))
    assert cat.status == "ok" and "but chi2 p_adj 0.5 >= 0.05" in cat.reason


def test_default_min_rows_judges_a_150_row_window() -> None:
    decision = one(numeric(rows=150, psi=0.02, ks_statistic=0.05, ks_pvalue=0.9, wasserstein_norm=0.04))
    assert decision.status == "ok"
    assert one(numeric(rows=99, psi=0.02)).reason == "rows 99 < min_rows 100"


def test_missing_rate_test_is_exact_in_small_windows() -> None:
    # 16 of 150 missing against 5 %: the z-test says p 0.0015, the exact test 0.004 (adjusted over 20
    # features, one is significant and the other not).
    assert missing_rate_pvalue(0.05, 200_000, 16 / 150, 150) == pytest.approx(
        stats.fisher_exact([[10_000, 190_000], [16, 134]]).pvalue
    )
    assert missing_rate_pvalue(0.05, None, 16 / 150, 150) == pytest.approx(
        stats.binomtest(16, 150, 0.05).pvalue
    )
    assert missing_rate_pvalue(0.0, 200_000, 0.0, 150) == 1.0
    # Big windows keep the z-test (equal to the chi² of the 2×2 table).
    assert missing_rate_pvalue(0.05, 200_000, 0.06, 5000) == two_proportion_pvalue(0.05, 200_000, 0.06, 5000)
