"""The range of times driftwatch accepts: windows, query bounds and (at ingest) prediction timestamps.

Year 1 or 9999 in a log is a bug upstream (a zero value, a sentinel), not a prediction: stored, it makes a
window thousands of years from the rest, reports with absurd axes and, near the ends of the TIMESTAMP type,
arithmetic that overflows. So a time must fall in [EARLIEST, LATEST): docs/api.md and docs/configuration.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
RANGE_TEXT = "from 1970-01-01 up to (not including) 2200-01-01 UTC"


def range_problem(ts: datetime) -> str | None:
    """Why `ts` (naive = UTC) is outside the accepted range, or None when it is inside."""
    aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    if EARLIEST <= aware < LATEST:
        return None
    return f"{ts.isoformat()} is outside the accepted range of times ({RANGE_TEXT})"
