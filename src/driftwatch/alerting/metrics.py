"""The metric names a rule may select: what the pipeline writes to its results tables."""

from __future__ import annotations

# Drift statistics, one value per feature and window.
DRIFT_METRICS: frozenset[str] = frozenset(
    {
        "psi",
        "ks_statistic",
        "ks_pvalue",
        "chi2_pvalue",
        "js_distance",
        "wasserstein_norm",
        "hellinger",
        "missing_share",
        "unseen_share",
        "drift_status",  # 0 ok, 1 warn, 2 drift
    }
)

# Whole-model values (feature is None).
MODEL_METRICS: frozenset[str] = frozenset(
    {
        "dataset_drift_share",  # no data when the window was not judged
        "dataset_status",  # 0 ok, 1 warn, 2 drift; no data when the window was not judged
        "dataset_judged",  # 1 judged, 0 not judged (fewer than min_rows rows): never silently "ok"
        "quarantined_rows",
        "rows",
        "windows_without_data",
    }
)

# Realized performance from delayed labels (feature is None); `samples` is the label count.
PERFORMANCE_METRICS: frozenset[str] = frozenset(
    {
        "roc_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "log_loss",
        "brier",
        "mae",
        "rmse",
        "mape",
        "r2",
        "performance_status",  # 0 ok, 1 degraded; None while labels are insufficient
        "label_coverage",
        "label_count",
    }
)

# Multivariate drift per window (feature is None; pipeline/alerts/multivariate_samples.py).
MULTIVARIATE_METRICS: frozenset[str] = frozenset(
    {
        "pca_reconstruction_error",
        "domain_classifier_auc",
        "domain_classifier_auc_low",
        "multivariate_status",  # 0 ok, 1 warn, 2 drift; no data when not judged
    }
)

# Baseline vs candidate (the monitor's `versions:`), under the candidate's model version (feature is None).
VERSION_METRICS: frozenset[str] = frozenset(
    {
        "version_verdict",  # 0 candidate_ok, 1 candidate_worse; None when insufficient_data
        "version_agreement",  # shadow: share of paired decisions that agree
        "version_flip_share",  # shadow: 1 - agreement
        "candidate_metric_delta",  # canary: candidate - baseline on labelled rows
    }
)

KNOWN_METRICS: frozenset[str] = DRIFT_METRICS | MODEL_METRICS | PERFORMANCE_METRICS

# Data-quality checks (docs/quality.md; pipeline/quality.py): a status is 0 ok, 1 warn, 2 fail, no data when
# the check could not judge. Per feature (select `feature`): the worst of its checks and each check's own.
QUALITY_FEATURE_METRICS: frozenset[str] = frozenset(
    {
        "quality_feature_status",
        "quality_range",
        "quality_categories",
        "quality_missing",
        "quality_constant",
        "quality_type",  # per cycle: rows refused because this feature's value had the wrong type
    }
)
# Per window (feature None): the worst check, the failed checks, the row-count check; per cycle (model version
# and segment `*`, the run is its "window"): quarantined rows and duplicated request ids.
QUALITY_METRICS: frozenset[str] = QUALITY_FEATURE_METRICS | frozenset(
    {"quality_status", "quality_failures", "quality_row_count", "quality_parse", "quality_duplicates"}
)
FEATURE_METRICS: frozenset[str] = DRIFT_METRICS | QUALITY_FEATURE_METRICS
"""The metrics a rule may select a `feature` of."""

KNOWN_METRICS = KNOWN_METRICS | QUALITY_METRICS
KNOWN_METRICS = KNOWN_METRICS | MULTIVARIATE_METRICS
KNOWN_METRICS = KNOWN_METRICS | VERSION_METRICS

# Label-free estimates stored beside the realized metrics (feature is None; docs/performance.md): CBPE for
# binary classifiers, CBPE one class at a time for multiclass ones (a monitor with `predictions.probabilities`),
# DLE for regression. `samples` is the window's label count (0 before labels arrive), so a rule on an estimate
# should not set min_samples.
ESTIMATED_METRICS: frozenset[str] = frozenset(
    {
        "estimated_roc_auc",
        "estimated_accuracy",
        "estimated_precision",
        "estimated_recall",
        "estimated_f1",
        "estimated_mae",
        "estimated_rmse",
        "estimated_precision_macro",
        "estimated_recall_macro",
        "estimated_f1_macro",
        "estimated_roc_auc_ovr_macro",
    }
)
KNOWN_METRICS = KNOWN_METRICS | ESTIMATED_METRICS
