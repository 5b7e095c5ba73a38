"""The data-quality families of `GET /metrics` (docs/quality.md, docs/api.md), built from each monitor's latest
stored results (`storage.quality.latest_quality`)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from driftwatch.storage.database import Database
from driftwatch.storage.quality import latest_quality

QUALITY_STATUS_VALUE = {"not_judged": -1, "ok": 0, "warn": 1, "fail": 2}


def quality_families(db: Database) -> list[Metric]:
    status = GaugeMetricFamily(
        "driftwatch_quality_status",
        "Latest data-quality check result: -1 not_judged, 0 ok, 1 warn, 2 fail (feature '' for a whole-window "
        "check; scope window or cycle)",
        labels=["monitor", "model_version", "scope", "check", "feature"],
    )
    failures = GaugeMetricFamily(
        "driftwatch_quality_failures",
        "Data-quality checks at fail in the monitor's latest results (every check's latest window or cycle)",
        labels=["monitor"],
    )
    counts: dict[str, int] = {}
    for monitor, row in latest_quality(db.cursor()):
        labels = [monitor, row.model_version, row.scope, row.check, row.feature or ""]
        status.add_metric(labels, QUALITY_STATUS_VALUE.get(row.status, -1))
        counts[monitor] = counts.get(monitor, 0) + (1 if row.status == "fail" else 0)
    for monitor, n in counts.items():
        failures.add_metric([monitor], float(n))
    return [status, failures]
