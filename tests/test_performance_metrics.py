"""Realized metrics against scikit-learn, their bootstrap/analytic uncertainty, and label delay."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from driftwatch.performance.delay import label_delay
from driftwatch.performance.metrics import (
    HIGHER_IS_BETTER,
    METRICS_BY_TASK,
    TASKS,
    TieGroups,
    compute_metrics,
    prepare_task_data,
    usable_rows,
    weighted_metrics,
)
from driftwatch.performance.uncertainty import (
    ANALYTIC_STDERR,
    Interval,
    bootstrap_weights,
    metric_intervals,
    stratified_bootstrap_weights,
)

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
REL = 1e-12


def sklearn_binary(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    pred = (p >= threshold).astype(int)
    return {
        "roc_auc": skm.roc_auc_score(y, p),
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "log_loss": skm.log_loss(y, y_proba=p, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, p),
    }


def assert_same(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert ours.keys() >= theirs.keys()
    for name, expected in theirs.items():
        assert ours[name] == pytest.approx(expected, rel=REL, abs=1e-14), name


# ---------------------------------------------------------------- definitions and tables


def test_tables_cover_every_task_and_metric() -> None:
    assert set(METRICS_BY_TASK) == set(TASKS)
    every_metric = {m for names in METRICS_BY_TASK.values() for m in names}
    assert every_metric == set(HIGHER_IS_BETTER)
    assert not HIGHER_IS_BETTER["log_loss"] and HIGHER_IS_BETTER["roc_auc"] and not HIGHER_IS_BETTER["mape"]


@pytest.mark.parametrize("task", TASKS)
def test_keys_follow_metrics_by_task(task: str) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3 if task == MULTICLASS else 2, 50)
    score = rng.random(50) if task != MULTICLASS else rng.dirichlet([1, 1, 1], 50)
    assert tuple(compute_metrics(task, y, score)) == METRICS_BY_TASK[task]


def test_unknown_task_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        compute_metrics("ranking", [1, 0], [0.1, 0.2])


# ---------------------------------------------------------------- binary


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decimals", [1, 2, 8])  # 1 decimal: heavy score ties
def test_binary_matches_sklearn(seed: int, decimals: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 600))
    y = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(int)
    p = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), decimals)
    threshold = float(rng.choice([0.3, 0.5, 0.7]))
    assert_same(compute_metrics(BINARY, y, p, threshold=threshold), sklearn_binary(y, p, threshold))


def test_binary_positive_label_can_be_a_string() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(["fraud", "ok"], 300)
    p = np.clip(0.4 * (y == "fraud") + 0.6 * rng.random(300), 0, 1)
    ours = compute_metrics(BINARY, y, p, positive_label="fraud")
    assert_same(ours, sklearn_binary((y == "fraud").astype(int), p))


def test_binary_negative_class_as_positive_label_flips_auc() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    as_one = compute_metrics(BINARY, y, p, positive_label=1)["roc_auc"]
    as_zero = compute_metrics(BINARY, y, 1 - p, positive_label=0)["roc_auc"]
    assert as_zero == pytest.approx(as_one, rel=REL)


def test_one_class_only_gives_nan_auc_but_other_metrics() -> None:
    y = np.zeros(40, dtype=int)
    p = np.linspace(0, 1, 40)
    ours = compute_metrics(BINARY, y, p)
    assert math.isnan(ours["roc_auc"])
    pred = (p >= 0.5).astype(int)
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert ours["precision"] == 0.0  # TP = 0 with predicted positives: a real 0
    assert ours["recall"] == 0.0  # no actual positives: zero-division → 0, like sklearn zero_division=0
    assert ours["recall"] == skm.recall_score(y, pred, zero_division=0)
    assert ours["log_loss"] == pytest.approx(skm.log_loss(y, y_proba=p, labels=[0, 1]), rel=REL)


def test_all_correct() -> None:
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.0, 0.2, 0.8, 0.9, 1.0])
    ours = compute_metrics(BINARY, y, p)
    assert ours["roc_auc"] == ours["accuracy"] == ours["precision"] == ours["recall"] == ours["f1"] == 1.0
    assert ours["log_loss"] == pytest.approx(skm.log_loss(y, y_proba=p), rel=REL)
    # Certain and right: probabilities 0 and 1 are clipped at eps, so the loss is tiny but not 0, like sklearn's.
    certain = compute_metrics(BINARY, y, y.astype(float))
    assert 0.0 < certain["log_loss"] < 1e-15 and certain["brier"] == 0.0
    assert certain["log_loss"] == pytest.approx(skm.log_loss(y, y_proba=y.astype(float)), rel=REL)


def test_confidently_wrong_log_loss_is_finite_and_matches_sklearn() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.0, 1.0, 0.5, 0.5])
    ours = compute_metrics(BINARY, y, p)["log_loss"]
    assert math.isfinite(ours)
    assert ours == pytest.approx(skm.log_loss(y, y_proba=p), rel=REL)


def test_all_scores_tied_gives_auc_one_half() -> None:
    y = np.array([0, 1, 0, 1, 1])
    ours = compute_metrics(BINARY, y, np.full(5, 0.4))
    assert ours["roc_auc"] == 0.5 == skm.roc_auc_score(y, np.full(5, 0.4))
    assert ours["precision"] == 0.0  # nothing predicted positive


@pytest.mark.parametrize("task", TASKS)
def test_empty_input_gives_nan_everywhere(task: str) -> None:
    score = np.zeros((0, 3)) if task == MULTICLASS else np.zeros(0)
    ours = compute_metrics(task, np.zeros(0), score, classes=[0, 1, 2] if task == MULTICLASS else None)
    assert ours.keys() == set(METRICS_BY_TASK[task])
    assert all(math.isnan(v) for v in ours.values())


@pytest.mark.parametrize("where", ["truth", "score", "both"])
def test_missing_rows_are_dropped_consistently(where: str) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100).astype(float)
    p = rng.random(100)
    y_nan, p_nan = y.copy(), p.copy()
    holes = [0, 17, 99]
    if where in ("truth", "both"):
        y_nan[holes] = np.nan
    if where in ("score", "both"):
        p_nan[holes] = np.nan
    keep = usable_rows(y_nan, p_nan)
    assert keep.sum() == 97
    assert_same(compute_metrics(BINARY, y_nan, p_nan), compute_metrics(BINARY, y[keep], p[keep]))


def test_none_labels_in_object_arrays_are_missing() -> None:
    y = np.array(["a", None, "b", "a"], dtype=object)
    assert usable_rows(y, [0.1, 0.2, 0.3, 0.4]).tolist() == [True, False, True, True]
    ours = compute_metrics(BINARY, y, [0.9, 0.2, 0.1, 0.8], positive_label="a")
    assert ours["accuracy"] == 1.0


@pytest.mark.parametrize("task", [BINARY, REGRESSION])
def test_infinite_scores_are_rejected(task: str) -> None:
    with pytest.raises(ValueError, match="inf"):
        compute_metrics(task, [0, 1, 1], [0.2, np.inf, 0.4])


def test_scores_outside_unit_interval_keep_ranking_metrics_only() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 100)
    margin = rng.normal(size=100) + y
    ours = compute_metrics(BINARY, y, margin, threshold=0.0)
    assert math.isnan(ours["log_loss"]) and math.isnan(ours["brier"])
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(y, margin), rel=REL)
    assert ours["f1"] == pytest.approx(skm.f1_score(y, margin >= 0), rel=REL)


def test_binary_rejects_three_labels() -> None:
    with pytest.raises(ValueError, match="3 distinct"):
        compute_metrics(BINARY, [0, 1, 2], [0.1, 0.2, 0.3])


# ---------------------------------------------------------------- multiclass


def sklearn_multiclass(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    pred = classes[proba.argmax(axis=1)]
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc_ovr_macro": skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes),
        "log_loss": skm.log_loss(y, y_proba=proba, labels=classes),
    }


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_classes", [3, 5])
def test_multiclass_matches_sklearn(seed: int, n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 500))
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba = np.round(proba, 2)  # ties in per-class scores
    proba /= proba.sum(axis=1, keepdims=True)
    classes = np.arange(n_classes)
    assert_same(compute_metrics(MULTICLASS, y, proba, classes=classes), sklearn_multiclass(y, proba, classes))


def test_multiclass_string_classes_and_predicted_labels() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(["cat", "dog", "eel"], 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.choice(["cat", "dog", "eel", "fox"], 200))
    ours = compute_metrics(MULTICLASS, y, pred)
    # Macro over classes in truth or prediction ("fox" is predicted only): sklearn's labels=None.
    assert_same(
        ours,
        {
            "accuracy": skm.accuracy_score(y, pred),
            "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
            "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
            "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        },
    )
    assert math.isnan(ours["roc_auc_ovr_macro"]) and math.isnan(ours["log_loss"])


def test_multiclass_auc_averages_over_classes_present_in_truth() -> None:
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 150)  # class 2 never occurs in truth
    proba = rng.dirichlet([1, 1, 1], 150)
    ours = compute_metrics(MULTICLASS, y, proba, classes=[0, 1, 2])
    per_class = [skm.roc_auc_score(y == c, proba[:, c]) for c in (0, 1)]
    assert ours["roc_auc_ovr_macro"] == pytest.approx(np.mean(per_class), rel=REL)
    assert ours["log_loss"] == pytest.approx(skm.log_loss(y, y_proba=proba, labels=[0, 1, 2]), rel=REL)


def test_multiclass_validation() -> None:
    proba = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match="sum to 1"):
        compute_metrics(MULTICLASS, [0, 1], proba * 0.9, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="outside classes"):
        compute_metrics(MULTICLASS, [0, 7], proba, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="pass classes"):
        compute_metrics(MULTICLASS, [0, 1], proba)


# ---------------------------------------------------------------- regression


@pytest.mark.parametrize("seed", range(5))
def test_regression_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    y = rng.normal(3, 2, n)
    y[: n // 10] = 0.0  # zero targets: MAPE divides by eps like sklearn
    pred = y + rng.normal(0, 1, n)
    assert_same(
        compute_metrics(REGRESSION, y, pred),
        {
            "mae": skm.mean_absolute_error(y, pred),
            "rmse": skm.root_mean_squared_error(y, pred),
            "mape": skm.mean_absolute_percentage_error(y, pred),
            "r2": skm.r2_score(y, pred),
        },
    )


@pytest.mark.parametrize(
    ("y", "pred", "r2"),
    [
        ([3.0, 3.0, 3.0], [3.0, 3.0, 3.0], 1.0),  # constant truth, perfect prediction
        ([3.0, 3.0, 3.0], [3.0, 3.0, 4.0], 0.0),  # constant truth, imperfect: sklearn's force_finite
        ([0.1, 0.1, 0.1], [0.1, 0.1, 0.2], 0.0),  # sklearn says -1.7e31 here (float sum of the variance)
        ([5.0], [4.0], math.nan),  # fewer than two rows
    ],
)
def test_r2_conventions(y: list[float], pred: list[float], r2: float) -> None:
    ours = compute_metrics(REGRESSION, y, pred)["r2"]
    assert ours == r2 or (math.isnan(ours) and math.isnan(r2))
    if y[0] == 3.0:
        assert ours == skm.r2_score(y, pred)


# ---------------------------------------------------------------- the weighted path used by the bootstrap


def concordance_naive(score: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    total = 0.0
    for i in range(score.size):
        for j in range(score.size):
            h = 1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0
            total += a[i] * b[j] * h
    return total


@pytest.mark.parametrize("seed", range(4))
def test_concordance_matches_naive_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(40), 1)
    w, share = rng.integers(0, 4, 40).astype(float), rng.random(40)
    fast = TieGroups.of(score).concordance(w[None, :], share)[0]
    assert fast == pytest.approx(concordance_naive(score, w * share, w * (1 - share)), rel=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_integer_weights_equal_repeated_rows(task: str) -> None:
    rng = np.random.default_rng(7)
    n = 80
    y = rng.integers(0, 3 if task == MULTICLASS else 2, n) if task != REGRESSION else rng.normal(size=n)
    score = {
        BINARY: np.round(rng.random(n), 1),
        MULTICLASS: rng.dirichlet([1, 1, 1], n),
        REGRESSION: rng.normal(size=n),
    }[task]
    counts = rng.integers(0, 4, n)
    data = prepare_task_data(task, y, score, classes=[0, 1, 2] if task == MULTICLASS else None)
    weighted = weighted_metrics(data, counts[None, :].astype(float))
    repeated = compute_metrics(
        task,
        np.repeat(y, counts),
        np.repeat(score, counts, axis=0),
        classes=[0, 1, 2] if task == MULTICLASS else None,
    )
    for name, value in repeated.items():
        assert weighted[name][0] == pytest.approx(value, rel=1e-10), name


# ---------------------------------------------------------------- uncertainty


def test_bootstrap_weights_are_resamples() -> None:
    rng = np.random.default_rng(0)
    w = bootstrap_weights(rng, 50, 7)
    assert w.shape == (7, 50) and (w.sum(axis=1) == 50).all() and (w >= 0).all()
    strata = np.array([0] * 45 + [1] * 5)
    ws = stratified_bootstrap_weights(rng, strata, 7)
    assert (ws[:, :45].sum(axis=1) == 45).all() and (ws[:, 45:].sum(axis=1) == 5).all()


def test_intervals_are_seeded_and_contain_the_value() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    first = metric_intervals(BINARY, y, p, seed=11)
    assert first == metric_intervals(BINARY, y, p, seed=11)
    assert first != metric_intervals(BINARY, y, p, seed=12)
    values = compute_metrics(BINARY, y, p)
    for name, interval in first.items():
        assert isinstance(interval, Interval)
        assert interval.low <= values[name] <= interval.high, name
        assert interval.stderr > 0, name


def test_auc_interval_is_defined_with_few_positives() -> None:
    y = np.zeros(200, dtype=int)
    y[[3, 150]] = 1  # an unstratified resample would often lose both
    p = np.linspace(0, 1, 200)
    interval = metric_intervals(BINARY, y, p, n_boot=100)["roc_auc"]
    assert 0.0 <= interval.low <= interval.high <= 1.0


def test_without_bootstrap_only_analytic_errors_give_intervals() -> None:
    rng = np.random.default_rng(9)
    y = rng.normal(size=200)
    out = metric_intervals(REGRESSION, y, y + rng.normal(size=200), n_boot=0)
    for name, interval in out.items():
        if name in ANALYTIC_STDERR:
            assert interval.high - interval.low == pytest.approx(
                2 * 1.959963984540054 * interval.stderr, rel=1e-9
            )
        else:
            assert all(math.isnan(v) for v in interval), name


def test_undefined_metric_has_undefined_interval() -> None:
    out = metric_intervals(BINARY, np.zeros(30, dtype=int), np.linspace(0, 1, 30), n_boot=50)
    assert all(math.isnan(v) for v in out["roc_auc"])
    assert not math.isnan(out["accuracy"].stderr)


def binormal(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < 0.4).astype(int)
    z = rng.normal(np.where(y == 1, 0.75, -0.75), 1.0)
    return y, 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("task", [BINARY, REGRESSION])
def test_intervals_cover_the_true_value_about_95_percent(task: str) -> None:
    """300 simulated windows of 400 rows; the truth is the metric on a 1,000,000-row population.

    With 300 repetitions the coverage estimate has sd ≈ 0.013 at 0.95, so [0.89, 0.99] is about ±4 sd (a bit
    more room below: percentile intervals under-cover slightly at n = 400). Checked for the bootstrap interval
    and for value ± 1.96·stderr.
    """
    rng = np.random.default_rng(2024)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        if task == BINARY:
            return binormal(rng, n)
        y = rng.normal(10.0, 2.0, n)
        return y, y + rng.normal(0.0, 1.0, n)

    truth = compute_metrics(task, *draw(1_000_000))
    reps = 300
    boot_hits = dict.fromkeys(truth, 0)
    normal_hits = dict.fromkeys(truth, 0)
    for rep in range(reps):
        y, score = draw(400)
        values = compute_metrics(task, y, score)
        for name, (low, high, stderr) in metric_intervals(task, y, score, n_boot=200, seed=rep).items():
            boot_hits[name] += low <= truth[name] <= high
            normal_hits[name] += abs(values[name] - truth[name]) <= 1.96 * stderr
    for name in truth:
        assert 0.89 <= boot_hits[name] / reps <= 0.99, (name, boot_hits[name] / reps)
        assert 0.89 <= normal_hits[name] / reps <= 0.99, (name, normal_hits[name] / reps)


# ---------------------------------------------------------------- label delay


def quantile_naive(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


@pytest.mark.parametrize("seed", range(4))
def test_label_delay_matches_naive_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 57
    served = np.datetime64("2024-03-01T00:00:00", "ms") + rng.integers(0, 86_400_000, n).astype(
        "timedelta64[ms]"
    )
    labelled = served + rng.integers(-5_000, 9 * 86_400_000, n).astype("timedelta64[ms]")
    labelled[rng.random(n) < 0.2] = np.datetime64("NaT")
    delays = [
        (lab - srv) / np.timedelta64(1, "s")
        for srv, lab in zip(served, labelled, strict=True)
        if not np.isnat(lab)
    ]
    out = label_delay(served, labelled)
    assert out.n == len(delays)
    assert out.n_negative == sum(d < 0 for d in delays)
    assert out.median_seconds == pytest.approx(quantile_naive(delays, 0.5), rel=1e-12)
    assert out.p90_seconds == pytest.approx(quantile_naive(delays, 0.9), rel=1e-12)


def test_label_delay_units_numbers_and_empty() -> None:
    served = np.array(["2024-01-01T00:00"], dtype="datetime64[m]")
    labelled = np.array(["2024-01-01T00:00:30.5"], dtype="datetime64[ms]")
    assert label_delay(served, labelled).median_seconds == 30.5
    assert label_delay([100.0, 200.0, 300.0], [160.0, np.nan, 1300.0]).median_seconds == 530.0
    none = label_delay(served, np.array(["NaT"], dtype="datetime64[s]"))
    assert none.n == 0 and math.isnan(none.median_seconds) and math.isnan(none.p90_seconds)
    with pytest.raises(ValueError, match="both"):
        label_delay(served, [30.0])
