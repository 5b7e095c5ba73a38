"""Roll-ups: a week (or any multiple of the window) from the stored per-window partial counts.

PSI, chi², Jensen–Shannon, Hellinger, missing and unseen shares depend on the data only through bin counts,
and counts merge by `+`; so a week's statistics computed from its days' stored counts equal the statistics
computed directly on the week's rows, without re-reading the logs. Exact KS and Wasserstein need the values
themselves and are not part of a roll-up (they are null there).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from driftwatch.config.monitors import MonitorConfig
from driftwatch.durations import WINDOW_ORIGIN, format_duration, iso_utc, to_naive_utc
from driftwatch.pipeline.reference import cached_profile
from driftwatch.stats.feature_drift import (
    FeatureDrift,
    as_role,
    categorical_stats_from_counts,
    numeric_stats_from_counts,
)
from driftwatch.stats.judgement import judge_window
from driftwatch.stats.profile import CategoricalProfile, NumericProfile
from driftwatch.storage.database import Database
from driftwatch.storage.windows import stored_bins

_ORIGIN = to_naive_utc(WINDOW_ORIGIN)


def _iso(ts: datetime) -> str:
    return iso_utc(ts)


def rollup_results(
    db: Database, monitor: MonitorConfig, width: timedelta, segment: str = "*"
) -> list[dict[str, Any]]:
    """One dict per model version × period × feature, merged from the stored window partials."""
    if width < monitor.window or width % monitor.window:
        raise ValueError(
            f"a roll-up must be a whole multiple of the window ({format_duration(monitor.window)}), "
            f"got {format_duration(width)}"
        )
    merged: dict[tuple[str, datetime, str, str], np.ndarray] = {}
    windows: dict[tuple[str, datetime, str, str], int] = defaultdict(int)
    for stored in stored_bins(db.cursor(), monitor.name, segment):
        start = stored.window_start
        period = _ORIGIN + ((start - _ORIGIN) // width) * width
        key = (stored.model_version, period, stored.feature, stored.profile_id)
        merged[key] = merged[key] + stored.counts if key in merged else stored.counts
        windows[key] += 1

    # Group per version × period so the decision sees the period's features together, as for a window.
    by_period: dict[tuple[str, datetime], list[tuple[str, str, FeatureDrift]]] = defaultdict(list)
    for (version, period, feature, profile_id), counts in merged.items():
        profile = cached_profile(db, monitor.name, profile_id).features.get(feature)
        if isinstance(profile, NumericProfile):
            stats = numeric_stats_from_counts(profile, counts)
        elif isinstance(profile, CategoricalProfile):
            stats = categorical_stats_from_counts(profile, counts)
        else:
            continue
        by_period[(version, period)].append((feature, profile_id, as_role(stats)))

    out: list[dict[str, Any]] = []
    for (version, period), items in sorted(by_period.items()):
        profile_counts = {
            feature: cached_profile(db, monitor.name, profile_id).features[feature].bin_counts
            for feature, profile_id, _ in items
        }
        decision = judge_window([s for _, _, s in items], profile_counts, monitor.drift)
        for (feature, profile_id, stats), fd in zip(items, decision.features, strict=True):
            row: dict[str, Any] = {
                "monitor": monitor.name,
                "model_version": version,
                "segment": segment,
                "window_start": _iso(period),
                "window_end": _iso(period + width),
                "feature": feature,
                "kind": stats.kind,
                "rows": stats.rows,
                "windows": windows[(version, period, feature, profile_id)],
                "status": fd.status,
                "reason": fd.reason,
            }
            row.update({k: (None if v is None or np.isnan(v) else float(v)) for k, v in stats.stats.items()})
            out.append(row)
    out.sort(key=lambda r: (r["model_version"], r["window_start"], r["feature"]))
    return out
