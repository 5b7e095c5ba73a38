"""Cells and JSON shared by `results` and `compare`: one statistic table, one way to print a number."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from driftwatch.durations import iso_utc

# The statistics a table shows, one column each; "test" is KS D or chi², "p" its p-value (adjusted when the
# window's correction applied), "w/σ" the Wasserstein distance in reference standard deviations. JSON output
# has every statistic under its own name.
STATISTIC_COLUMNS = ("psi", "test", "p", "js", "hellinger", "w/σ")


def fmt(value: Any) -> str:
    """A number as a table shows it ("-" for none or NaN; tiny values in 3 significant digits)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.3f}"
    return str(value)


def statistic_cells(row: dict[str, Any], cols: list[str]) -> list[str]:
    """A result row (stored window, roll-up or compare) as table cells in the order of `cols`."""
    numeric = row.get("kind") == "numeric"
    cells: dict[str, object] = {
        "test": f"D {fmt(row.get('ks_statistic'))}" if numeric else f"χ² {fmt(row.get('chi2_statistic'))}",
        "p": row.get("pvalue_adjusted", row.get("ks_pvalue" if numeric else "chi2_pvalue")),
        "js": row.get("js_distance"),
        "w/σ": row.get("wasserstein_norm"),
        "missing": f"{fmt(row.get('missing_share_reference'))} → {fmt(row.get('missing_share_current'))}"
        if "missing_share_reference" in row
        else row.get("missing_share_current"),
    }
    out_cells = []
    for c in cols:
        if c == "window_start":
            out_cells.append(str(row[c])[:16])
        elif c in cells and isinstance(cells[c], str):
            out_cells.append(str(cells[c]))
        else:
            out_cells.append(fmt(cells[c] if c in cells else row.get(c)))
    return out_cells


def json_default(value: Any) -> Any:
    """Stored (naive UTC) timestamps as ISO 8601 with Z."""
    if isinstance(value, datetime):
        return iso_utc(value)
    raise TypeError(type(value).__name__)


def clean_json(value: Any) -> Any:
    """NaN (no value) as null, all the way down: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value
