"""The data-quality stage of a cycle (docs/quality.md): each window just computed, and the cycle's ingest,
judged by the checks of `stats.quality`, the results stored in `quality_results`.

Runs after the windows' statistics are stored and reads only what they computed (missing and unseen shares,
categorical bin counts, the numeric ECDF steps), the reference profile, the monitor's past window sizes and
the ingest's counts: no window is read again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import numpy as np

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.durations import to_naive_utc
from driftwatch.pipeline.ingest import IngestSummary
from driftwatch.pipeline.windows import WindowResult, compute_window
from driftwatch.stats import quality as q
from driftwatch.stats.feature_drift import FeatureDrift
from driftwatch.stats.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from driftwatch.stats.reference_thresholds import window_size_class
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.quality import (
    QualityKey,
    UnjudgedWindow,
    count_outside,
    past_window_rows,
    quarantine_reasons_since,
    replace_quality,
    run_started_at,
    unjudged_runs,
    windows_to_judge,
)
from driftwatch.storage.windows import PlannedWindow

WINDOW = "window"
CYCLE = "cycle"


@dataclass
class QualitySummary:
    """What a cycle's checks found: every result, by window (model version, start) or cycle."""

    windows: dict[tuple[str, datetime], list[q.QualityResult]] = field(default_factory=dict)
    cycle: list[q.QualityResult] = field(default_factory=list)

    def all(self) -> list[q.QualityResult]:
        return [r for results in self.windows.values() for r in results] + self.cycle

    @property
    def failed(self) -> int:
        return sum(1 for r in self.all() if r.status == "fail")

    @property
    def warned(self) -> int:
        return sum(1 for r in self.all() if r.status == "warn")

    @property
    def checked(self) -> int:
        return len(self.all())

    def failing(self) -> list[tuple[tuple[str, str | None], int]]:
        """(check, feature) → how many windows (or the cycle) it failed in, most frequent first."""
        counts: dict[tuple[str, str | None], int] = {}
        for r in self.all():
            if r.status == "fail":
                counts[(r.check, r.feature)] = counts.get((r.check, r.feature), 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))


# A reference's top-value share per (profile id, feature): a pass over the sorted reference (~10 ms per 100,000
# values), so computed once per profile in the process, not once per cycle. A profile id is a fingerprint of the
# reference file and the profile settings, so an entry never goes stale; the cap only bounds memory.
_TOP_SHARES: dict[tuple[str, str], float] = {}
_TOP_SHARES_MAX = 10_000


class _ReferenceFacts:
    """Per-profile numbers the checks need, computed once per cycle (the reference's top-value shares)."""

    def __init__(self, profile: ReferenceProfile) -> None:
        self.profile = profile
        self._ranges: dict[tuple[str, int, float], q.LearnedRange | None] = {}

    def learned_range(self, prof: NumericProfile, rows: int, quantile: float) -> q.LearnedRange | None:
        """The range learned at the window's size class (within 4.4 % of its rows, the grid the learned drift
        thresholds use): windows of nearly one size share it, so it is learned once per cycle, not per window."""
        key = (prof.name, window_size_class(rows), quantile)
        if key not in self._ranges:
            self._ranges[key] = q.learned_range(prof.checked_sorted_values, key[1], quantile)
        return self._ranges[key]

    def top_share(self, name: str) -> float:
        key = (self.profile.profile_id, name)
        if key not in _TOP_SHARES:
            prof = self.profile.features[name]
            if isinstance(prof, NumericProfile):
                value = q.top_share_sorted(prof.checked_sorted_values)
            else:
                value = q.top_share_counts(np.asarray(prof.bin_counts[:-2]))
            if len(_TOP_SHARES) >= _TOP_SHARES_MAX:
                _TOP_SHARES.clear()
            _TOP_SHARES[key] = value
        return _TOP_SHARES[key]


def _numeric_checks(
    fs: FeatureDrift,
    prof: NumericProfile,
    facts: _ReferenceFacts,
    settings: q.FeatureQuality,
    min_rows: int,
    exact_outside: Callable[[float, float], int] | None,
) -> list[q.QualityResult]:
    present = fs.rows - int(fs.bin_counts[-1])  # the last PSI bin counts the missing values
    # A window computed from partials (streamed, docs/scale.md) carries a W1 bound; its ECDF is evaluated at the
    # reference's values, so its min/max come from `window_min`/`window_max` and its top share is a bound.
    exact_steps = fs.wasserstein_bound is None
    if fs.ecdf is None:
        values = q.WindowValues(np.empty(0), np.empty(0), 0)
    else:
        x, y = np.asarray(fs.ecdf.x), np.asarray(fs.ecdf.y)
        values = q.WindowValues(x, y, present, fs.window_min, fs.window_max, exact_steps)
    out = []
    if settings.range.enabled and present > 0:
        learned = facts.learned_range(prof, present, settings.range.quantile)
        out.append(
            q.range_check(fs.name, values, prof.checked_sorted_values, settings.range, learned, exact_outside)
        )
    elif settings.range.enabled:
        out.append(q.not_judged("range", fs.name, "no non-missing values in the window"))
    if settings.constant.enabled:
        out.append(_numeric_constant(fs.name, values, facts, settings, min_rows))
    return out


def _numeric_constant(
    name: str, values: q.WindowValues, facts: _ReferenceFacts, settings: q.FeatureQuality, min_rows: int
) -> q.QualityResult:
    extremes = values.extremes()
    if values.present == 0 or extremes is None:
        return q.not_judged("constant", name, "no non-missing values in the window")
    top, distinct = q.numeric_top(values)
    value: str | None
    if values.exact_steps:
        value = f"{float(values.x[int(np.argmax(np.diff(values.y, prepend=0.0)))]):g}"
    else:
        value = f"{extremes[0]:g}" if distinct == 1 else None
    bound = not values.exact_steps and distinct != 1
    return q.constant_check(
        name, top, distinct, values.present, facts.top_share(name), settings.constant, min_rows, value, bound
    )


def _categorical_checks(
    fs: FeatureDrift,
    prof: CategoricalProfile,
    facts: _ReferenceFacts,
    settings: q.FeatureQuality,
    min_rows: int,
) -> list[q.QualityResult]:
    counts = np.asarray(fs.bin_counts)  # [categories..., unseen, missing]
    present = fs.rows - int(counts[-1])
    out = []
    if settings.categories.enabled:
        reference_unseen = float(prof.bin_counts[-2]) / prof.rows if prof.rows else 0.0
        out.append(
            q.category_check(fs.name, fs.get("unseen_share"), reference_unseen, fs.rows, settings.categories)
        )
    if settings.constant.enabled:
        if present == 0:
            out.append(q.not_judged("constant", fs.name, "no non-missing values in the window"))
        else:
            # Values outside the reference's categories share one bin: not one value, so never the top one
            # (the categories check judges them).
            known = counts[:-2]
            top = float(known.max()) / present if known.size else 0.0
            distinct = int(np.count_nonzero(known)) + (1 if int(counts[-2]) else 0)
            value = repr(prof.categories[int(np.argmax(known))]) if known.size else None
            reference_top = facts.top_share(fs.name)
            out.append(
                q.constant_check(
                    fs.name, top, distinct, present, reference_top, settings.constant, min_rows, value
                )
            )
    return out


def feature_checks(
    fs: FeatureDrift,
    profile: ReferenceProfile,
    facts: _ReferenceFacts,
    monitor: MonitorConfig,
    counter: Callable[[str, float, float], int] | None = None,
) -> list[q.QualityResult]:
    """Every per-feature check of one feature in one window. `counter(feature, low, high)` counts the window's
    values outside [low, high] exactly (None: read off the ECDF steps)."""
    prof = profile.features.get(fs.name)
    if prof is None or fs.type_change is not None:
        # A feature whose values changed type is reported by the drift decision (stats.categories).
        return []
    settings = monitor.quality.feature(fs.name)
    out = []
    if settings.missing.enabled:
        out.append(
            q.missing_check(
                fs.name,
                fs.get("missing_share_current"),
                fs.get("missing_share_reference"),
                fs.rows,
                settings.missing,
            )
        )
    if isinstance(prof, NumericProfile):
        exact = None if counter is None else partial(counter, fs.name)
        out += _numeric_checks(fs, prof, facts, settings, monitor.min_rows, exact)
    else:
        out += _categorical_checks(fs, prof, facts, settings, monitor.min_rows)
    return out


def window_checks(
    db: Database,
    monitor: MonitorConfig,
    profile: ReferenceProfile,
    result: WindowResult,
    facts: _ReferenceFacts,
) -> list[q.QualityResult]:
    """The checks of one window (all its rows: segment '*')."""
    overall = result.overall
    out: list[q.QualityResult] = []
    window = result.window

    def counter(feature: str, low: float, high: float) -> int:
        span = (window.start, window.end)
        return count_outside(db.cursor(), monitor.name, window.model_version, span, feature, (low, high))

    if overall.rows > 0:
        for fs in overall.features:
            out += feature_checks(fs, profile, facts, monitor, counter)
    rc = monitor.quality.row_count
    if rc.enabled:
        history = past_window_rows(db.cursor(), monitor.name, window.model_version, window.start, rc.history)
        out.append(q.row_count_check(overall.rows, history, rc))
    return out


def _stored(
    results: Sequence[q.QualityResult],
) -> list[tuple[str, str | None, str, float | None, float | None, float | None, str]]:
    return [(r.check, r.feature, r.status, r.value, r.warn_bar, r.fail_bar, r.reason) for r in results]


def cycle_checks(
    db: Database, monitor: MonitorConfig, features: Sequence[str], ingest: IngestSummary, since: datetime
) -> list[q.QualityResult]:
    """The ingest checks over the rows this cycle read from files (pushed batches are all-or-nothing and answer
    their own sender, docs/api.md): quarantined rows by reason, type failures per feature, duplicates."""
    settings = monitor.quality
    reasons = quarantine_reasons_since(db.cursor(), monitor.name, since)
    out = q.quarantine_checks(reasons, ingest.rows_read, settings, features)
    if settings.duplicates.enabled:
        out.append(q.duplicates_check(ingest.rows_duplicate, ingest.rows_read, settings.duplicates))
    return out


Recompute = Callable[[UnjudgedWindow], WindowResult | None]
"""A stored window's statistics computed again from its rows (None: it cannot be judged now)."""


def recomputer(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    profile: ReferenceProfile,
    profile_for: Callable[[PlannedWindow], ReferenceProfile | None] | None = None,
) -> Recompute:
    """How the quality stage re-reads a window a stopped cycle stored but never judged: as the window stage
    computed it (the same profile per model version), nothing stored again."""

    def recompute(window: UnjudgedWindow) -> WindowResult | None:
        planned = PlannedWindow(window.model_version, window.start, window.end, window.start)
        window_profile = profile_for(planned) if profile_for is not None else profile
        if window_profile is None:
            return None
        return compute_window(db, monitor, features, window_profile, planned)

    return recompute


def _caught_up(
    db: Database, monitor: MonitorConfig, windows: Sequence[WindowResult], recompute: Recompute | None
) -> list[WindowResult]:
    """This cycle's windows, plus every stored window whose quality results are missing or older than its
    statistics (a cycle that stopped before this stage), re-read through `recompute`."""
    out = list(windows)
    if recompute is None:
        return out
    done = {(to_naive_utc(r.window.start), r.window.model_version) for r in windows}
    for window in windows_to_judge(db.cursor(), monitor.name):
        if (window.start, window.model_version) not in done:
            result = recompute(window)
            if result is not None:
                out.append(result)
    return out


def _judge_cycle(
    db: Database, monitor: MonitorConfig, features: Sequence[str], ingest: IngestSummary, run_id: str
) -> list[q.QualityResult]:
    """The ingest checks of this run and of every earlier run that stopped before judging its own (their
    rows counted from the runs table, their quarantined rows from their start on)."""
    started = run_started_at(db.cursor(), run_id)
    if started is None:
        return []
    earlier = unjudged_runs(db.cursor(), monitor.name, run_id)
    rows_read = ingest.rows_read + earlier.rows_read
    if rows_read <= 0:
        return []
    since = earlier.since or started
    total = IngestSummary(rows_read=rows_read, rows_duplicate=ingest.rows_duplicate + earlier.rows_duplicate)
    results = cycle_checks(db, monitor, features, total, since)
    with db.transaction() as tx:
        key = QualityKey(monitor.name, CYCLE, "*", since, utcnow())
        replace_quality(tx, key, _stored(results), run_id, utcnow())
    return results


def check_quality(
    db: Database,
    monitor: MonitorConfig,
    profile: ReferenceProfile,
    windows: Sequence[WindowResult],
    ingest: IngestSummary,
    run_id: str,
    recompute: Recompute | None = None,
) -> QualitySummary:
    """Judge and store every window computed in this cycle (and, with `recompute`, every stored window a stopped
    cycle left unjudged), and the cycle's ingest when it (or such a cycle) read any row."""
    summary = QualitySummary()
    if not monitor.quality.enabled:
        return summary
    facts = _ReferenceFacts(profile)
    windows = _caught_up(db, monitor, windows, recompute)
    for result in windows:
        w = result.window
        summary.windows[(w.model_version, w.start)] = window_checks(db, monitor, profile, result, facts)
    # One transaction for every window of the cycle: a commit costs more than the checks themselves.
    with db.transaction() as tx:
        now = utcnow()
        for result in windows:
            w = result.window
            key = QualityKey(monitor.name, WINDOW, w.model_version, w.start, w.end)
            replace_quality(tx, key, _stored(summary.windows[(w.model_version, w.start)]), run_id, now)
    summary.cycle = _judge_cycle(db, monitor, list(profile.features), ingest, run_id)
    return summary
