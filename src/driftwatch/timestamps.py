"""The range of times driftwatch accepts: windows, query bounds and, at ingest, prediction and label timestamps
(refused in `sources.logs.normalise_query`, by their UTC time, for files and pushes alike).

Year 1 or 9999 in a log is a bug upstream (a zero value, a sentinel), not a prediction: stored, it makes a
window thousands of years from the rest, reports with absurd axes and, near the ends of the TIMESTAMP type,
arithmetic that overflows. So a time must fall in [EARLIEST, LATEST): docs/api.md and docs/configuration.md.
"""

from __future__ import annotations

from datetime import datetime

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)
RANGE_TEXT = "from 1970-01-01 up to (not including) 2200-01-01 UTC"
# The year range as a JSON Schema pattern, so the OpenAPI schema says exactly what the API accepts: the range
# is checked on the time as written (its year), before any UTC offset is applied.
YEAR_PATTERN = "^(19[7-9][0-9]|2[01][0-9]{2})-"


def range_problem(ts: datetime) -> str | None:
    """Why `ts` is outside the accepted range, or None when it is inside. The time as written counts (its
    UTC offset is ignored): within a day of the ends, that keeps the answer equal to `YEAR_PATTERN`'s."""
    if EARLIEST <= ts.replace(tzinfo=None) < LATEST:
        return None
    return f"{ts.isoformat()} is outside the accepted range of times ({RANGE_TEXT})"
