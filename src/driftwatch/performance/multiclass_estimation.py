"""Multiclass CBPE: a multiclass classifier's accuracy and macro metrics from its per-class probabilities alone.

The binary method (`performance.estimation`) extended one class at a time, as NannyML's multiclass CBPE does:

1. **Calibration** (on the reference): for each class c an isotonic map g_c from the model's probability column
   P[:, c] to P(y = c | P[:, c]) (one-vs-rest, the same pool-adjacent-violators fit as the binary
   calibrator); the K calibrated values of a row are renormalised to sum to 1 (one-vs-rest fits do not by
   themselves). A row whose calibrated values are all 0 keeps the model's own probabilities.
2. **Expected confusion matrix** (per window, no labels): with p̂_i the calibrated row and ŷ_i = argmax P[i]
   (the model's prediction, as the realized metrics take it), E[C[c, k]] = Σ_{i: ŷ_i = k} p̂_ic.
   Per class: E[TP_c] = Σ_{ŷ=c} p̂_ic, E[FP_c] = Σ_{ŷ=c} (1 − p̂_ic), E[FN_c] = Σ_{ŷ≠c} p̂_ic.
   accuracy = Σ_i p̂_{i,ŷ_i} / n (an exact expectation); precision_c = E[TP_c] / (E[TP_c] + E[FP_c]),
   recall_c = E[TP_c] / (E[TP_c] + E[FN_c]), F1_c = 2E[TP_c] / (2E[TP_c] + E[FP_c] + E[FN_c]) (ratios of
   expectations), macro = their mean over the classes with E[TP_c + FP_c + FN_c] > 0. Micro precision, recall
   and F1 all equal accuracy for single-label multiclass, so they are not repeated.
   roc_auc_ovr_macro = the mean over classes of the binary expected AUC of column c ranked by P[:, c] with
   positive probabilities p̂_ic (`estimation.expected_roc_auc`).
3. **Interval**: what the realized metric would be if the labels arrived. Given the scores, each row's label is
   drawn from its calibrated row p̂_i independently (the assumption CBPE makes anyway); the realized metric over
   ``n_draws`` such label draws (seeded) has a distribution whose percentiles are the interval. For accuracy this
   is the Poisson-binomial distribution of Σ 1[y_i = ŷ_i] / n. It covers the labels' sampling noise, not the
   calibrator's own estimation error (small with a reference of thousands of rows; docs/decision-evidence.md
   measures the coverage this gives).

Assumptions: P(y | P) is the same in the window as on the reference (covariate shift only; concept drift is
invisible), labels independent given the scores. Source: NannyML documentation, "Estimating performance for
multiclass classification" and "CBPE" (docs.nannyml.com).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwatch.performance.estimation import Calibrator, expected_roc_auc, fit_isotonic
from driftwatch.performance.metrics import TieGroups
from driftwatch.performance.uncertainty import DEFAULT_CONFIDENCE, Interval

MULTICLASS_ESTIMATED: tuple[str, ...] = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc_ovr_macro",
)
DEFAULT_DRAWS = 200
_CHUNK_CELLS = 2_000_000  # draws × rows held at once (about 16 MB of float64 per array)
_FORMAT = "multiclass-isotonic-ovr"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class MulticlassCalibrator:
    """One isotonic calibrator per class column, in the order of ``classes``."""

    classes: tuple[Any, ...]
    per_class: tuple[Calibrator, ...]

    def __post_init__(self) -> None:
        if len(self.classes) < 2 or len(self.classes) != len(self.per_class):
            raise ValueError("a multiclass calibrator needs one calibrator per class, at least two classes")

    def predict(self, proba: ArrayLike) -> NDArray[np.float64]:
        """Calibrated, renormalised (n, K) probabilities (see the module docstring, step 1)."""
        p = checked_probabilities(proba, len(self.classes))
        calibrated = np.column_stack([cal.predict(p[:, c]) for c, cal in enumerate(self.per_class)])
        total = calibrated.sum(axis=1, keepdims=True)
        # A row every class calibrates to 0 (possible at the ends of the isotonic fits) keeps the model's row.
        return np.where(total > 0.0, calibrated / np.where(total > 0.0, total, 1.0), p)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "classes": list(self.classes),
            "per_class": [cal.to_dict() for cal in self.per_class],
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> MulticlassCalibrator:
        if payload.get("format") != _FORMAT or payload.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"unsupported calibrator format {payload.get('format')!r} v{payload.get('version')!r};"
                f" expected {_FORMAT!r} v{_FORMAT_VERSION}"
            )
        return cls(tuple(payload["classes"]), tuple(Calibrator.from_dict(c) for c in payload["per_class"]))


def checked_probabilities(proba: ArrayLike, n_classes: int) -> NDArray[np.float64]:
    """The (n, K) probability matrix as float64, finite, in [0, 1]; rows with a NaN are the caller's to drop."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise ValueError(
            f"expected an (n, {n_classes}) matrix of per-class probabilities, got shape {p.shape}"
        )
    if np.isinf(p).any():
        raise ValueError("per-class probabilities contain ±inf")
    finite = p[np.isfinite(p)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise ValueError("per-class probabilities must lie in [0, 1]")
    return p


def fit_multiclass_calibrator(
    ref_proba: ArrayLike, ref_labels: ArrayLike, classes: Sequence[Any]
) -> MulticlassCalibrator:
    """One-vs-rest isotonic calibrators of P(y = c | P[:, c]) from the reference's probabilities and labels.

    Rows with a missing label or any missing probability are dropped; every class must occur and not be the
    only one (a class never seen, or always seen, has no calibration to learn).
    """
    p = checked_probabilities(ref_proba, len(classes))
    labels = np.asarray(ref_labels, dtype=object)
    if labels.ndim != 1 or labels.shape[0] != p.shape[0]:
        raise ValueError(f"labels must be 1-D with {p.shape[0]} rows, got shape {labels.shape}")
    keep = np.isfinite(p).all(axis=1) & np.array([not _missing(v) for v in labels], dtype=bool)
    p, labels = p[keep], labels[keep]
    calibrators = []
    for c, name in enumerate(classes):
        is_c = np.array([v == name for v in labels], dtype=np.float64)
        if is_c.size == 0 or is_c.min() == is_c.max():
            raise ValueError(
                f"class {name!r} needs labelled rows of it and of other classes in the reference"
            )
        knots_x, knots_y = fit_isotonic(p[:, c], is_c)
        calibrators.append(Calibrator(tuple(knots_x.tolist()), tuple(knots_y.tolist()), int(is_c.size)))
    return MulticlassCalibrator(tuple(classes), tuple(calibrators))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _ratio(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _macro(
    tp: NDArray[np.float64], true_count: NDArray[np.float64], pred_count: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """Macro precision/recall/F1 from (…, K) per-class TP, true and predicted counts (expected or drawn)."""
    present = (true_count + pred_count) > 0
    n_present = present.sum(axis=-1).astype(np.float64)
    out = {}
    for name, values in (
        ("precision_macro", _ratio(tp, pred_count)),
        ("recall_macro", _ratio(tp, true_count)),
        ("f1_macro", _ratio(2.0 * tp, true_count + pred_count)),
    ):
        out[name] = np.where(n_present > 0, np.where(present, values, 0.0).sum(axis=-1), np.nan) / np.where(
            n_present > 0, n_present, 1.0
        )
    return out


def estimate_multiclass(calibrator: MulticlassCalibrator, proba: ArrayLike) -> dict[str, float]:
    """Point estimates of ``MULTICLASS_ESTIMATED`` for a window's (n, K) probabilities (module docstring, step 2).

    Rows with any missing probability are dropped; an empty window gives NaN everywhere.
    """
    p = checked_probabilities(proba, len(calibrator.classes))
    p = p[np.isfinite(p).all(axis=1)]
    if p.shape[0] == 0:
        return dict.fromkeys(MULTICLASS_ESTIMATED, float("nan"))
    q = calibrator.predict(p)
    predicted = np.argmax(p, axis=1)
    onehot = np.eye(p.shape[1], dtype=np.float64)[predicted]
    tp = (q * onehot).sum(axis=0)
    expected_true = q.sum(axis=0)
    pred_count = onehot.sum(axis=0)
    out = {"accuracy": float(tp.sum() / p.shape[0])}
    out.update({k: float(v) for k, v in _macro(tp, expected_true, pred_count).items()})
    aucs = [expected_roc_auc(p[:, c], q[:, c]) for c in range(p.shape[1])]
    defined = [a for a in aucs if np.isfinite(a)]
    out["roc_auc_ovr_macro"] = float(np.mean(defined)) if defined else float("nan")
    return out


def _drawn_metrics(
    q: NDArray[np.float64],
    predicted: NDArray[np.intp],
    ranks: NDArray[np.float64],
    rng: np.random.Generator,
    k: int,
) -> dict[str, NDArray[np.float64]]:
    """The realized metrics under k label draws y_i ~ Categorical(q_i)."""
    n, n_classes = q.shape
    cumulative = np.cumsum(q, axis=1)
    cumulative[:, -1] = 1.0  # rounding must not leave a draw past the last class
    u = rng.random((k, n))
    # The first class whose cumulative probability exceeds u: a categorical draw per row and draw.
    drawn = (u[:, :, None] >= cumulative[None, :, :]).sum(axis=2)
    tp = np.empty((k, n_classes))
    true_count = np.empty((k, n_classes))
    pred_count = np.bincount(predicted, minlength=n_classes).astype(np.float64)
    aucs = np.full((k, n_classes), np.nan)
    for c in range(n_classes):
        is_c = drawn == c
        tp[:, c] = is_c[:, predicted == c].sum(axis=1)
        true_count[:, c] = is_c.sum(axis=1)
        # Mann–Whitney with mid-ranks of the (fixed) scores: (Σ ranks of positives − n1(n1+1)/2) / (n1 n0).
        n1 = true_count[:, c]
        n0 = n - n1
        rank_sum = is_c.astype(np.float64) @ ranks[:, c]
        ok = (n1 > 0) & (n0 > 0)
        aucs[ok, c] = (rank_sum[ok] - n1[ok] * (n1[ok] + 1) / 2.0) / (n1[ok] * n0[ok])
    out = {"accuracy": tp.sum(axis=1) / n}
    out.update(_macro(tp, true_count, np.broadcast_to(pred_count, tp.shape)))
    defined = np.isfinite(aucs)
    count = defined.sum(axis=1)
    out["roc_auc_ovr_macro"] = np.where(
        count > 0, np.where(defined, aucs, 0.0).sum(axis=1) / np.maximum(count, 1), np.nan
    )
    return out


def multiclass_estimate_intervals(
    calibrator: MulticlassCalibrator,
    proba: ArrayLike,
    *,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Interval]:
    """Interval(low, high, stderr) of each estimate: percentiles (and standard deviation) of the realized metric
    over ``n_draws`` seeded label draws from the calibrated probabilities (module docstring, step 3)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    p = checked_probabilities(proba, len(calibrator.classes))
    p = p[np.isfinite(p).all(axis=1)]
    nan = Interval(float("nan"), float("nan"), float("nan"))
    if p.shape[0] == 0 or n_draws < 2:
        return dict.fromkeys(MULTICLASS_ESTIMATED, nan)
    q = calibrator.predict(p)
    predicted = np.argmax(p, axis=1).astype(np.intp)
    ranks = np.column_stack([mid_ranks(p[:, c]) for c in range(p.shape[1])])
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_draws, _CHUNK_CELLS // (p.shape[0] * p.shape[1])))
    parts: dict[str, list[NDArray[np.float64]]] = {m: [] for m in MULTICLASS_ESTIMATED}
    done = 0
    while done < n_draws:
        k = min(chunk, n_draws - done)
        for name, values in _drawn_metrics(q, predicted, ranks, rng, k).items():
            parts[name].append(values)
        done += k
    return {name: draw_interval(np.concatenate(values), confidence) for name, values in parts.items()}


def mid_ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks, ties given the mean of their ranks (scipy's ``rankdata(method="average")``)."""
    groups = TieGroups.of(values)
    starts = np.concatenate([[0], groups.run_ends[:-1]])
    per_run = (starts + 1 + groups.run_ends) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(values.size)
    ranks[groups.order] = np.repeat(per_run, groups.run_ends - starts)
    return ranks


def draw_interval(samples: NDArray[np.float64], confidence: float) -> Interval:
    """Percentile interval and standard deviation of a metric's draws (NaN when fewer than half are finite)."""
    finite = samples[np.isfinite(samples)]
    if finite.size < max(2, samples.size // 2):
        return Interval(float("nan"), float("nan"), float("nan"))
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Interval(float(low), float(high), float(np.std(finite, ddof=1)))


BINARY_ESTIMATED: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1")


def binary_estimate_intervals(
    calibrator: Calibrator,
    scores: ArrayLike,
    *,
    threshold: float = 0.5,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Interval]:
    """The binary CBPE estimates' intervals, as for multiclass (module docstring, step 3): labels drawn
    y_i ~ Bernoulli(calibrator(s_i)) ``n_draws`` seeded times, each draw scored as the realized metrics score it
    (ŷ = 1[s ≥ threshold]; AUC by Mann–Whitney on the scores' mid-ranks; zero-division → 0)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0 or n_draws < 2:
        return dict.fromkeys(BINARY_ESTIMATED, Interval(float("nan"), float("nan"), float("nan")))
    p = calibrator.predict(s)
    predicted = (s >= threshold).astype(np.float64)
    ranks = mid_ranks(s)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_draws, _CHUNK_CELLS // s.size))
    parts: dict[str, list[NDArray[np.float64]]] = {m: [] for m in BINARY_ESTIMATED}
    done = 0
    while done < n_draws:
        k = min(chunk, n_draws - done)
        positive = (rng.random((k, s.size)) < p).astype(np.float64)
        tp = positive @ predicted
        n1 = positive.sum(axis=1)
        n0 = s.size - n1
        auc = np.full(k, np.nan)
        ok = (n1 > 0) & (n0 > 0)
        auc[ok] = ((positive @ ranks)[ok] - n1[ok] * (n1[ok] + 1) / 2.0) / (n1[ok] * n0[ok])
        predicted_count = np.full(k, predicted.sum())
        fp, fn = predicted_count - tp, n1 - tp
        drawn = {
            "roc_auc": auc,
            "accuracy": (tp + (s.size - predicted_count - fn)) / s.size,
            "precision": _ratio(tp, predicted_count),
            "recall": _ratio(tp, n1),
            "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        }
        for name, values in drawn.items():
            parts[name].append(values)
        done += k
    return {name: draw_interval(np.concatenate(values), confidence) for name, values in parts.items()}
