"""Shadow comparisons judge the configured metric on the same labelled requests for every metric they accept:
RMSE, R², precision, recall and F1 have paired (delta-method) tests; a metric without one is refused at config
load, and where a comparison still cannot be made while labels exist the verdict is `insufficient_data`, never
`candidate_ok` (review finding: rmse, the regression default, used to be ignored and the candidate called ok).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec, MonitorConfig, PredictionSource, ReferenceSource
from driftwatch.config.versions import VersionSettings
from driftwatch.errors import ConfigError
from driftwatch.performance.versions import TaskSpec, compare_paired
from driftwatch.pipeline.versions import VersionRows, evaluate

FEATURES = FeatureSpec(numeric=("x",), categorical=())


def _monitor(task: str, metric: str, mode: str = "shadow") -> MonitorConfig:
    return MonitorConfig(
        name="m",
        predictions=PredictionSource(path="p", prediction="score"),
        reference=ReferenceSource(path="r"),
        features=FEATURES,
        task=task,
        versions=VersionSettings(baseline="1", candidate="2", mode=mode, metric=metric),
    )


def _rows(ids: np.ndarray, truth: np.ndarray, predicted: np.ndarray, x: np.ndarray) -> VersionRows:
    scores = predicted.astype(np.float64) if predicted.dtype != object else np.zeros(ids.size)
    return VersionRows(ids, scores, None, truth, predicted, {"x": x}, {})


@pytest.mark.parametrize("metric", ["rmse", "r2", "mae"])
def test_shadow_regression_finds_a_worse_candidate_on_the_labels(metric: str) -> None:
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(size=n) * 0.5
    ids = np.array([f"r{i}" for i in range(n)], dtype=object)
    worse = 3 * x + rng.normal(size=n) * 5
    ev = evaluate(_monitor("regression", metric), FEATURES, _rows(ids, y, 3 * x, x), _rows(ids, y, worse, x))
    assert ev.mode == "shadow"
    assert ev.verdict.status == "candidate_worse", ev.verdict
    assert ev.overall is not None and ev.overall.metric == metric


def _paired_draws(metric: str, task: str, effect: float, reps: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Deltas and their estimated standard errors over `reps` windows of correlated baseline/candidate."""
    rng = np.random.default_rng(11)
    spec = TaskSpec(task)
    deltas, ses, pvalues = [], [], []
    for _ in range(reps):
        if task == "regression":
            y = rng.normal(size=n)
            shared = rng.normal(size=n) * 0.6
            b = y + shared + rng.normal(size=n) * 0.3
            c = y + shared + rng.normal(size=n) * (0.3 + effect)
        else:
            y = (rng.random(n) < 0.4).astype(np.float64)
            base = y * 0.25 + rng.random(n) * 0.75
            b = np.clip(base + rng.normal(size=n) * 0.05, 0, 1)
            c = np.clip(base + rng.normal(size=n) * (0.05 + effect), 0, 1)
        m = compare_paired(spec, metric, "*", y, b, c)
        assert m is not None
        deltas.append(m.delta)
        ses.append((m.delta_high - m.delta_low) / (2 * 1.959963984540054))
        pvalues.append(m.pvalue)
    return np.array(deltas), np.array([np.mean(ses), np.mean(np.array(pvalues) <= 0.05)])


@pytest.mark.parametrize(
    ("metric", "task"),
    [
        ("rmse", "regression"),
        ("r2", "regression"),
        ("f1", "binary_classification"),
        ("precision", "binary_classification"),
        ("recall", "binary_classification"),
    ],
)
def test_paired_delta_method_stderr_matches_the_spread_and_holds_alpha(metric: str, task: str) -> None:
    # Same-quality versions (effect 0) sharing most of their error: the estimated se of the difference must
    # match the Monte Carlo spread of the difference, and the one-sided test must err at about alpha.
    deltas, (mean_se, false_alarms) = _paired_draws(metric, task, 0.0, reps=400, n=600)
    spread = float(np.std(deltas, ddof=1))
    assert 0.8 < mean_se / spread < 1.25, (mean_se, spread)
    assert false_alarms <= 0.09, false_alarms


def _config(tmp_path: Path, task: str, versions: str) -> Path:
    (tmp_path / "ref.parquet").touch()
    path = tmp_path / "driftwatch.yml"
    path.write_text(
        "storage: dw.duckdb\nmonitors:\n  m:\n    predictions: {path: 'p/*.parquet', prediction: score}\n"
        f"    reference: ref.parquet\n    task: {task}\n    versions: {versions}\n"
    )
    return path


@pytest.mark.parametrize(
    ("task", "mode", "metric", "works"),
    [
        ("regression", "canary", "r2", "mae, rmse, mape"),
        ("regression", "auto", "r2", "mae, rmse, mape"),
        ("multiclass_classification", "shadow", "f1_macro", "accuracy"),
        ("multiclass_classification", "canary", "precision_macro", "accuracy"),
        ("multiclass_classification", "canary", "log_loss", "accuracy"),
        ("multiclass_classification", "auto", "roc_auc_ovr_macro", "accuracy"),
    ],
)
def test_config_refuses_a_metric_the_mode_cannot_judge(
    tmp_path: Path, task: str, mode: str, metric: str, works: str
) -> None:
    path = _config(tmp_path, task, f"{{baseline: '1', candidate: '2', mode: {mode}, metric: {metric}}}")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    assert "monitors.m.versions.metric" in text and metric in text and f"use one of {works}" in text
    assert "could never reach a verdict" in text


@pytest.mark.parametrize(
    ("task", "mode", "metric"),
    [
        ("regression", "shadow", "r2"),
        ("regression", "shadow", "rmse"),
        ("regression", "auto", "rmse"),
        ("binary_classification", "auto", "f1"),
        ("multiclass_classification", "auto", "accuracy"),
    ],
)
def test_config_accepts_the_judgeable_metrics(tmp_path: Path, task: str, mode: str, metric: str) -> None:
    path = _config(tmp_path, task, f"{{baseline: '1', candidate: '2', mode: {mode}, metric: {metric}}}")
    versions = load_settings(path).monitor("m").versions
    assert versions is not None and versions.metric == metric


def test_shadow_with_labels_but_no_paired_test_is_not_candidate_ok() -> None:
    # Settings built directly (config would refuse f1_macro for shadow): the pipeline still must not call a
    # candidate ok on agreement alone when it has the labels and cannot compare them.
    rng = np.random.default_rng(3)
    n = 600
    classes = np.array(["a", "b", "c"], dtype=object)
    y = rng.choice(classes, n)
    ids = np.array([f"r{i}" for i in range(n)], dtype=object)
    x = rng.normal(size=n)
    b = np.where(rng.random(n) < 0.9, y, "a").astype(object)
    c = np.where(rng.random(n) < 0.3, y, "a").astype(object)
    ev = evaluate(
        _monitor("multiclass_classification", "f1_macro"), FEATURES, _rows(ids, y, b, x), _rows(ids, y, c, x)
    )
    assert ev.mode == "shadow"
    assert ev.verdict.status == "insufficient_data", ev.verdict
    assert "f1_macro has no paired test" in ev.verdict.reasons[0]
