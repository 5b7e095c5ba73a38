"""Multivariate drift per window (a monitor's `multivariate:` section; methods in `stats.multivariate`).

Runs after the per-feature windows: every window whose drift results are newer than its multivariate results
(or that has none) is judged on all features jointly, overall (segment '*'). The reference's multivariate
profile is fit once per reference profile and settings, stored, and reused.

Its own read of each window: the per-feature step reads numeric columns as arrays and categoricals as grouped
counts, which lose the rows; the multivariate statistics need rows, so they read a repeatable sample of at most
`max_rows` of them (all features together) in one query.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
from numpy.typing import NDArray

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.config.multivariate import MultivariateSettings
from driftwatch.errors import SourceError
from driftwatch.performance.uncertainty import delong_variance
from driftwatch.pipeline.reference import ReferenceOutcome, reference_layout
from driftwatch.sources.files import Readable, first_line, read_source, source_file
from driftwatch.sources.reference_rows import drop_reference_rows, load_reference_rows
from driftwatch.sources.reference_sample import reference_joint_rows
from driftwatch.stats import multivariate as mv
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.multivariate import (
    JudgeWindow,
    load_multivariate_profile,
    replace_multivariate_results,
    save_multivariate_profile,
    window_joint_rows,
    windows_to_judge,
)

PROFILE_FORMAT = 1
Z_95 = 1.959963984540054  # the two-sided 95 % normal quantile, for the AUC interval
_CACHE: dict[tuple[str, str, str], mv.MultivariateProfile] = {}
_CACHE_LOCK = threading.Lock()


@dataclass
class MultivariateSummary:
    """What the multivariate step did in one cycle."""

    windows: int = 0
    drifted: int = 0  # windows at `drift` by any method
    profile_rebuilt: bool = False
    seconds: float = 0.0
    statuses: list[str] = field(default_factory=list)  # each judged window's overall status, oldest first
    drifted_windows: list[datetime] = field(default_factory=list)  # starts (naive UTC) of windows at drift


def profile_key(profile_id: str, settings: MultivariateSettings) -> str:
    """The reference profile and every setting the fitted profile depends on."""
    key = {
        "format": PROFILE_FORMAT,
        "profile": profile_id,
        "explained_variance": settings.explained_variance,
        "reference_rows": settings.reference_rows,
        "classifier_rows": settings.classifier_rows,
        "top_categories": settings.top_categories,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def judging_key(key: str, settings: MultivariateSettings, min_rows: int) -> str:
    """The fitted profile's key plus every setting a window's verdict depends on beyond the profile (methods,
    margin, folds, max_rows and the resolved min_rows). Stored with the results (their `profile_key` column), so
    changing any of them re-judges the stored windows; they do not refit the profile, so they stay out of
    `profile_key`."""
    judged = {
        "profile": key,
        "methods": list(settings.methods),
        "margin": settings.margin,
        "folds": settings.folds,
        "max_rows": settings.max_rows,
        "min_rows": min_rows,
    }
    return hashlib.sha256(json.dumps(judged, sort_keys=True).encode()).hexdigest()[:24]


def _read_reference(
    cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig, features: FeatureSpec, rows: int
) -> mv.Rows:
    """A repeatable reservoir sample of ``rows`` reference rows, every feature of a row together."""
    ref = monitor.reference
    layout = reference_layout(monitor, features)
    limit = rows if ref.max_rows is None else min(rows, ref.max_rows)

    def load(readable: Readable) -> mv.Rows:
        load_reference_rows(cur, readable, layout, limit)
        try:
            numeric, categorical = reference_joint_rows(cur, features.numeric, features.categorical)
        finally:
            drop_reference_rows(cur)
        return mv.Rows(numeric, categorical)

    try:
        return read_source(cur, source_file(ref.path, ref.format), load)
    except duckdb.Error as exc:
        raise SourceError(ref.path, f"cannot read reference: {first_line(exc)}") from None


def ensure_multivariate_profile(
    db: Database, monitor: MonitorConfig, reference: ReferenceOutcome
) -> tuple[str, mv.MultivariateProfile, bool]:
    """The fitted profile for the current reference and settings (fit and stored when new), its key, and
    whether it was fit now."""
    settings = monitor.multivariate
    key = profile_key(reference.profile.profile_id, settings)
    cache_key = (str(db.path), monitor.name, key)
    with _CACHE_LOCK:
        hit = _CACHE.get(cache_key)
    if hit is not None:
        return key, hit, False
    cur = db.cursor()
    stored = load_multivariate_profile(cur, monitor.name, key)
    rebuilt = stored is None
    if stored is not None:
        profile = mv.profile_from_dict(stored)
    else:
        rows = _read_reference(cur, monitor, reference.features, settings.reference_rows)
        if len(rows) < 4:
            raise SourceError(
                monitor.reference.path, "too few usable reference rows for the multivariate profile"
            )
        profile = mv.fit_profile(
            rows, settings.explained_variance, settings.top_categories, settings.classifier_rows
        )
        with db.transaction() as tx:
            save_multivariate_profile(tx, monitor.name, key, len(rows), mv.profile_to_dict(profile), utcnow())
    with _CACHE_LOCK:
        _CACHE[cache_key] = profile
    return key, profile, rebuilt


def mann_whitney_auc(positive: NDArray[np.bool_], score: NDArray[np.float64]) -> float:
    """ROC AUC as P(score of a positive > score of a negative) + ½ P(tie), by sorting."""
    pos, neg = np.sort(score[positive]), np.sort(score[~positive])
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    below = np.searchsorted(neg, pos, "left") + np.searchsorted(neg, pos, "right")
    return float(below.sum() / (2.0 * pos.size * neg.size))


def domain_classifier(
    profile: mv.MultivariateProfile,
    window: NDArray[np.float64],
    settings: MultivariateSettings,
    min_rows: int,
) -> mv.MethodResult:
    """The classifier's cross-validated AUC with a DeLong 95 % interval (`performance.uncertainty`), judged by
    `stats.multivariate.judge_classifier`. The window is cut to ``classifier_rows`` seeded random rows."""
    n = int(window.shape[0])
    if n < max(min_rows, 2):
        return mv.MethodResult(
            mv.CLASSIFIER, mv.INSUFFICIENT, f"{n} rows < min_rows {min_rows}: not judged", n
        )
    # Stratified folds need at least `folds` rows of each side.
    if min(n, profile.reference_sample.shape[0]) < settings.folds:
        reason = f"fewer rows than the {settings.folds} cross-validation folds on one side: not judged"
        return mv.MethodResult(mv.CLASSIFIER, mv.INSUFFICIENT, reason, n)
    if n > settings.classifier_rows:
        keep = np.sort(
            np.random.default_rng(mv.BAR_SEED).choice(n, size=settings.classifier_rows, replace=False)
        )
        window, n = window[keep], int(keep.size)
    labels, scores = mv.classifier_scores(profile.reference_sample, window, folds=settings.folds)
    auc = mann_whitney_auc(labels, scores)
    stderr = math.sqrt(max(delong_variance(labels, scores), 0.0))
    low, high = max(0.0, auc - Z_95 * stderr), min(1.0, auc + Z_95 * stderr)
    return mv.judge_classifier(auc, low, high, settings.margin, n)


def judge_rows(
    profile: mv.MultivariateProfile, rows: mv.Rows, settings: MultivariateSettings, min_rows: int
) -> list[mv.MethodResult]:
    """Every configured method's verdict on a window's (sampled) rows."""
    matrix = mv.encode(profile.encoding, rows)
    results = []
    if mv.RECONSTRUCTION in settings.methods:
        results.append(mv.reconstruction_result(profile, matrix, min_rows))
    if mv.CLASSIFIER in settings.methods:
        results.append(domain_classifier(profile, matrix, settings, min_rows))
    return results


def _stored_rows(
    monitor: str, window: JudgeWindow, window_rows: int, results: list[mv.MethodResult], key: str, run_id: str
) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "monitor": monitor,
            "model_version": window.model_version,
            "window_start": window.start,
            "window_end": window.end,
            "method": r.method,
            "status": r.status,
            "reason": r.reason,
            "rows": r.rows,
            "window_rows": window_rows,
            "value": r.value,
            "warn_bar": r.warn_bar,
            "drift_bar": r.drift_bar,
            "low": r.low,
            "high": r.high,
            "profile_key": key,
            "run_id": run_id,
            "computed_at": now,
        }
        for r in results
    ]


def compute_multivariate(
    db: Database, monitor: MonitorConfig, reference: ReferenceOutcome, run_id: str
) -> MultivariateSummary | None:
    """Judge every window waiting for multivariate results; None when the monitor has it off."""
    settings = monitor.multivariate
    if not settings.enabled:
        return None
    started = time.perf_counter()
    key, profile, rebuilt = ensure_multivariate_profile(db, monitor, reference)
    summary = MultivariateSummary(profile_rebuilt=rebuilt)
    min_rows = settings.min_rows if settings.min_rows is not None else monitor.min_rows
    max_rows = max(1, min(settings.max_rows, mv.max_window_rows(profile)))
    features = reference.features
    cur = db.cursor()
    key = judging_key(key, settings, min_rows)
    for window in windows_to_judge(cur, monitor.name, key):
        joint = window_joint_rows(cur, monitor.name, window, features.numeric, features.categorical, max_rows)
        results = judge_rows(profile, mv.Rows(joint.numeric, joint.categorical), settings, min_rows)
        with db.transaction() as tx:
            replace_multivariate_results(
                tx,
                monitor.name,
                window,
                _stored_rows(monitor.name, window, joint.window_rows, results, key, run_id),
            )
        status = mv.overall_status(results)
        summary.windows += 1
        summary.drifted += status == mv.DRIFT
        if status == mv.DRIFT:
            summary.drifted_windows.append(window.start)
        summary.statuses.append(status)
    summary.seconds = time.perf_counter() - started
    return summary
