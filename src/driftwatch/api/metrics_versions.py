"""The /metrics gauges of the version comparison: each monitor × (baseline, candidate)'s latest compared window."""

from __future__ import annotations

import math

from prometheus_client.core import GaugeMetricFamily, Metric

from driftwatch.durations import as_utc
from driftwatch.storage.database import Database
from driftwatch.storage.versions import latest_comparisons

VERDICT_VALUE = {"insufficient_data": -1.0, "candidate_ok": 0.0, "candidate_worse": 1.0}
LABELS = ["monitor", "baseline", "candidate"]


def version_metrics(db: Database) -> list[Metric]:
    verdict = GaugeMetricFamily(
        "driftwatch_version_verdict",
        "Latest compared window: -1 insufficient_data, 0 candidate_ok, 1 candidate_worse",
        labels=LABELS,
    )
    agreement = GaugeMetricFamily(
        "driftwatch_version_agreement",
        "Shadow: share of paired decisions that agree (latest window)",
        labels=LABELS,
    )
    flips = GaugeMetricFamily(
        "driftwatch_version_flip_share",
        "Shadow: share of paired decisions that flip (latest window)",
        labels=LABELS,
    )
    delta = GaugeMetricFamily(
        "driftwatch_candidate_metric_delta",
        "Canary: candidate minus baseline of the compared metric on labelled rows (latest window)",
        labels=[*LABELS, "metric"],
    )
    start = GaugeMetricFamily(
        "driftwatch_version_window_start_timestamp_seconds",
        "Start of the latest compared window (Unix time)",
        labels=LABELS,
    )
    for row in latest_comparisons(db.cursor()):
        labels = [str(row["monitor"]), str(row["baseline"]), str(row["candidate"])]
        verdict.add_metric(labels, VERDICT_VALUE.get(str(row["status"]), -1.0))
        for family, key in ((agreement, "agreement"), (flips, "flip_share")):
            if _finite(row[key]):
                family.add_metric(labels, float(row[key]))
        if row["metric"] is not None and _finite(row["metric_delta"]):
            delta.add_metric([*labels, str(row["metric"])], float(row["metric_delta"]))
        start.add_metric(labels, as_utc(row["window_start"]).timestamp())
    return [verdict, agreement, flips, delta, start]


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
