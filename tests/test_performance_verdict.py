"""Verdicts: the label gate, a one-sided test of drop − tolerance against sampling noise, direction per metric,
Wilson / logit / normal limits, Bonferroni, the reference spread, period over period."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy.special import ndtri
from scipy.stats import binomtest

from driftwatch.performance.uncertainty import Interval
from driftwatch.performance.verdict import (
    DEFAULT_Z,
    PerformanceGate,
    Tolerance,
    Verdict,
    judge,
    judge_against_previous,
    logit_limits,
    one_sided_z,
    wilson_limits,
)

GATE = PerformanceGate(min_labels=100, min_coverage=0.2)
ABS_002 = Tolerance(0.02)
NONE = Tolerance(0.0)
REL_10 = Tolerance(0.10, relative=True)

# metric, value, uncertainty, baseline, tolerance, n_labels, coverage, expected status, words in the reason
JUDGE_CASES: list[tuple[Any, ...]] = [
    # the gate comes first, whatever the numbers say
    (
        "accuracy",
        0.50,
        0.01,
        0.90,
        ABS_002,
        99,
        0.9,
        "insufficient_labels",
        "99 labelled rows < min_labels 100",
    ),
    (
        "accuracy",
        0.50,
        0.01,
        0.90,
        ABS_002,
        5000,
        0.19,
        "insufficient_labels",
        "coverage 19.0% < min_coverage 20.0%",
    ),
    ("accuracy", 0.50, 0.01, 0.90, ABS_002, 5000, math.nan, "insufficient_labels", "coverage"),
    ("roc_auc", math.nan, math.nan, 0.80, ABS_002, 5000, 0.9, "insufficient_labels", "undefined"),
    ("roc_auc", 0.70, math.nan, 0.80, ABS_002, 5000, 0.9, "insufficient_labels", "uncertainty"),
    ("roc_auc", 0.70, 0.01, math.nan, ABS_002, 5000, 0.9, "insufficient_labels", "reference"),
    # higher is better: drop = baseline − value
    ("accuracy", 0.89, 0.005, 0.90, ABS_002, 5000, 0.9, "ok", "within tolerance"),
    ("accuracy", 0.95, 0.005, 0.90, ABS_002, 5000, 0.9, "ok", "within tolerance"),
    (
        "accuracy",
        0.87,
        0.005,
        0.90,
        ABS_002,
        5000,
        0.9,
        "degraded",
        "exceeds tolerance 0.02 by more than sampling noise",
    ),
    # past the tolerance, but not by more than the noise: the test is of drop − tolerance, so a drop 0.005 past
    # the tolerance with se 0.005 (noise 0.0082) is not significant (the old "drop > tolerance AND drop > noise"
    # rule called it degraded)
    ("accuracy", 0.875, 0.005, 0.90, ABS_002, 5000, 0.9, "ok", "not significant"),
    # past the tolerance but inside the noise: 3 points down with se 2 points → noise 3.9 points
    ("accuracy", 0.87, 0.02, 0.90, ABS_002, 150, 0.9, "ok", "not significant"),
    # significant but tolerated: a real but small drop
    ("accuracy", 0.89, 0.001, 0.90, ABS_002, 10**6, 0.9, "ok", "within tolerance"),
    # lower is better: drop = value − baseline
    ("log_loss", 0.40, 0.01, 0.30, ABS_002, 5000, 0.9, "degraded", "exceeds"),
    ("log_loss", 0.20, 0.01, 0.30, ABS_002, 5000, 0.9, "ok", "within"),
    ("mae", 11.5, 0.2, 10.0, REL_10, 5000, 0.9, "degraded", "0.1 relative to the reference"),
    ("mae", 10.9, 0.2, 10.0, REL_10, 5000, 0.9, "ok", "0.1 relative to the reference"),
    # relative tolerance on a higher-is-better metric: 0.80 → 0.70 is 12.5 % down
    ("roc_auc", 0.70, 0.01, 0.80, REL_10, 5000, 0.9, "degraded", "exceeds"),
    ("roc_auc", 0.73, 0.01, 0.80, REL_10, 5000, 0.9, "ok", "within"),
    # intervals: high must lie below the baseline (higher is better) …
    ("roc_auc", 0.70, (0.66, 0.79), 0.80, NONE, 5000, 0.9, "degraded", "exceeds"),
    ("roc_auc", 0.70, (0.66, 0.81), 0.80, NONE, 5000, 0.9, "ok", "not significant"),
    # … below baseline − tolerance with a tolerance
    ("roc_auc", 0.70, (0.66, 0.79), 0.80, ABS_002, 5000, 0.9, "ok", "not significant"),
    ("roc_auc", 0.70, (0.66, 0.77), 0.80, ABS_002, 5000, 0.9, "degraded", "exceeds"),
    # … and low above it when lower is better
    ("brier", 0.25, (0.21, 0.30), 0.20, NONE, 5000, 0.9, "degraded", "exceeds"),
    ("brier", 0.25, (0.19, 0.30), 0.20, NONE, 5000, 0.9, "ok", "not significant"),
    # an Interval whose bounds are missing falls back to its stderr
    ("roc_auc", 0.70, Interval(math.nan, math.nan, 0.01), 0.80, ABS_002, 5000, 0.9, "degraded", "exceeds"),
    (
        "roc_auc",
        0.70,
        Interval(math.nan, math.nan, math.nan),
        0.80,
        ABS_002,
        5000,
        0.9,
        "insufficient_labels",
        "",
    ),
]


@pytest.mark.parametrize(
    ("metric", "value", "uncertainty", "baseline", "tolerance", "n_labels", "coverage", "status", "reason"),
    JUDGE_CASES,
)
def test_judge_table(
    metric: str,
    value: float,
    uncertainty: Any,
    baseline: float,
    tolerance: Tolerance,
    n_labels: int,
    coverage: float,
    status: str,
    reason: str,
) -> None:
    verdict = judge(metric, value, uncertainty, baseline, tolerance, n_labels, coverage, GATE)
    assert verdict.status == status, verdict.reason
    assert reason in verdict.reason
    assert verdict.alerting == (status == "degraded")
    if status == "insufficient_labels":
        assert "no alert" in verdict.reason


def test_boundaries_are_strict() -> None:
    # drop exactly at the tolerance is fine, however small the noise
    at = judge("accuracy", 0.5, 0.0001, 0.75, Tolerance(0.25), 500, 1.0, GATE)
    assert at.status == "ok" and "within tolerance" in at.reason
    # drop − tolerance exactly at the noise (z·se = 2 · 0.125) is not significant; a hair more is
    # (binary fractions, so every number here is exact in floating point)
    at_noise = judge("log_loss", 1.0, 0.125, 0.5, Tolerance(0.25), 500, 1.0, GATE, z=2.0)
    assert at_noise.noise == 0.25 and at_noise.drop - at_noise.allowed_drop == 0.25
    assert at_noise.status == "ok" and "not significant" in at_noise.reason
    above = judge("log_loss", 1.0 + 2**-20, 0.125, 0.5, Tolerance(0.25), 500, 1.0, GATE, z=2.0)
    assert above.status == "degraded"


def test_baseline_uncertainty_widens_the_noise() -> None:
    args = ("log_loss", 0.44, 0.015, 0.40, NONE, 5000, 0.9, GATE)
    assert judge(*args).status == "degraded"  # noise 1.645·0.015 = 0.025 < 0.04
    with_baseline = judge(*args, baseline_stderr=0.02)  # noise 1.645·0.025 = 0.041 > 0.04
    assert with_baseline.status == "ok"
    assert with_baseline.noise == pytest.approx(DEFAULT_Z * math.hypot(0.015, 0.02))


def test_reference_spread_adds_in_quadrature() -> None:
    args = ("log_loss", 0.44, 0.015, 0.40, NONE, 5000, 0.9, GATE)
    plain = judge(*args, baseline_stderr=0.005)
    spread = judge(*args, baseline_stderr=0.005, spread=0.02**2)
    assert plain.status == "degraded" and spread.status == "ok"
    assert spread.noise == pytest.approx(DEFAULT_Z * math.sqrt(0.015**2 + 0.005**2 + 0.02**2))


def test_verdict_records_the_numbers() -> None:
    v = judge("mae", 12.0, 0.5, 10.0, REL_10, 1000, 0.5, GATE)
    assert v == Verdict("degraded", v.reason, "mae", 12.0, 10.0, 2.0, 1.0, pytest.approx(DEFAULT_Z * 0.5))


def test_one_sided_z_and_bonferroni() -> None:
    assert one_sided_z() == DEFAULT_Z == pytest.approx(1.6448536269514722, rel=1e-12)
    assert one_sided_z(0.95, 5) == pytest.approx(float(ndtri(0.99)), rel=1e-12)
    assert one_sided_z(0.975) == pytest.approx(1.959963984540054, rel=1e-12)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="confidence"):
            one_sided_z(bad)
    with pytest.raises(ValueError, match="tests"):
        one_sided_z(0.95, 0)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (970, 1000), (1, 1), (55, 1156)])
@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_wilson_limits_match_scipy(k: int, n: int, confidence: float) -> None:
    """Our one-sided-z Wilson limits equal scipy's two-sided Wilson interval at 2·confidence − 1."""
    z = one_sided_z(confidence)
    expected = binomtest(k, n).proportion_ci(2 * confidence - 1, method="wilson")
    low, high = wilson_limits(k / n, n, z)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_limits_undefined_without_trials() -> None:
    assert all(math.isnan(x) for x in wilson_limits(0.0, 0, 1.645))
    assert all(math.isnan(x) for x in wilson_limits(math.nan, 10, 1.645))


def test_proportions_use_wilson_limits_on_both_sides() -> None:
    """Newcombe's hybrid score margin: the window's upper and the reference's lower Wilson limit."""
    z = DEFAULT_Z
    v = judge(
        "accuracy",
        0.95,
        0.0069,
        0.97,
        NONE,
        1000,
        1.0,
        GATE,
        count=1000,
        baseline_stderr=0.001,
        baseline_count=30000,
    )
    _, window_high = wilson_limits(0.95, 1000, z)
    reference_low, _ = wilson_limits(0.97, 30000, z)
    assert v.noise == pytest.approx(math.hypot(window_high - 0.95, 0.97 - reference_low), rel=1e-12)
    assert v.status == "degraded"
    # near 1 the Wilson limit on the good side is tighter than the symmetric normal one
    assert window_high - 0.95 < z * math.sqrt(0.95 * 0.05 / 1000)


def test_auc_uses_logit_limits() -> None:
    z = DEFAULT_Z
    low, high = logit_limits(0.96, 0.005, z)
    assert 0.0 < low < 0.96 < high < 1.0
    assert high - 0.96 < 0.96 - low  # squeezed against the ceiling
    assert math.log(high / (1 - high)) - math.log(0.96 / 0.04) == pytest.approx(z * 0.005 / (0.96 * 0.04))
    v = judge("roc_auc", 0.960, 0.0050, 0.971, NONE, 1100, 1.0, GATE, baseline_stderr=0.0012)
    _, ref_high = logit_limits(0.971, 0.0012, z)
    ref_low, _ = logit_limits(0.971, 0.0012, z)
    assert v.noise == pytest.approx(math.hypot(high - 0.96, 0.971 - ref_low), rel=1e-12)
    assert v.status == "degraded"  # the case: 0.971 → 0.960 on ~1,100 labels
    # A perfect AUC has zero DeLong variance: limits collapse onto it, clipped inside [0, 1].
    assert logit_limits(1.0, 0.0, z) == (1.0, 1.0)
    assert all(math.isnan(x) for x in logit_limits(0.9, math.nan, z))


def test_gate_and_tolerance_validation() -> None:
    with pytest.raises(ValueError):
        PerformanceGate(min_labels=0)
    with pytest.raises(ValueError):
        PerformanceGate(min_coverage=1.5)
    with pytest.raises(ValueError):
        Tolerance(-0.1)
    with pytest.raises(ValueError, match="unknown metric"):
        judge("gini", 0.5, 0.01, 0.6, ABS_002, 500, 1.0, GATE)


# "online accuracy down 10 % week over week"
# now, prev, se_now, se_prev, n_now, n_prev, cov_now, cov_prev, expected status, words in the reason
WEEK_OVER_WEEK: list[tuple[Any, ...]] = [
    (0.72, 0.90, 0.01, 0.01, 5000, 5000, 0.8, 0.8, "degraded", "exceeds"),  # 20 % down
    (0.82, 0.90, 0.01, 0.01, 5000, 5000, 0.8, 0.8, "ok", "within"),  # 8.9 % down
    (0.72, 0.90, 0.07, 0.07, 120, 120, 0.8, 0.8, "ok", "not significant"),  # 20 % down, noise ~0.19
    (0.72, 0.90, 0.01, 0.01, 50, 5000, 0.8, 0.8, "insufficient_labels", "50 labelled rows"),
    (0.72, 0.90, 0.01, 0.01, 5000, 50, 0.8, 0.8, "insufficient_labels", "previous window: 50 labelled rows"),
    (0.72, 0.90, 0.01, 0.01, 5000, 5000, 0.8, 0.05, "insufficient_labels", "previous window: label coverage"),
    (0.72, math.nan, 0.01, math.nan, 5000, 5000, 0.8, 0.8, "insufficient_labels", "reference"),
    (0.99, 0.90, 0.01, 0.01, 5000, 5000, 0.8, 0.8, "ok", "within"),  # up, not down
]


@pytest.mark.parametrize(
    ("now", "prev", "se_now", "se_prev", "n_now", "n_prev", "cov_now", "cov_prev", "status", "reason"),
    WEEK_OVER_WEEK,
)
def test_week_over_week_table(
    now: float,
    prev: float,
    se_now: float,
    se_prev: float,
    n_now: int,
    n_prev: int,
    cov_now: float,
    cov_prev: float,
    status: str,
    reason: str,
) -> None:
    verdict = judge_against_previous(
        "accuracy",
        now,
        prev,
        stderr_now=se_now,
        stderr_prev=se_prev,
        n_now=n_now,
        n_prev=n_prev,
        coverage_now=cov_now,
        coverage_prev=cov_prev,
        gate=GATE,
        relative_drop=0.10,
    )
    assert verdict.status == status, verdict.reason
    assert reason in verdict.reason
    if status != "insufficient_labels":
        assert verdict.allowed_drop == pytest.approx(0.10 * prev)


def test_week_over_week_lower_is_better() -> None:
    common = dict(
        stderr_now=0.005, stderr_prev=0.005, n_now=900, n_prev=900, coverage_now=1.0, coverage_prev=1.0
    )
    assert judge_against_previous("rmse", 1.2, 1.0, gate=GATE, **common).status == "degraded"  # type: ignore[arg-type]
    assert judge_against_previous("rmse", 0.8, 1.0, gate=GATE, **common).status == "ok"  # type: ignore[arg-type]
