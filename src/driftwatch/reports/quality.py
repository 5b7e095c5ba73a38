"""The data-quality sections of the report (docs/quality.md): the window page's (templates/_quality.html) and
the monitor overview's recent cycles (templates/_quality_cycles.html: the ingest checks parse, type and
duplicates, judged per cycle, belong to no window)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.reports.render import format_number, format_utc
from driftwatch.storage.quality import QualityRow, quality_results, window_quality

_ORDER = {"fail": 0, "warn": 1, "ok": 2, "not_judged": 3}
OVERALL = "*"
CYCLES_SHOWN = 10  # the overview lists the checks of the monitor's latest cycles that stored any
# Results read for them: a cycle stores 2 checks plus one `type` row per feature, so this covers 10 cycles of
# a monitor with up to ~48 features; a wider one shows fewer cycles, never a cut-off one.
_CYCLE_ROWS_READ = 500


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
        for r in sorted(stored, key=_rank)
    )
    return QualitySection(_summary(stored), rows)


def _rank(row: QualityRow) -> tuple[int, str, str]:
    """Failures first, then warnings, ok, not judged; by check and feature within each."""
    return (_ORDER.get(row.status, 4), row.check, row.feature or "")


def _summary(rows: Sequence[QualityRow]) -> str:
    """e.g. "34 checks: 1 fail, 2 warn, 30 ok, 1 not judged"."""
    counts = {s: sum(1 for r in rows if r.status == s) for s in _ORDER}
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in _ORDER if counts[s]]
    return f"{len(rows)} checks: " + ", ".join(parts)


@dataclass(frozen=True)
class CycleQualityRow:
    cycle: str  # "2026-03-02 10:00 – 10:01" (the run's start and finish, UTC)
    run_id: str  # first 8 characters, as `driftwatch runs` shows it
    check: str
    feature: str
    status: str
    value: str
    reason: str


@dataclass(frozen=True)
class CycleQualitySection:
    summary: str  # the latest cycle's counts, e.g. "latest cycle: 3 checks: 1 fail, 2 ok"
    rows: tuple[CycleQualityRow, ...]  # newest cycle first; within a cycle failures first


def cycle_quality_section(cur: duckdb.DuckDBPyConnection, monitor: str) -> CycleQualitySection | None:
    """The cycle-scope checks of the monitor's latest `CYCLES_SHOWN` cycles that stored any; None when none
    has (checks off, or no cycle read a row)."""
    stored = quality_results(cur, monitor, "cycle", None, None, None, _CYCLE_ROWS_READ)
    if not stored:
        return None
    starts = sorted({r.window_start for r in stored}, reverse=True)
    if len(stored) == _CYCLE_ROWS_READ and len(starts) > 1:
        starts = starts[:-1]  # the oldest cycle read may be cut off: leave it out
    shown = set(starts[:CYCLES_SHOWN])
    rows = sorted(
        (r for r in stored if r.window_start in shown),
        key=lambda r: (-r.window_start.timestamp(), *_rank(r)),
    )
    latest = [r for r in rows if r.window_start == starts[0]]
    return CycleQualitySection(
        "latest cycle: " + _summary(latest),
        tuple(
            CycleQualityRow(
                f"{format_utc(r.window_start)} – {format_utc(r.window_end)}",
                r.run_id[:8],
                r.check,
                r.feature or "(cycle)",
                r.status,
                _value(r),
                r.reason,
            )
            for r in rows
        ),
    )
