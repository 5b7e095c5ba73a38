"""The small demo project the pipeline tests share (a fixed end date, so nothing depends on today)."""

from __future__ import annotations

from datetime import UTC, datetime

from driftwatch.demo import DemoSpec

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
SMALL_DEMO = DemoSpec(
    days=24, rows_per_day=1500, reference_rows=15000, drift_day=14, missing_day=18, end=DEMO_END
)
