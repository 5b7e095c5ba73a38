"""CBPE: our isotonic regression, the calibrator's storage form, the expected-confusion formulas, and evidence
that the estimate tracks realized performance under covariate shift but not under concept drift."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from driftwatch.kernels.performance import pav_fit
from driftwatch.performance.estimation import (
    ESTIMATED_METRICS,
    Calibrator,
    estimate_performance,
    expected_roc_auc,
    fit_calibrator,
    fit_isotonic,
)
from driftwatch.performance.metrics import compute_metrics

BINARY = "binary_classification"


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- isotonic regression


def pav_naive(y: list[float], w: list[float]) -> list[float]:
    """Obviously correct, quadratic PAV: merge any adjacent violating blocks until none is left."""
    blocks = [[yi * wi, wi, 1] for yi, wi in zip(y, w, strict=True)]  # weighted sum, weight, size
    merged = True
    while merged:
        merged = False
        for i in range(len(blocks) - 1):
            if blocks[i][0] / blocks[i][1] > blocks[i + 1][0] / blocks[i + 1][1]:
                blocks[i] = [
                    blocks[i][0] + blocks[i + 1][0],
                    blocks[i][1] + blocks[i + 1][1],
                    blocks[i][2] + blocks[i + 1][2],
                ]
                del blocks[i + 1]
                merged = True
                break
    return [b[0] / b[1] for b in blocks for _ in range(int(b[2]))]


@pytest.mark.parametrize("seed", range(8))
def test_pav_kernel_matches_naive_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    y = rng.normal(size=n) + np.linspace(0, rng.uniform(-2, 2), n)
    w = rng.uniform(0.1, 3.0, n)
    fast = pav_fit(y, w)
    assert np.all(np.diff(fast) >= 0)
    np.testing.assert_allclose(fast, pav_naive(y.tolist(), w.tolist()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("binary_y", [False, True])
def test_isotonic_matches_sklearn_clip(seed: int, binary_y: bool) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    x = np.round(rng.normal(size=n), 1)  # many ties in x
    y = (
        (rng.random(n) < sigmoid(2 * x)).astype(float)
        if binary_y
        else x * rng.uniform(-1, 2) + rng.normal(size=n)
    )
    w = rng.uniform(0.2, 2.0, n) if seed % 2 else None
    knots_x, knots_y = fit_isotonic(x, y, w)
    reference = IsotonicRegression(out_of_bounds="clip").fit(x, y, sample_weight=w)
    query = np.concatenate([np.linspace(x.min() - 1, x.max() + 1, 300), x])
    np.testing.assert_allclose(
        np.interp(query, knots_x, knots_y), reference.predict(query), rtol=1e-10, atol=1e-12
    )
    assert knots_x.size <= np.unique(x).size


def test_isotonic_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        fit_isotonic([], [])
    with pytest.raises(ValueError):
        fit_isotonic([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError):
        fit_isotonic([0.1, 0.2], [0, 1], [1.0, 0.0])


# ---------------------------------------------------------------- calibrator


def reference_sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(0.0, 1.0, n)
    return model_score(x), labels_for(rng, x)


def model_score(x: np.ndarray) -> np.ndarray:
    # Monotone in the true log-odds but miscalibrated (too confident, shifted): the calibrator must fix it.
    return sigmoid(1.3 * (-1.0 + 2.0 * x) + 0.4)


def test_calibrator_round_trips_through_json() -> None:
    rng = np.random.default_rng(0)
    cal = fit_calibrator(*reference_sample(rng, 3000))
    payload = json.loads(json.dumps(cal.to_dict()))
    again = Calibrator.from_dict(payload)
    assert again == cal
    scores = rng.random(100)
    np.testing.assert_array_equal(again.predict(scores), cal.predict(scores))
    assert len(cal.knots_x) < 300  # PAV blocks, not one knot per reference row
    with pytest.raises(ValueError, match="unsupported calibrator format"):
        Calibrator.from_dict({**payload, "version": 99})


def test_calibrator_validation_and_missing_rows() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_calibrator([0.1, 0.5, 0.9], [0, 0, 0])
    with pytest.raises(ValueError):
        Calibrator((0.0, 1.0), (0.8, 0.2), 2)  # decreasing
    cal = fit_calibrator([0.1, np.nan, 0.9, 0.4], [0.0, 1.0, 1.0, np.nan])
    assert cal.n_reference == 2
    assert cal.predict([0.0, 0.5, 1.0]).tolist() == [0.0, 0.5, 1.0]


def test_calibrated_probabilities_match_the_truth() -> None:
    rng = np.random.default_rng(1)
    cal = fit_calibrator(*reference_sample(rng, 50_000))
    x = np.linspace(-1.5, 1.5, 50)
    np.testing.assert_allclose(cal.predict(model_score(x)), sigmoid(-1.0 + 2.0 * x), atol=0.06)


# ---------------------------------------------------------------- the estimate's formulas


def expected_auc_naive(s: np.ndarray, p: np.ndarray) -> float:
    num = den = 0.0
    for i in range(s.size):
        for j in range(s.size):
            if i != j:
                h = 1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0
                num += p[i] * (1 - p[j]) * h
                den += p[i] * (1 - p[j])
    return num / den


IDENTITY = Calibrator((0.0, 1.0), (0.0, 1.0), 0)


@pytest.mark.parametrize("seed", range(4))
def test_estimates_match_naive_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = np.round(rng.random(40), 1)
    est = estimate_performance(IDENTITY, s, threshold=0.45)
    predicted = s >= 0.45
    tp, fp = s[predicted].sum(), (1 - s[predicted]).sum()
    fn, tn = s[~predicted].sum(), (1 - s[~predicted]).sum()
    assert est["accuracy"] == pytest.approx((tp + tn) / s.size, rel=1e-12)
    assert est["precision"] == pytest.approx(tp / (tp + fp), rel=1e-12)
    assert est["recall"] == pytest.approx(tp / (tp + fn), rel=1e-12)
    assert est["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-12)
    assert est["roc_auc"] == pytest.approx(expected_auc_naive(s, s), rel=1e-12)
    assert expected_roc_auc(s, s) == est["roc_auc"]


def test_accuracy_estimate_is_the_expected_realized_accuracy() -> None:
    """Labels drawn from the calibrated probabilities themselves: the mean realized accuracy over many draws
    is the estimate (exactly, up to Monte-Carlo error; sd of the mean ≈ 0.0007 here)."""
    rng = np.random.default_rng(2)
    p = rng.beta(2, 3, 400)
    draws = rng.random((2000, p.size)) < p
    realized = ((p >= 0.5) == draws).mean(axis=1)
    assert estimate_performance(IDENTITY, p)["accuracy"] == pytest.approx(realized.mean(), abs=0.003)


def test_estimate_edge_cases() -> None:
    empty = estimate_performance(IDENTITY, [np.nan, np.nan])
    assert set(empty) == set(ESTIMATED_METRICS) and all(math.isnan(v) for v in empty.values())
    none_predicted = estimate_performance(IDENTITY, [0.1, 0.2, 0.3])
    assert none_predicted["precision"] == 0.0  # zero-division → 0, like the realized metric
    assert math.isnan(estimate_performance(IDENTITY, [0.0, 0.0])["roc_auc"])  # no expected positives
    # ±inf is dropped like a missing score (a row stored before ingest refused it must not stop a cycle).
    assert estimate_performance(IDENTITY, [0.1, np.inf, -np.inf, 0.7]) == estimate_performance(
        IDENTITY, [0.1, 0.7]
    )


# ---------------------------------------------------------------- evidence

WINDOW = 5_000
# Realized accuracy has sd ≤ sqrt(0.25 / 5000) ≈ 0.007 around its expectation, realized AUC ≈ 0.006-0.008
# (Hanley-McNeil at AUC 0.75-0.9 with these prevalences); the calibrator fitted on 20,000 reference rows adds
# ≈ 0.005. 0.03 is about 4 sd. Precision/recall/F1 rest on fewer rows (predicted or actual positives only),
# so their sd is about twice that and they get twice the tolerance.
TOLERANCE = {"roc_auc": 0.03, "accuracy": 0.03, "precision": 0.06, "recall": 0.06, "f1": 0.06}
# (mean, sd) of the feature per window: the score distribution moves, P(y | score) does not.
SHIFTED_WINDOWS = [(0.0, 1.0), (-0.7, 1.0), (0.5, 0.8), (1.0, 1.2), (0.3, 0.5)]


def labels_for(rng: np.random.Generator, x: np.ndarray, slope: float = 2.0) -> np.ndarray:
    """Labels with P(y = 1 | x) = σ(−1 + slope·x); slope 2 is the reference's relation."""
    return (rng.random(x.size) < sigmoid(-1.0 + slope * x)).astype(int)


def window(rng: np.random.Generator, mean: float, sd: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(mean, sd, WINDOW)
    return model_score(x), labels_for(rng, x)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_estimate_tracks_realized_performance_under_covariate_shift(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cal = fit_calibrator(*reference_sample(rng, 20_000))
    realized_auc = []
    for mean, sd in SHIFTED_WINDOWS:
        scores, labels = window(rng, mean, sd)
        realized = compute_metrics(BINARY, labels, scores)
        estimated = estimate_performance(cal, scores)
        for name, tolerance in TOLERANCE.items():
            assert abs(estimated[name] - realized[name]) <= tolerance, (mean, sd, name, estimated, realized)
        realized_auc.append(realized["roc_auc"])
    # The shift is real: performance moves far more across windows than the tolerance.
    assert max(realized_auc) - min(realized_auc) > 0.1


@pytest.mark.parametrize("slope", [0.5, -2.0])  # weaker, then reversed relation between x and y
def test_estimate_does_not_see_concept_drift(slope: float) -> None:
    """Known limitation: the estimate depends on the scores only, so a change in P(y | x) is invisible."""
    rng = np.random.default_rng(5)
    cal = fit_calibrator(*reference_sample(rng, 20_000))
    x = rng.normal(0.0, 1.0, WINDOW)
    scores = model_score(x)
    drifted_labels = labels_for(rng, x, slope)
    undrifted_labels = labels_for(rng, x)
    estimated = estimate_performance(cal, scores)
    realized_drifted = compute_metrics(BINARY, drifted_labels, scores)
    realized_undrifted = compute_metrics(BINARY, undrifted_labels, scores)
    # It still reports what the model would score had nothing changed …
    assert abs(estimated["roc_auc"] - realized_undrifted["roc_auc"]) <= TOLERANCE["roc_auc"]
    assert abs(estimated["accuracy"] - realized_undrifted["accuracy"]) <= TOLERANCE["accuracy"]
    # … while realized performance has fallen far below it.
    assert estimated["roc_auc"] - realized_drifted["roc_auc"] > 0.15
    assert estimated["accuracy"] - realized_drifted["accuracy"] > 0.1
