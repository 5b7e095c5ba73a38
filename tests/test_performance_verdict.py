"""Verdicts: the label gate, tolerance AND sampling error, direction per metric, period over period."""

from __future__ import annotations

import math
from typing import Any

import pytest

from driftwatch.performance.uncertainty import Interval
from driftwatch.performance.verdict import (
    PerformanceGate,
    Tolerance,
    Verdict,
    judge,
    judge_against_previous,
)

GATE = PerformanceGate(min_labels=100, min_coverage=0.2)
ABS_002 = Tolerance(0.02)
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
        "exceeds tolerance 0.02 and sampling noise",
    ),
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
    ("roc_auc", 0.70, (0.66, 0.79), 0.80, ABS_002, 5000, 0.9, "degraded", "exceeds"),
    ("roc_auc", 0.70, (0.66, 0.81), 0.80, ABS_002, 5000, 0.9, "ok", "not significant"),
    # … and low above it when lower is better
    ("brier", 0.25, (0.21, 0.30), 0.20, ABS_002, 5000, 0.9, "degraded", "exceeds"),
    ("brier", 0.25, (0.19, 0.30), 0.20, ABS_002, 5000, 0.9, "ok", "not significant"),
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
    # drop exactly at the tolerance is fine; a hair above (and clearly significant) is not
    # (binary fractions, so the drops are exact in floating point)
    at = judge("accuracy", 0.5, 0.0001, 0.75, Tolerance(0.25), 500, 1.0, GATE)
    above = judge("accuracy", 0.4999, 0.0001, 0.75, Tolerance(0.25), 500, 1.0, GATE)
    assert (at.status, above.status) == ("ok", "degraded")
    # drop exactly at the noise (z·se = 2 · 0.125) is not significant
    at_noise = judge("accuracy", 0.5, 0.125, 0.75, Tolerance(0.0), 500, 1.0, GATE, z=2.0)
    assert at_noise.status == "ok" and "not significant" in at_noise.reason


def test_baseline_uncertainty_widens_the_noise() -> None:
    args = ("roc_auc", 0.76, 0.015, 0.80, Tolerance(0.02), 5000, 0.9, GATE)
    assert judge(*args).status == "degraded"  # noise 1.96·0.015 = 0.029 < 0.04
    with_baseline = judge(*args, baseline_stderr=0.015)  # noise 1.96·0.0212 = 0.042 > 0.04
    assert with_baseline.status == "ok"
    assert with_baseline.noise == pytest.approx(1.96 * math.hypot(0.015, 0.015))


def test_verdict_records_the_numbers() -> None:
    v = judge("mae", 12.0, 0.5, 10.0, REL_10, 1000, 0.5, GATE)
    assert v == Verdict("degraded", v.reason, "mae", 12.0, 10.0, 2.0, 1.0, pytest.approx(0.98))


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
