"""Every decision bar, exactly at the bar: which side it falls on is part of the documented rule.

Each test puts a value exactly on a threshold (numbers exact in binary, so no rounding decides) and checks
the documented side, next to a value just across it. Flipping the comparison in the code (``<`` ↔ ``<=``,
``>`` ↔ ``>=``) fails the test; docs/statistics-decisions.md and docs/performance.md state the rules.
The window bounds (start included, end excluded) are checked through a real cycle in
test_pipeline_statistics.py; the alert rules' operators in alerting/test_alert_boundaries.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from driftwatch.performance.verdict import PerformanceGate, Tolerance, judge
from driftwatch.stats.decision import (
    FeatureStats,
    Thresholds,
    WindowDecision,
    decide_window,
    missing_rate_pvalue,
)

# Bars that are exact binary fractions; correction "none" so a one-feature family's p is the p given.
BARS = Thresholds(
    psi_warn=0.125,
    psi_drift=0.25,
    alpha=0.0625,
    correction="none",
    ks_warn_effect=0.125,
    ks_min_effect=0.25,
    js_warn_effect=0.125,
    js_min_effect=0.25,
    w1_warn_effect=0.125,
    missing_warn_change=0.0625,
    missing_drift_change=0.125,
    min_rows=100,
    dataset_drift_share=0.5,
)
QUIET = {"ks_statistic": 0.0, "ks_pvalue": 1.0, "wasserstein_norm": 0.0}


def numeric(name: str = "x", rows: int = 1000, **stats: float) -> FeatureStats:
    return FeatureStats(name=name, kind="numeric", rows=rows, **stats)  # type: ignore[arg-type]


def status(*features: FeatureStats, bars: Thresholds = BARS) -> str:
    return decide_window(features, bars).features[0].status


def window(*features: FeatureStats, bars: Thresholds = BARS) -> WindowDecision:
    return decide_window(features, bars)


# --- drift rules (stats/decision.py) -------------------------------------------------------------------


def test_psi_exactly_at_the_warn_bar_warns() -> None:
    """psi ≥ psi_warn warns (PSI alone, as in a roll-up without KS)."""
    assert status(numeric(psi=0.125)) == "warn"
    assert status(numeric(psi=0.124)) == "ok"


def test_psi_exactly_at_the_drift_bar_only_warns() -> None:
    """psi > psi_drift drifts: at the bar it is still a warning."""
    assert status(numeric(psi=0.25)) == "warn"
    assert status(numeric(psi=0.2501)) == "drift"


def test_a_p_value_exactly_at_alpha_is_not_significant() -> None:
    """KS drifts when p_adj < alpha and D ≥ the drift floor: p = alpha is not significant."""
    assert status(numeric(ks_statistic=0.5, ks_pvalue=0.0625, wasserstein_norm=0.0)) == "ok"
    assert status(numeric(ks_statistic=0.5, ks_pvalue=0.0624, wasserstein_norm=0.0)) == "drift"


def test_psi_gated_by_a_p_value_exactly_at_alpha_stays_ok() -> None:
    """PSI's warning and drift need the feature's own test significant: p = alpha is not."""
    assert status(numeric(psi=0.5, ks_statistic=0.0, ks_pvalue=0.0625, wasserstein_norm=0.0)) == "ok"
    assert status(numeric(psi=0.5, ks_statistic=0.0, ks_pvalue=0.0624, wasserstein_norm=0.0)) == "drift"


def test_ks_effect_exactly_at_its_floors() -> None:
    """A significant KS drifts at D ≥ ks_min_effect and warns at D ≥ ks_warn_effect."""
    significant = {"ks_pvalue": 0.001, "wasserstein_norm": 0.0}
    assert status(numeric(ks_statistic=0.25, **significant)) == "drift"
    assert status(numeric(ks_statistic=0.2499, **significant)) == "warn"
    assert status(numeric(ks_statistic=0.125, **significant)) == "warn"
    assert status(numeric(ks_statistic=0.1249, **significant)) == "ok"


def test_w1_exactly_at_its_warn_floor_warns() -> None:
    """A significant KS with a small D warns when the normalised W1 ≥ w1_warn_effect."""
    assert status(numeric(ks_statistic=0.0, ks_pvalue=0.001, wasserstein_norm=0.125)) == "warn"
    assert status(numeric(ks_statistic=0.0, ks_pvalue=0.001, wasserstein_norm=0.1249)) == "ok"


def test_js_effect_exactly_at_its_floors() -> None:
    """A significant chi² drifts at JS ≥ js_min_effect and warns at JS ≥ js_warn_effect."""

    def categorical(js: float) -> FeatureStats:
        return FeatureStats(name="c", kind="categorical", rows=1000, chi2_pvalue=0.001, js_distance=js)

    assert [status(categorical(js)) for js in (0.25, 0.2499, 0.125, 0.1249)] == [
        "drift",
        "warn",
        "warn",
        "ok",
    ]


def test_missing_change_exactly_at_its_bars() -> None:
    """|missing change| ≥ missing_warn_change warns, ≥ missing_drift_change drifts (with a significant test)."""

    def missing(after: float) -> FeatureStats:
        return numeric(rows=4096, missing_share_reference=0.0, missing_share_current=after, **QUIET)

    assert [status(missing(after)) for after in (0.125, 0.1249, 0.0625, 0.0624)] == [
        "drift",
        "warn",
        "warn",
        "ok",
    ]


def test_a_missing_rate_p_value_exactly_at_alpha_is_not_significant() -> None:
    """alpha is set to the test's own p-value: at the bar the change is not significant."""
    feature = numeric(
        rows=200, reference_rows=200, missing_share_reference=0.0, missing_share_current=0.125, **QUIET
    )
    p = missing_rate_pvalue(0.0, 200, 0.125, 200)
    assert 0.0 < p < 0.5
    assert status(feature, bars=replace(BARS, alpha=p)) == "ok"
    assert status(feature, bars=replace(BARS, alpha=p * 1.0001)) == "drift"


def test_rows_exactly_at_min_rows_are_judged() -> None:
    """rows < min_rows → insufficient_data: exactly min_rows rows are judged, also for KS (valid rows)."""
    assert status(numeric(rows=100, psi=0.5)) == "drift"
    assert status(numeric(rows=99, psi=0.5)) == "insufficient_data"
    # 100 valid rows of 128 (missing share 0.21875): KS runs; 99 valid rows of 128 would not.
    ks = {"ks_statistic": 0.5, "ks_pvalue": 0.001, "wasserstein_norm": 0.0}
    ks |= {"missing_share_reference": 0.21875, "missing_share_current": 0.21875}
    assert "ks p" in decide_window([numeric(rows=128, **ks)], BARS).features[0].reason
    skipped = decide_window([numeric(rows=128, **(ks | {"missing_share_current": 29 / 128}))], BARS)
    assert "ks skipped" in skipped.features[0].reason


def test_rows_exactly_at_min_rows_count_in_the_window_family() -> None:
    """A feature with exactly min_rows rows is in the p-value family: with BH over two p-values the other
    feature's adjusted p doubles (0.03 → 0.06 ≥ alpha 0.05) only if this one counts."""
    bars = replace(BARS, correction="bh", alpha=0.05)
    other = numeric("y", ks_statistic=0.5, ks_pvalue=0.03, wasserstein_norm=0.0)
    at_bar = numeric("x", rows=100, ks_statistic=0.0, ks_pvalue=1.0, wasserstein_norm=0.0)
    below = numeric("x", rows=99, ks_statistic=0.0, ks_pvalue=1.0, wasserstein_norm=0.0)
    assert window(other, at_bar, bars=bars).features[0].status == "ok"
    assert window(other, below, bars=bars).features[0].status == "drift"


def test_drift_share_exactly_at_the_dataset_bar_drifts() -> None:
    """Window drift when drifting / judged ≥ dataset_drift_share: 1 of 2 is exactly 0.5."""
    drifting = numeric("a", psi=0.5)
    quiet = numeric("b", psi=0.0)
    assert window(drifting, quiet).status == "drift"
    assert window(drifting, quiet, numeric("c", psi=0.0)).status == "warn"


# --- the performance verdict (performance/verdict.py) --------------------------------------------------

GATE = PerformanceGate(min_labels=150, min_coverage=0.25)


def verdict(
    n_labels: int = 1000,
    coverage: float = 1.0,
    value: float = 0.875,
    tolerance: float = 0.0625,
    interval: tuple[float, float] = (0.8125, 0.9375),
) -> tuple[str, str]:
    """An AUC against a configured reference 0.875; the interval's upper half-width (0.0625) is the noise."""
    result = judge("roc_auc", value, interval, 0.875, Tolerance(tolerance), n_labels, coverage, GATE, z=1.0)
    return result.status, result.reason


def test_labels_exactly_at_min_labels_open_the_gate() -> None:
    """n_labels < min_labels closes the gate: exactly min_labels is enough."""
    assert verdict(n_labels=150)[0] == "ok"
    assert verdict(n_labels=149)[0] == "insufficient_labels"


def test_coverage_exactly_at_min_coverage_opens_the_gate() -> None:
    """coverage < min_coverage closes the gate: exactly min_coverage is enough."""
    assert verdict(coverage=0.25)[0] == "ok"
    assert verdict(coverage=0.2499)[0] == "insufficient_labels"


def test_a_drop_exactly_at_the_tolerance_is_within_it() -> None:
    """drop ≤ allowed: ok, as "within tolerance" (not via the noise test)."""
    status_, reason = verdict(value=0.8125, interval=(0.75, 0.875))
    assert status_ == "ok" and "within tolerance" in reason
    assert verdict(value=0.8124, interval=(0.75, 0.8749))[1].count("by less than") == 1


def test_a_drop_past_the_tolerance_by_exactly_the_noise_is_not_degraded() -> None:
    """degraded iff drop − allowed > noise: 0.125 − 0.0625 = 0.0625 = noise is still ok."""
    assert verdict(value=0.75, interval=(0.6875, 0.8125))[0] == "ok"
    assert verdict(value=0.7499, interval=(0.6874, 0.8124))[0] == "degraded"


def test_without_tolerance_a_drop_of_exactly_the_noise_is_not_significant() -> None:
    """With tolerance 0: drop ≤ 0 is "not worse"; 0 < drop ≤ noise is not significant; beyond, degraded."""
    assert verdict(tolerance=0.0, value=0.875)[1].endswith("not worse than the reference")
    assert verdict(tolerance=0.0, value=0.8125, interval=(0.75, 0.875))[0] == "ok"
    assert verdict(tolerance=0.0, value=0.8124, interval=(0.75, 0.8749))[0] == "degraded"


@pytest.mark.parametrize("n_labels", [150, 151])
def test_the_gate_itself_is_open_at_and_above_its_bars(n_labels: int) -> None:
    assert GATE.shortfall(n_labels, 0.25) is None
    assert GATE.shortfall(n_labels, 0.2499) is not None
    assert GATE.shortfall(149, 1.0) is not None
