"""Confidence-based performance estimation (CBPE) for binary classifiers: performance without labels.

CBPE (NannyML, "Confidence-based Performance Estimation", docs.nannyml.com) reads a calibrated score as
the probability that the row is positive. Fit a calibrator on the reference (scores and true labels), then
for an unlabelled window the confusion matrix has an expectation computable from scores alone.

Assumption (the whole method rests on it): P(y = 1 | score) is the same in the window as in the reference,
i.e. only covariate shift. Concept drift, where P(y | x) changes, is invisible to it by construction: the
estimate depends on the scores only. It also assumes the rows' labels are independent given the scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwatch.kernels.performance import pav_fit
from driftwatch.performance.metrics import TieGroups, usable_rows

ESTIMATED_METRICS: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1")
_FORMAT = "isotonic-pav"
_FORMAT_VERSION = 1


def fit_isotonic(
    x: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Non-decreasing least-squares fit of y on x; returns its breakpoints (knots_x, knots_y).

    Equal x values are pooled first (weighted mean of y, summed weight), then pool-adjacent-violators gives
    the fit at each distinct x; interior points of flat runs are dropped, since linear interpolation between
    the run's ends gives the same values. Prediction interpolates linearly between knots and holds the end
    values outside them: the same function as ``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip")``.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    ws = np.ones_like(xs) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape or xs.shape != ws.shape:
        raise ValueError(
            f"x, y and weights must be aligned 1-D arrays, got {xs.shape}, {ys.shape}, {ws.shape}"
        )
    if xs.size == 0:
        raise ValueError("cannot fit an isotonic curve to no points")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all() and np.isfinite(ws).all() and (ws > 0).all()):
        raise ValueError("x and y must be finite and weights finite and positive")
    distinct, inverse = np.unique(xs, return_inverse=True)
    # bincount with float weights returns float64 (numpy's stubs say intp for every call).
    weight = np.bincount(inverse, weights=ws, minlength=distinct.size).astype(np.float64, copy=False)
    mean_y = np.bincount(inverse, weights=ws * ys, minlength=distinct.size) / weight
    fitted = pav_fit(mean_y, weight)
    # Keep a point unless it has the same fitted value as both neighbours (interior of a flat run).
    keep = np.ones(distinct.size, dtype=bool)
    if distinct.size > 2:
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return distinct[keep], fitted[keep]


@dataclass(frozen=True)
class Calibrator:
    """Monotone map from a raw score to P(y = 1 | score), stored as isotonic breakpoints."""

    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    n_reference: int

    def __post_init__(self) -> None:
        if len(self.knots_x) == 0 or len(self.knots_x) != len(self.knots_y):
            raise ValueError("calibrator needs as many knots_y as knots_x, at least one")
        x = np.asarray(self.knots_x)
        y = np.asarray(self.knots_y)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("calibrator knots must be finite")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0) or y.min() < 0.0 or y.max() > 1.0:
            raise ValueError("calibrator knots must have increasing x and non-decreasing y in [0, 1]")

    def predict(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Calibrated probabilities: linear between knots, the end values outside them (NaN stays NaN)."""
        s = np.asarray(scores, dtype=np.float64)
        return np.interp(s, np.asarray(self.knots_x), np.asarray(self.knots_y))

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-ready description for storage; ``from_dict`` reverses it exactly."""
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "knots_x": list(self.knots_x),
            "knots_y": list(self.knots_y),
            "n_reference": self.n_reference,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Calibrator:
        if payload.get("format") != _FORMAT or payload.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"unsupported calibrator format {payload.get('format')!r} v{payload.get('version')!r};"
                f" expected {_FORMAT!r} v{_FORMAT_VERSION}"
            )
        return cls(
            tuple(float(v) for v in payload["knots_x"]),
            tuple(float(v) for v in payload["knots_y"]),
            int(payload["n_reference"]),
        )


def fit_calibrator(ref_scores: ArrayLike, ref_labels: ArrayLike, *, positive_label: Any = 1) -> Calibrator:
    """Isotonic calibrator of P(y = positive_label | score) from reference scores and their true labels.

    Rows with a missing score or label are dropped (as for the realized metrics); both classes must be
    present, otherwise every estimate would be degenerate.
    """
    scores = np.asarray(ref_scores, dtype=np.float64)
    labels = np.asarray(ref_labels)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(
            f"scores and labels must be aligned 1-D arrays, got {scores.shape} and {labels.shape}"
        )
    if np.isinf(scores).any():
        raise ValueError("reference scores contain ±inf")
    keep = usable_rows(labels, scores)
    positive = np.asarray(labels[keep] == positive_label, dtype=np.float64)
    if positive.size == 0 or positive.min() == positive.max():
        raise ValueError("the reference needs labelled rows of both classes to fit a calibrator")
    knots_x, knots_y = fit_isotonic(scores[keep], positive)
    return Calibrator(tuple(knots_x.tolist()), tuple(knots_y.tolist()), int(positive.size))


def expected_roc_auc(scores: NDArray[np.float64], probabilities: NDArray[np.float64]) -> float:
    """Expected ROC AUC when row i is positive with probability p_i, independently, ranked by its raw score s_i.

    AUC_est = [Σ_{i≠j} p_i (1 − p_j) H(s_i − s_j)] / [Σ_{i≠j} p_i (1 − p_j)], H(d) = 1, ½, 0 for d >, =, < 0:
    the expected Mann–Whitney numerator over the expected number of (positive, negative) pairs, i ≠ j because a
    row cannot be both. Computed as the all-pairs sums minus the diagonal: C − ½ Σ p_i(1 − p_i) over
    Σp · Σ(1 − p) − Σ p_i(1 − p_i). NaN when the denominator is 0. The ratio of expectations, as in CBPE's
    AUC (which integrates the expected ROC curve); it is not exactly E[AUC], but the gap is O(1/n).
    """
    concordance = float(TieGroups.of(scores).concordance(np.ones((1, scores.size)), probabilities)[0])
    diagonal = float(np.sum(probabilities * (1.0 - probabilities)))
    denominator = float(probabilities.sum() * (1.0 - probabilities).sum()) - diagonal
    if denominator <= 0.0:
        return float("nan")
    return (concordance - 0.5 * diagonal) / denominator


def estimate_performance(
    calibrator: Calibrator, scores: ArrayLike, threshold: float = 0.5
) -> dict[str, float]:
    """CBPE estimates of ``ESTIMATED_METRICS`` for an unlabelled window of raw scores.

    With p_i = calibrator(s_i) and ŷ_i = 1[s_i ≥ threshold] (the realized metrics' rule):
    E[TP] = Σ_{ŷ=1} p_i, E[FP] = Σ_{ŷ=1} (1 − p_i), E[FN] = Σ_{ŷ=0} p_i, E[TN] = Σ_{ŷ=0} (1 − p_i);
    accuracy = (E[TP] + E[TN]) / n (an exact expectation); precision = E[TP] / (E[TP] + E[FP]),
    recall = E[TP] / (E[TP] + E[FN]), F1 = 2E[TP] / (2E[TP] + E[FP] + E[FN]) (ratios of expectations,
    zero-division → 0 as for the realized metrics); roc_auc = :func:`expected_roc_auc`.
    Missing scores are dropped, and so are ±inf: ingest refuses them (docs/values.md), but a row stored before
    it did must not stop every later cycle, and an infinite score has no calibrated probability anyway. An
    empty window gives NaN everywhere. Source: NannyML CBPE documentation.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    s = s[np.isfinite(s)]
    if s.size == 0:
        return dict.fromkeys(ESTIMATED_METRICS, float("nan"))
    p = calibrator.predict(s)
    predicted = s >= threshold
    tp = float(p[predicted].sum())
    fp = float((1.0 - p[predicted]).sum())
    fn = float(p[~predicted].sum())
    tn = float((1.0 - p[~predicted]).sum())

    def ratio(numerator: float, denominator: float) -> float:
        return numerator / denominator if denominator > 0.0 else 0.0

    return {
        "roc_auc": expected_roc_auc(s, p),
        "accuracy": (tp + tn) / s.size,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2.0 * tp, 2.0 * tp + fp + fn),
    }
