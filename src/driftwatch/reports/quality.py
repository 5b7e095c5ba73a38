"""The window page's data-quality section (templates/_quality.html; docs/quality.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.reports.render import format_number
from driftwatch.storage.quality import QualityRow, window_quality

_ORDER = {"fail": 0, "warn": 1, "ok": 2, "not_judged": 3}
OVERALL = "*"


@dataclass(frozen=True)
class QualityCheckRow:
    check: str
    feature: str
    status: str
    value: str
    reason: str


@dataclass(frozen=True)
class QualitySection:
    summary: str  # e.g. "34 checks: 1 fail, 2 warn, 30 ok, 1 not judged"
    rows: tuple[QualityCheckRow, ...]  # failures first
    note: str = ""


def _value(row: QualityRow) -> str:
    if row.value is None:
        return "—"
    if row.check == "row_count":
        return f"z = {row.value:+.1f}"
    return f"{100 * row.value:.2f} %" if 0.0 <= row.value <= 1.0 else format_number(row.value)


def quality_section(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str, segment: str, window_start: datetime
) -> QualitySection | None:
    """The stored checks of the window, failures first; None when the checks did not run for it. The checks
    judge a window's rows as a whole, so a segment's page points to the all-rows page instead."""
    if segment != OVERALL:
        return QualitySection(
            "", (), "Data-quality checks judge all of the window's rows: see the all-rows page."
        )
    stored = window_quality(cur, monitor, model_version, window_start)
    if not stored:
        return None
    rows = tuple(
        QualityCheckRow(r.check, r.feature or "(window)", r.status, _value(r), r.reason)
        for r in sorted(stored, key=lambda r: (_ORDER.get(r.status, 4), r.check, r.feature or ""))
    )
    counts = {s: sum(1 for r in stored if r.status == s) for s in _ORDER}
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in _ORDER if counts[s]]
    return QualitySection(f"{len(stored)} checks: " + ", ".join(parts), rows)
