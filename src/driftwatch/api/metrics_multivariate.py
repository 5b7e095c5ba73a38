"""The `/metrics` section of multivariate drift: each monitor's latest window per model version and method."""

from __future__ import annotations

import math

from prometheus_client.core import GaugeMetricFamily, Metric

from driftwatch.storage.database import Database
from driftwatch.storage.multivariate import latest_multivariate_results

STATUS_VALUE = {"insufficient_data": -1, "ok": 0, "warn": 1, "drift": 2}
_LABELS = ["monitor", "model_version", "method"]


def multivariate_metrics(db: Database) -> list[Metric]:
    value = GaugeMetricFamily(
        "driftwatch_multivariate_value",
        "Latest window's multivariate statistic: mean PCA reconstruction error (method=reconstruction) or the "
        "domain classifier's ROC AUC (method=classifier)",
        labels=_LABELS,
    )
    bar = GaugeMetricFamily(
        "driftwatch_multivariate_drift_bar",
        "The drift bar of that statistic (learned, or 0.5 + margin for the AUC's lower bound)",
        labels=_LABELS,
    )
    status = GaugeMetricFamily(
        "driftwatch_multivariate_status",
        "Latest window's multivariate status: -1 insufficient_data, 0 ok, 1 warn, 2 drift",
        labels=_LABELS,
    )
    for row in latest_multivariate_results(db.cursor()):
        labels = [row.monitor, row.model_version, row.method]
        if row.value is not None and math.isfinite(row.value):
            value.add_metric(labels, row.value)
        if row.drift_bar is not None and math.isfinite(row.drift_bar):
            bar.add_metric(labels, row.drift_bar)
        status.add_metric(labels, STATUS_VALUE.get(row.status, -1))
    return [value, bar, status]
