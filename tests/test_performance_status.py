"""The statuses a stored performance row can have, through a real cycle on real files and a real DuckDB file.

A verdict has three (`performance.verdict.Status`); a stored row has two more: `info` (its labels suffice but it
has no verdict: not judged, or no baseline) and `estimate` (CBPE). `pipeline.performance.MetricStatus` names
all five, docs/performance.md explains each and the reports rank each; mypy once caught the pipeline assigning
`info` to a variable typed as a verdict's status.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from driftwatch.performance.verdict import Status
from driftwatch.pipeline.performance import MetricStatus
from driftwatch.reports.site import _PERFORMANCE_SEVERITY
from driftwatch.storage.performance_results import performance_results
from test_performance_pipeline import CONFIG, day_iso, run, write_project

DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
DAYS = 3


def _stored(config: Path) -> list[dict]:  # type: ignore[type-arg]
    _mon, db, _summary = run(config, DAYS)
    with db:
        return performance_results(db.cursor(), monitor="m")


def test_unjudged_metrics_are_info_and_estimates_are_estimate(tmp_path: Path) -> None:
    config = write_project(tmp_path, DAYS)
    config.write_text(
        CONFIG.replace("      tolerance: 0.05\n", "      tolerance: 0.05\n      metrics: [roc_auc]\n")
    )
    rows = [r for r in _stored(config) if r["segment"] == "*" and r["window_start"] == day_iso(1)]
    status = {r["metric"]: (r["status"], r["reason"]) for r in rows}
    assert status["roc_auc"][0] == "ok"
    # measured on the reference, so it has a baseline, but it is not in performance.metrics
    assert status["accuracy"] == ("info", "not judged (not in performance.metrics)")
    assert status["estimated_roc_auc"][0] == "estimate"
    assert {s for s, _ in status.values()} == {"ok", "info", "estimate"}


def test_a_judged_metric_without_a_baseline_is_info_with_the_reason(tmp_path: Path) -> None:
    config = write_project(tmp_path, DAYS)
    # No target on the reference: only the configured baseline (roc_auc) exists; accuracy is judged without one.
    text = CONFIG.replace("      target: y\n", "").replace(
        "      tolerance: 0.05\n",
        "      tolerance: 0.05\n      metrics: [roc_auc, accuracy]\n      baseline: {roc_auc: 0.7}\n",
    )
    config.write_text(text)
    rows = [r for r in _stored(config) if r["segment"] == "*" and r["window_start"] == day_iso(1)]
    status = {r["metric"]: (r["status"], r["reason"]) for r in rows}
    assert status["roc_auc"][0] in ("ok", "degraded")
    assert status["accuracy"] == ("info", "no baseline for this metric; no verdict")
    assert not any(m.startswith("estimated_") for m in status)  # no calibrator without a target
    assert set(get_args(MetricStatus)) >= {s for s, _ in status.values()}


def test_every_row_status_is_a_verdict_status_or_info_or_estimate_and_is_documented_and_ranked() -> None:
    statuses = set(get_args(MetricStatus))
    assert statuses == {*get_args(Status), "info", "estimate"}
    # the table under "**Status** per row", up to the next numbered step
    table = DOCS.read_text().split("**Status** per row", 1)[1].split("\n6. ", 1)[0]
    documented = set(re.findall(r"^\s*\| `([a-z_]+)`(?: / `([a-z_]+)`)? \|", table, re.MULTILINE))
    assert statuses == {s for pair in documented for s in pair if s}
    assert statuses == set(_PERFORMANCE_SEVERITY)
