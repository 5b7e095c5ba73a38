"""The `server:` section of driftwatch.yml: API access, request limits, and each monitor's schedule.

`driftwatch.config.loading` calls `parse_server` with the section and the monitor names. Every key is documented in docs/configuration.md, "Server".

Schedules are 5-field cron expressions evaluated in UTC. Without one, a monitor's schedule follows its window:
a cycle shortly after each window closes (see `default_schedule`). The schedule only says *when to look*:
which windows to compute is decided by the window queue in the database, so a missed or doubled tick is
harmless.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

from driftwatch.config.sections import Section
from driftwatch.durations import format_duration, parse_duration
from driftwatch.errors import ConfigError

DEFAULT_TOKEN_ENV = "DRIFTWATCH_TOKEN"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_METRICS_MAX_FEATURES = 100
DEFAULT_RUN_WAIT = timedelta(minutes=5)
OFF = "off"
AUTO = "auto"
KEYS = (
    "token_env",
    "public_reads",
    "max_body_bytes",
    "schedules",
    "default_schedule",
    "misfire_grace",
    "catch_up",
    "metrics_max_features",
    "run_wait",
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
# Field ranges of a 5-field crontab: minute, hour, day of month, month, day of week.
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_CRON_NAMES = {
    "month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    "day of week": ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}


@dataclass(frozen=True)
class ServerSettings:
    """What `driftwatch serve` needs beyond the monitors. The token itself is never stored here: only the
    name of the environment variable that holds it."""

    token_env: str = DEFAULT_TOKEN_ENV
    public_reads: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    schedules: Mapping[str, str] = field(default_factory=dict)  # monitor → cron expression or "off"
    default_schedule: str = AUTO  # a cron expression for monitors without one, or "auto" (from the window)
    misfire_grace: timedelta | None = None  # None: the monitor's window
    catch_up: bool = True  # run every monitor's cycle once at start
    metrics_max_features: int = DEFAULT_METRICS_MAX_FEATURES
    run_wait: timedelta = DEFAULT_RUN_WAIT  # how long "run now" waits for a cycle already running

    def schedule_for(self, monitor: str, window: timedelta) -> str | None:
        """The monitor's cron expression (UTC), or None when its schedule is `off`."""
        expr = self.schedules.get(monitor, self.default_schedule)
        if expr == OFF:
            return None
        if expr == AUTO:
            return schedule_for_window(window)
        return expr

    def misfire_grace_for(self, window: timedelta) -> timedelta:
        return self.misfire_grace if self.misfire_grace is not None else window


def schedule_for_window(window: timedelta) -> str:
    """A cron expression that runs a cycle shortly after each window closes.

    Daily (and multi-day) windows: 00:15 UTC every day, so yesterday's window is computed with a quarter hour
    for late files; weekly windows: Mondays 00:15 (windows start on Mondays); hourly windows: 5 minutes past
    the hour (every N hours when the width divides a day); minute windows: every N minutes (every minute when
    N does not divide an hour). A cycle that finds no closed window does nothing, so running more often than
    the window closes only costs an ingest pass.
    """
    seconds = int(window.total_seconds())
    if seconds % (7 * 86400) == 0:
        return "15 0 * * mon"
    if seconds % 86400 == 0:
        return "15 0 * * *"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "5 * * * *" if hours == 1 or 24 % hours else f"5 */{hours} * * *"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "* * * * *" if minutes == 1 or 60 % minutes else f"*/{minutes} * * * *"
    return "* * * * *"


def cron_problem(expr: str) -> str | None:
    """Why a 5-field crontab expression is not valid, or None. Accepts `*`, lists, ranges, steps and
    month/day names (jan, mon); the same forms APScheduler's `CronTrigger.from_crontab` reads."""
    parts = expr.split()
    if len(parts) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(parts)}"
    for text, (name, low, high) in zip(parts, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            problem = _cron_item_problem(item, name, low, high)
            if problem:
                return f"{name} field {text!r}: {problem}"
    return None


def _cron_value(text: str, name: str) -> int | None:
    names = _CRON_NAMES.get(name, ())
    if text.lower() in names:
        return names.index(text.lower()) + (1 if name == "month" else 0)
    return int(text) if text.isdigit() else None


def _cron_item_problem(item: str, name: str, low: int, high: int) -> str | None:
    base, _, step = item.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return f"step {step!r} is not a positive whole number"
    if base == "*":
        return None
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return f"{item!r} is not a value, a range or '*'"
    values = [_cron_value(b, name) for b in bounds]
    for raw, value in zip(bounds, values, strict=True):
        if value is None:
            return f"{raw!r} is not a number" + (" or a name" if name in _CRON_NAMES else "")
        if not low <= value <= high:
            return f"{value} is outside {low}-{high}"
    if len(values) == 2 and values[0] is not None and values[1] is not None and values[0] > values[1]:
        return f"range {item!r} runs backwards"
    return None


def parse_size(value: object) -> int:
    """Bytes from 1048576, "10MiB", "5 MB". Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a size in bytes")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError("expected a size: bytes, or a number with KB, KiB, MB, MiB, GB or GiB")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def parse_server(file: Path, data: object, monitor_names: Collection[str]) -> ServerSettings:
    """Validate the `server:` section (None or absent = all defaults). Raises ConfigError naming the key."""
    s = Section(file, "server", data, KEYS)
    token_env = s.data.get("token_env", DEFAULT_TOKEN_ENV)
    if not isinstance(token_env, str) or not _ENV_NAME.match(token_env):
        raise s.error(
            "token_env",
            "expected the name of an environment variable (the token itself never goes in the file)",
            token_env,
        )
    public_reads = s.bool_("public_reads", True)
    catch_up = s.bool_("catch_up", True)
    max_body = _max_body(s)
    default_schedule = _schedule(s.data.get("default_schedule", AUTO), partial(s.error, "default_schedule"))
    schedules = _schedules(s, monitor_names)
    misfire: timedelta | None = None
    if s.data.get("misfire_grace") is not None:
        misfire = _duration(s, "misfire_grace", None)
    run_wait = _duration(s, "run_wait", format_duration(DEFAULT_RUN_WAIT))
    max_features = s.data.get("metrics_max_features", DEFAULT_METRICS_MAX_FEATURES)
    if isinstance(max_features, bool) or not isinstance(max_features, int) or max_features < 1:
        raise s.error("metrics_max_features", "expected a whole number >= 1", max_features)
    return ServerSettings(
        token_env=token_env,
        public_reads=public_reads,
        max_body_bytes=max_body,
        schedules=schedules,
        default_schedule=default_schedule,
        misfire_grace=misfire,
        catch_up=catch_up,
        metrics_max_features=max_features,
        run_wait=run_wait,
    )


def _max_body(s: Section) -> int:
    raw_size = s.data.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    try:
        max_body = parse_size(raw_size)
    except ValueError as exc:
        raise s.error("max_body_bytes", str(exc), raw_size) from None
    if max_body < 1024:
        raise s.error("max_body_bytes", "must be at least 1024 bytes", raw_size)
    return max_body


def _schedules(s: Section, monitor_names: Collection[str]) -> dict[str, str]:
    """`schedules:` monitor name → cron expression, "auto" or "off"; every name must be a monitor."""
    raw_schedules = s.data.get("schedules") or {}
    if not isinstance(raw_schedules, Mapping):
        raise s.error("schedules", "expected a mapping of monitor name → cron expression", raw_schedules)
    schedules: dict[str, str] = {}
    for name, expr in raw_schedules.items():
        key = f"schedules.{name}"
        if name not in monitor_names:
            known = ", ".join(sorted(monitor_names)) or "none"
            raise s.error(key, f"no such monitor (known: {known})")
        schedules[str(name)] = _schedule(expr, partial(s.error, key))
    return schedules


def _duration(s: Section, name: str, default: object) -> timedelta:
    raw = s.data.get(name, default)
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise s.error(name, str(exc), raw) from None


def _schedule(value: object, error: Callable[[str, object], ConfigError]) -> str:
    """A validated cron expression, "off" or "auto". YAML `false`/`null` mean off."""
    if value is False or value is None:
        return OFF
    if not isinstance(value, str) or not value.strip():
        raise error("expected a cron expression like '15 0 * * *', 'auto' or 'off'", value)
    text = " ".join(value.split())
    if text.lower() in (OFF, AUTO):
        return text.lower()
    problem = cron_problem(text)
    if problem:
        raise error(f"not a valid cron expression: {problem}", value)
    return text
