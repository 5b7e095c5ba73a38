"""Duration strings ("30m", "6h", "1d", "1w") and UTC window alignment.

Windows are tumbling and aligned to a fixed origin, 2000-01-03T00:00Z (a Monday), so that `1d` windows start at
UTC midnight, `1w`/`7d` windows start on Mondays and `1h` windows on the hour, whatever the data's first row.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

WINDOW_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse "90s", "15m", "6h", "1d", "2w" (a bare number is seconds). Raises ValueError with the accepted forms."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text <= 0:
            raise ValueError(f"duration must be positive, got {text!r}")
        return timedelta(seconds=float(text))
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use a whole number and a unit: 30m, 6h, 1d, 1w)")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return timedelta(seconds=amount * _UNITS[unit])


def format_duration(delta: timedelta) -> str:
    """The shortest exact form: 86400 s → "1d"."""
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def window_start(ts: datetime, width: timedelta) -> datetime:
    """Start of the tumbling window of `width` that contains `ts` (UTC-aware)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    offset = (ts - WINDOW_ORIGIN) // width
    return WINDOW_ORIGIN + offset * width


def as_utc(ts: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, aware UTC: the clock the runner, the scheduler and the API default to."""
    return datetime.now(UTC)


def to_naive_utc(ts: datetime) -> datetime:
    """Aware → naive UTC, the form TIMESTAMP columns hold; naive ones are taken as UTC already."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo is not None else ts
