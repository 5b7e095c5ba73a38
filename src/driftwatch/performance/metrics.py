"""Realized model-performance metrics for binary, multiclass and regression tasks.

Every metric is written as a function of row weights, so one code path serves the point estimate (all weights
1) and the bootstrap (weights = how often each row was drawn, see ``uncertainty.py``). Definitions follow
scikit-learn 1.9 and are tested against it; where we differ on purpose the docstring says so.

Conventions (also in docs/performance.md):

- Missing values: a row whose truth or score/prediction is missing (NaN, None; for per-class probabilities
  any NaN in the row) is dropped before every metric, so all metrics of a window (and their intervals) use
  the same rows. :func:`usable_rows` returns that mask so callers count labels the same way. ±inf is rejected
  with ``ValueError`` (an infinite score or target is a bug upstream, not a missing value).
- Empty input (after dropping) gives NaN for every metric.
- Binary: a row is positive when ``y_true == positive_label`` (anything else is negative; more than two
  distinct truth values is an error). The predicted class is ``score >= threshold``. Precision, recall and F1
  use zero-division → 0, like sklearn's ``zero_division=0``. ROC AUC is NaN when only one class is present
  (sklearn 1.9 returns NaN with a warning). Log loss and Brier need probabilities: when any score lies outside
  [0, 1] they are NaN (the other metrics still hold, e.g. for margin scores with threshold 0).
- Multiclass: see :func:`prepare_task_data`; macro averages run over the classes present in truth or
  prediction (sklearn's default ``labels=None``); OvR AUC over the classes present in truth.
- Regression: R² is NaN below two rows; with constant truth it is 1.0 for a perfect prediction else 0.0
  (sklearn's ``force_finite=True``), constant meaning all values equal, tested exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwatch.kernels.performance import tied_concordance

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
TASKS: tuple[str, ...] = (BINARY, MULTICLASS, REGRESSION)

METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier"),
    MULTICLASS: ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_ovr_macro", "log_loss"),
    REGRESSION: ("mae", "rmse", "mape", "r2"),
}

HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
    "precision_macro": True,
    "recall_macro": True,
    "f1_macro": True,
    "roc_auc_ovr_macro": True,
    "mae": False,
    "rmse": False,
    "mape": False,
    "r2": True,
}

# sklearn >= 1.5 clips probabilities to [eps, 1 - eps] with eps = finfo(dtype).eps. We always compute in
# float64, so eps = 2.22e-16 (sklearn would use float32's 1.19e-7 for float32 input).
PROBABILITY_EPS: float = float(np.finfo(np.float64).eps)
# sklearn's MAPE divides by max(|y_true|, eps) with the float64 eps, so a zero target gives a huge, finite term.
MAPE_EPS: float = float(np.finfo(np.float64).eps)
# Per-class probability rows must sum to 1 within this; float32 softmax output passes, a score matrix does not.
PROBABILITY_SUM_TOLERANCE: float = 1e-4


@dataclass(frozen=True, eq=False)
class TieGroups:
    """Rows sorted by score, cut into runs of equal score; what every tie-aware ROC AUC here is built on."""

    order: NDArray[np.intp]
    run_ends: NDArray[np.intp]

    @classmethod
    def of(cls, score: NDArray[np.float64]) -> TieGroups:
        order = np.argsort(score, kind="stable")
        ordered = score[order]
        if ordered.size == 0:
            return cls(order, np.zeros(0, dtype=np.intp))
        run_ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]) + 1, ordered.size)
        return cls(order, run_ends.astype(np.intp))

    def concordance(
        self, weights: NDArray[np.float64], positive_share: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """C = Σ_i Σ_j a_i b_j H(s_i − s_j), a = w·f, b = w·(1 − f), H(d) = 1 for d > 0, ½ for d = 0, 0 for d < 0.

        ``weights`` has shape (k, n) (k weightings at once); ``positive_share`` f (n,) is each row's share of
        being positive: the 0/1 label for realized AUC, a probability for estimated AUC. Ties count ½: this
        is the Mann–Whitney U statistic, so C / (Σa Σb) is the ROC AUC (Hanley & McNeil 1982), equal to
        sklearn's trapezoidal ``roc_auc_score``. O(k·n) after the one sort, in a numba kernel.
        """
        w = np.ascontiguousarray(weights, dtype=np.float64)
        share = np.ascontiguousarray(positive_share, dtype=np.float64)
        return tied_concordance(self.order, self.run_ends, w, share)


def weighted_roc_auc(
    groups: TieGroups, weights: NDArray[np.float64], positive_share: NDArray[np.float64]
) -> NDArray[np.float64]:
    """AUC = Σ_i Σ_j a_i b_j H(s_i − s_j) / (Σ_i a_i · Σ_j b_j) per row of the (k, n) ``weights``, with
    a = w·f and b = w·(1 − f); NaN if either total is 0 (one class only). With f = 1[y = 1] and unit weights
    it is the Mann–Whitney form of ROC AUC."""
    pos_total = weights @ positive_share
    neg_total = weights.sum(axis=1) - pos_total
    return _ratio(groups.concordance(weights, positive_share), pos_total * neg_total, empty=np.nan)


@dataclass(frozen=True, eq=False)
class BinaryData:
    """Validated binary-classification rows (missing rows already dropped)."""

    positive: NDArray[np.bool_]
    score: NDArray[np.float64]
    predicted: NDArray[np.bool_]
    scores_are_probabilities: bool
    groups: TieGroups

    @property
    def n(self) -> int:
        return int(self.positive.size)


@dataclass(frozen=True, eq=False)
class MulticlassData:
    """Validated multiclass rows: truth and prediction as indices into ``classes``; probabilities optional."""

    classes: NDArray[Any]
    true_index: NDArray[np.intp]
    pred_index: NDArray[np.intp]
    proba: NDArray[np.float64] | None
    groups: tuple[TieGroups, ...]

    @property
    def n(self) -> int:
        return int(self.true_index.size)


@dataclass(frozen=True, eq=False)
class RegressionData:
    """Validated regression rows."""

    y_true: NDArray[np.float64]
    y_pred: NDArray[np.float64]

    @property
    def n(self) -> int:
        return int(self.y_true.size)


TaskData = BinaryData | MulticlassData | RegressionData


def _missing(values: NDArray[Any]) -> NDArray[np.bool_]:
    """Row-wise missing mask: NaN for floats (any column for 2-D), None/NaN/NaT for object arrays."""
    if values.dtype.kind in "fc":
        mask = np.isnan(values)
    elif values.dtype.kind == "O":
        mask = np.frompyfunc(lambda v: v is None or (isinstance(v, float) and v != v), 1, 1)(values).astype(
            bool
        )
    elif values.dtype.kind in "mM":
        mask = np.isnat(values)
    else:
        mask = np.zeros(values.shape, dtype=bool)
    if mask.ndim == 2:
        return np.asarray(mask.any(axis=1))
    return np.asarray(mask)


def usable_rows(y_true: ArrayLike, y_score_or_pred: ArrayLike) -> NDArray[np.bool_]:
    """Mask of rows the metrics use: truth and score/prediction both present (see module docstring)."""
    truth = np.asarray(y_true)
    score = np.asarray(y_score_or_pred)
    if truth.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {truth.shape}")
    if score.ndim not in (1, 2) or score.shape[0] != truth.shape[0]:
        raise ValueError(
            f"y_score_or_pred has shape {score.shape}; expected ({truth.shape[0]},) or ({truth.shape[0]}, k)"
        )
    return ~(_missing(truth) | _missing(score))


def _float_column(values: NDArray[Any], name: str) -> NDArray[np.float64]:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if np.isinf(out).any():
        raise ValueError(f"{name} contains ±inf in {int(np.isinf(out).sum())} place(s)")
    return out


def _class_indices(values: NDArray[Any], classes: NDArray[Any], name: str) -> NDArray[np.intp]:
    if values.size == 0:
        return np.zeros(0, dtype=np.intp)
    if classes.size == 0:
        raise ValueError(f"{name} has labels but classes is empty")
    sorter = np.argsort(classes, kind="stable")
    try:
        position = np.searchsorted(classes, values, sorter=sorter)
    except TypeError as exc:
        raise ValueError(f"{name} labels are not comparable with classes {classes.tolist()}: {exc}") from exc
    position = np.minimum(position, classes.size - 1)
    index = sorter[position]
    unknown = classes[index] != values
    if np.any(unknown):
        examples = np.unique(values[unknown])[:5].tolist()
        raise ValueError(f"{name} has labels outside classes {classes.tolist()}: {examples}")
    return np.asarray(index, dtype=np.intp)


def prepare_task_data(
    task: str,
    y_true: ArrayLike,
    y_score_or_pred: ArrayLike,
    *,
    threshold: float = 0.5,
    positive_label: Any = 1,
    classes: Sequence[Any] | NDArray[Any] | None = None,
) -> TaskData:
    """Validate inputs once, drop missing rows, and return the arrays the weighted metrics need.

    - binary: ``y_score_or_pred`` is the 1-D score (probability of ``positive_label``); ``classes`` ignored.
    - multiclass: ``y_score_or_pred`` is either 1-D predicted labels (then AUC and log loss are NaN) or an
      (n, K) matrix of per-class probabilities whose columns follow ``classes`` (default: the sorted distinct
      truth labels, which must then number K); the prediction is the arg-max column (first on ties). Rows must
      lie in [0, 1] and sum to 1 within ``PROBABILITY_SUM_TOLERANCE``. Truth outside ``classes`` is an error.
    - regression: both arrays numeric.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    keep = usable_rows(y_true, y_score_or_pred)
    truth = np.asarray(y_true)[keep]
    score = np.asarray(y_score_or_pred)[keep]

    if task == REGRESSION:
        if score.ndim != 1:
            raise ValueError("regression predictions must be 1-D")
        return RegressionData(_float_column(truth, "y_true"), _float_column(score, "y_pred"))
    if task == BINARY:
        return _binary_data(truth, score, threshold, positive_label)
    return _multiclass_data(truth, score, classes)


def _binary_data(
    truth: NDArray[Any], score: NDArray[Any], threshold: float, positive_label: Any
) -> BinaryData:
    if score.ndim != 1:
        raise ValueError("binary scores must be 1-D (the probability of the positive class)")
    distinct = np.unique(truth)
    if distinct.size > 2:
        raise ValueError(f"binary y_true has {distinct.size} distinct values: {distinct[:5].tolist()}")
    positive = np.asarray(truth == positive_label, dtype=bool)
    if positive.shape != truth.shape:
        raise ValueError(f"cannot compare y_true with positive_label {positive_label!r}")
    s = _float_column(score, "y_score")
    return BinaryData(
        positive=positive,
        score=s,
        predicted=s >= threshold,
        scores_are_probabilities=bool(s.size == 0 or (s.min() >= 0.0 and s.max() <= 1.0)),
        groups=TieGroups.of(s),
    )


def _multiclass_data(
    truth: NDArray[Any], score: NDArray[Any], classes: Sequence[Any] | NDArray[Any] | None
) -> MulticlassData:
    """Labels (1-D predictions) or an (n, K) probability matrix, against ``classes`` (see prepare_task_data)."""
    proba: NDArray[np.float64] | None = None
    if score.ndim == 2:
        proba, class_array = _probability_matrix(truth, score, classes)
        pred_index = (
            np.asarray(np.argmax(proba, axis=1), dtype=np.intp) if proba.shape[0] else np.zeros(0, np.intp)
        )
    else:
        class_array = np.unique(np.concatenate([truth, score])) if classes is None else np.asarray(classes)
        pred_index = _class_indices(score, class_array, "y_pred")
    if np.unique(class_array).size != class_array.size:
        raise ValueError(f"classes must be distinct: {class_array.tolist()}")
    true_index = _class_indices(truth, class_array, "y_true")
    groups = tuple(TieGroups.of(proba[:, c]) for c in range(proba.shape[1])) if proba is not None else ()
    return MulticlassData(class_array, true_index, pred_index, proba, groups)


def _probability_matrix(
    truth: NDArray[Any], score: NDArray[Any], classes: Sequence[Any] | NDArray[Any] | None
) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """The checked (n, K) per-class probabilities and the K classes their columns follow."""
    proba = _float_column(score, "y_proba")
    if classes is None:
        class_array = np.unique(truth)
        if class_array.size != proba.shape[1]:
            raise ValueError(
                f"{proba.shape[1]} probability columns but {class_array.size} distinct truth labels; pass classes"
            )
    else:
        class_array = np.asarray(classes)
    if class_array.size != proba.shape[1]:
        raise ValueError(f"{class_array.size} classes but {proba.shape[1]} probability columns")
    if proba.size and (proba.min() < 0.0 or proba.max() > 1.0):
        raise ValueError("per-class probabilities must lie in [0, 1]")
    bad_sum = np.abs(proba.sum(axis=1) - 1.0) > PROBABILITY_SUM_TOLERANCE
    if np.any(bad_sum):
        raise ValueError(
            f"{int(bad_sum.sum())} probability row(s) do not sum to 1 (tolerance {PROBABILITY_SUM_TOLERANCE})"
        )
    return proba, class_array


def mean_terms(data: TaskData) -> dict[str, NDArray[np.float64]]:
    """Per-row terms whose (weighted) mean is the metric of the same name.

    binary: accuracy 1[ŷ = y]; log_loss −log clip(p_y, eps, 1−eps) (p_y = p if positive else 1 − p);
    brier (p − y)². multiclass: accuracy; log_loss −log clip(P[i, y_i]). regression: mae |ŷ − y|;
    mape |ŷ − y| / max(|y|, MAPE_EPS); ``squared_error`` (ŷ − y)², the mean behind RMSE and R².
    Probability terms are absent when the scores are not probabilities.
    """
    if isinstance(data, BinaryData):
        y = data.positive.astype(np.float64)
        terms = {"accuracy": (data.predicted == data.positive).astype(np.float64)}
        if data.scores_are_probabilities:
            p_true = np.where(data.positive, data.score, 1.0 - data.score)
            terms["log_loss"] = -np.log(np.clip(p_true, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS))
            terms["brier"] = (data.score - y) ** 2
        return terms
    if isinstance(data, MulticlassData):
        terms = {"accuracy": (data.pred_index == data.true_index).astype(np.float64)}
        if data.proba is not None:
            p_true = data.proba[np.arange(data.n), data.true_index]
            terms["log_loss"] = -np.log(np.clip(p_true, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS))
        return terms
    error = data.y_pred - data.y_true
    return {
        "mae": np.abs(error),
        "mape": np.abs(error) / np.maximum(np.abs(data.y_true), MAPE_EPS),
        "squared_error": error**2,
    }


def _ratio(
    numerator: NDArray[np.float64], denominator: NDArray[np.float64], *, empty: float
) -> NDArray[np.float64]:
    """numerator / denominator, ``empty`` where the denominator is 0 (no warning raised)."""
    out = np.full(np.broadcast(numerator, denominator).shape, empty, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _binary_metrics(
    data: BinaryData, w: NDArray[np.float64], names: tuple[str, ...]
) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    total = w.sum(axis=1)
    terms = mean_terms(data)
    if {"precision", "recall", "f1"} & set(names):
        tp = w @ (data.positive & data.predicted).astype(np.float64)
        fp = w @ (~data.positive & data.predicted).astype(np.float64)
        fn = w @ (data.positive & ~data.predicted).astype(np.float64)
        out["precision"] = _ratio(tp, tp + fp, empty=0.0)
        out["recall"] = _ratio(tp, tp + fn, empty=0.0)
        out["f1"] = _ratio(2.0 * tp, 2.0 * tp + fp + fn, empty=0.0)
    for name in ("accuracy", "log_loss", "brier"):
        if name in names:
            out[name] = w @ terms[name] / total if name in terms else np.full(w.shape[0], np.nan)
    if "roc_auc" in names:
        out["roc_auc"] = weighted_roc_auc(data.groups, w, data.positive.astype(np.float64))
    return out


def _multiclass_metrics(
    data: MulticlassData, w: NDArray[np.float64], names: tuple[str, ...]
) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    total = w.sum(axis=1)
    terms = mean_terms(data)
    n_classes = data.classes.size
    k = w.shape[0]
    if {"precision_macro", "recall_macro", "f1_macro"} & set(names):
        per_class = {m: np.zeros((k, n_classes)) for m in ("precision", "recall", "f1")}
        present = np.zeros((k, n_classes), dtype=bool)
        for c in range(n_classes):
            is_true = data.true_index == c
            is_pred = data.pred_index == c
            tp = w @ (is_true & is_pred).astype(np.float64)
            true_count = w @ is_true.astype(np.float64)
            pred_count = w @ is_pred.astype(np.float64)
            per_class["precision"][:, c] = _ratio(tp, pred_count, empty=0.0)
            per_class["recall"][:, c] = _ratio(tp, true_count, empty=0.0)
            per_class["f1"][:, c] = _ratio(2.0 * tp, true_count + pred_count, empty=0.0)
            present[:, c] = (true_count + pred_count) > 0
        n_present = present.sum(axis=1).astype(np.float64)
        for metric, values in per_class.items():
            out[f"{metric}_macro"] = _ratio(
                np.where(present, values, 0.0).sum(axis=1), n_present, empty=np.nan
            )
    for name in ("accuracy", "log_loss"):
        if name in names:
            out[name] = w @ terms[name] / total if name in terms else np.full(k, np.nan)
    if "roc_auc_ovr_macro" in names:
        if data.proba is None:
            out["roc_auc_ovr_macro"] = np.full(k, np.nan)
        else:
            aucs = np.empty((k, n_classes))
            for c in range(n_classes):
                aucs[:, c] = weighted_roc_auc(data.groups[c], w, (data.true_index == c).astype(np.float64))
            defined = np.isfinite(aucs)
            out["roc_auc_ovr_macro"] = _ratio(
                np.where(defined, aucs, 0.0).sum(axis=1), defined.sum(axis=1).astype(np.float64), empty=np.nan
            )
    return out


def _regression_metrics(
    data: RegressionData, w: NDArray[np.float64], names: tuple[str, ...]
) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    total = w.sum(axis=1)
    terms = mean_terms(data)
    for name in ("mae", "mape"):
        if name in names:
            out[name] = w @ terms[name] / total
    ss_res = w @ terms["squared_error"]
    if "rmse" in names:
        out["rmse"] = np.sqrt(ss_res / total)
    if "r2" in names:
        y = data.y_true
        mean = (w @ y) / total
        ss_tot = (w * (y[None, :] - mean[:, None]) ** 2).sum(axis=1)
        drawn = w > 0
        # Constant truth is decided exactly on the rows drawn, not by a float sum: sklearn's own sum turns
        # [0.1, 0.1, 0.1] into a ~1e-34 variance and an R² of -1e31.
        constant = np.where(drawn, y, np.inf).min(axis=1) == np.where(drawn, y, -np.inf).max(axis=1)
        r2 = np.where(ss_res == 0.0, 1.0, 0.0)
        informative = ~constant & (ss_res != 0.0)
        r2[informative] = 1.0 - ss_res[informative] / ss_tot[informative]
        r2[total < 2] = np.nan
        out["r2"] = r2
    return out


def weighted_metrics(
    data: TaskData, weights: NDArray[np.float64], names: Iterable[str] | None = None
) -> dict[str, NDArray[np.float64]]:
    """Metrics under k row weightings at once: ``weights`` has shape (k, n); returns name → (k,) array.

    Unit weights give the point estimate; bootstrap draw counts give one resample per row of ``weights``.
    ``names`` restricts the work to some metrics of the task (default: all of ``METRICS_BY_TASK``).
    """
    task = {BinaryData: BINARY, MulticlassData: MULTICLASS, RegressionData: REGRESSION}[type(data)]
    wanted = METRICS_BY_TASK[task] if names is None else tuple(names)
    unknown = set(wanted) - set(METRICS_BY_TASK[task])
    if unknown:
        raise ValueError(f"metrics {sorted(unknown)} are not defined for {task}")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != data.n:
        raise ValueError(f"weights must have shape (k, {data.n}), got {w.shape}")
    if data.n == 0:
        return {name: np.full(w.shape[0], np.nan) for name in wanted}
    if isinstance(data, BinaryData):
        computed = _binary_metrics(data, w, wanted)
    elif isinstance(data, MulticlassData):
        computed = _multiclass_metrics(data, w, wanted)
    else:
        computed = _regression_metrics(data, w, wanted)
    return {name: computed[name] for name in wanted}


def compute_metrics(
    task: str,
    y_true: ArrayLike,
    y_score_or_pred: ArrayLike,
    *,
    threshold: float = 0.5,
    positive_label: Any = 1,
    classes: Sequence[Any] | NDArray[Any] | None = None,
) -> dict[str, float]:
    """All metrics of ``task`` (keys: ``METRICS_BY_TASK[task]``, in that order), NaN where undefined.

    binary: roc_auc (Mann–Whitney, ties ½), accuracy, precision TP/(TP+FP), recall TP/(TP+FN),
    f1 2TP/(2TP+FP+FN) (zero-division → 0), log_loss −mean log clip(p_y), brier mean (p − y)².
    multiclass: accuracy; macro precision/recall/F1 (per-class one-vs-rest, averaged over classes present);
    roc_auc_ovr_macro (mean one-vs-rest AUC over classes present in truth); log_loss.
    regression: mae mean|e|, rmse √mean e², mape mean |e|/max(|y|, eps), r2 1 − Σe²/Σ(y − ȳ)².
    Source: scikit-learn 1.9 ``sklearn.metrics`` definitions (tested against it); conventions in the module
    docstring.
    """
    data = prepare_task_data(
        task, y_true, y_score_or_pred, threshold=threshold, positive_label=positive_label, classes=classes
    )
    values = weighted_metrics(data, np.ones((1, data.n)))
    return {name: float(v[0]) for name, v in values.items()}
