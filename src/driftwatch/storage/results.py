"""Named queries over stored results: what `driftwatch results` and (later) the API and reports read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from driftwatch.storage.filters import equal_filters

# The key every per-window result row starts with: feature results here, performance results
# (storage/performance_results.py) with their metric.
WINDOW_KEY = ("monitor", "model_version", "segment", "window_start")
RESULT_FIELDS = (
    *WINDOW_KEY,
    "window_end",
    "feature",
    "kind",
    "rows",
    "status",
    "reason",
)


def iso_utc(ts: datetime) -> str:
    """A stored (naive UTC) time as ISO 8601 with a Z, as `driftwatch results` prints it."""
    return ts.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def feature_results(
    cur: duckdb.DuckDBPyConnection,
    monitor: str | None = None,
    segment: str | None = "*",
    feature: str | None = None,
) -> list[dict[str, Any]]:
    """One dict per monitor × version × segment × window × feature, with every statistic as a key."""
    where, params = equal_filters({"monitor": monitor, "segment": segment, "feature": feature}, prefix="r.")
    rows = cur.execute(
        f"SELECT {', '.join('r.' + f for f in RESULT_FIELDS)}, "
        "list(s.statistic ORDER BY s.statistic), list(s.value ORDER BY s.statistic) "
        "FROM feature_results r LEFT JOIN feature_stats s USING (monitor, model_version, segment, window_start, feature) "
        f"WHERE {where} "
        f"GROUP BY ALL ORDER BY r.monitor, r.model_version, r.segment, r.window_start, r.feature",
        params,
    ).fetchall()
    out = []
    for row in rows:
        item = dict(zip(RESULT_FIELDS, row[: len(RESULT_FIELDS)], strict=True))
        item["window_start"] = iso_utc(item["window_start"])
        item["window_end"] = iso_utc(item["window_end"])
        for name, value in zip(row[-2] or [], row[-1] or [], strict=True):
            if name is not None:
                item[str(name)] = value
        out.append(item)
    return out
