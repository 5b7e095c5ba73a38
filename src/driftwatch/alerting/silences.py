"""Silences: label matchers and a time range during which matching alerts still change state, silently.

`driftwatch silence add --match feature=age --until 2026-12-01 --comment "..."` builds one with
`parse_matchers`, `parse_time` and `new_silence`; `POST /api/silences` builds one from JSON with
`check_matchers`, the same `parse_time` and `new_silence`, so both refuse the same input with the same message.
A store (DuckDB) keeps them; `evaluate` receives the list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Literal

from driftwatch.durations import as_utc
from driftwatch.errors import InputError


@dataclass(frozen=True)
class Silence:
    """Matches an alert when every matcher's glob matches that label (a missing label counts as "")."""

    matchers: Mapping[str, str]  # label name -> glob pattern (fnmatch, case-sensitive)
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    id: str

    def active(self, now: datetime) -> bool:
        return silence_state(self.starts_at, self.ends_at, now) == "active"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(fnmatchcase(labels.get(name, ""), pattern) for name, pattern in self.matchers.items())


SilenceState = Literal["pending", "active", "expired"]


def silence_state(starts_at: datetime, ends_at: datetime, now: datetime) -> SilenceState:
    """`pending` before its start, `active` from its start until its end (exclusive), then `expired`."""
    if now >= ends_at:
        return "expired"
    return "active" if starts_at <= now else "pending"


def silencing(silences: Iterable[Silence], labels: Mapping[str, str], now: datetime) -> Silence | None:
    """The active silence that matches `labels` (the lowest id when several do, so the result is stable)."""
    found = [s for s in silences if s.active(now) and s.matches(labels)]
    return min(found, key=lambda s: s.id) if found else None


def parse_matchers(items: Sequence[str]) -> dict[str, str]:
    """`["feature=age", "monitor=credit-*"]` -> `{"feature": "age", "monitor": "credit-*"}`."""
    matchers: dict[str, str] = {}
    for item in items:
        name, sep, pattern = item.partition("=")
        if not sep or not name.strip() or not pattern:
            raise InputError(f"matcher {item!r} is not label=pattern (e.g. feature=age or monitor=credit-*)")
        if name.strip() in matchers:
            raise InputError(f"label {name.strip()!r} is matched twice; give one pattern per label")
        matchers[name.strip()] = pattern
    return matchers


def check_matchers(given: Mapping[str, str]) -> dict[str, str]:
    """`{"feature": "age", "monitor": "credit-*"}` (the API's form), by the rules of `parse_matchers`: a label
    name that is not blank (surrounding spaces dropped), a pattern that is not empty, each label once."""
    matchers: dict[str, str] = {}
    for raw_name, pattern in given.items():
        name = raw_name.strip()
        if not name:
            raise InputError(f"matcher {raw_name!r}: {pattern!r} has no label name (e.g. feature: age)")
        if not pattern:
            raise InputError(f"matcher {name!r} has an empty pattern (use '*' to match any value)")
        if name in matchers:
            raise InputError(f"label {name!r} is matched twice; give one pattern per label")
        matchers[name] = pattern
    return matchers


def parse_time(text: str, now: datetime) -> datetime:
    """A moment given as a duration from now (`2h`, `3d`), an ISO date (`2026-12-01`, UTC midnight) or an
    ISO date-time (naive means UTC)."""
    from driftwatch.durations import parse_duration

    value = text.strip()
    try:
        try:
            return now + parse_duration(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{text!r} is neither a duration (2h, 3d) nor an ISO date or time "
                "(2026-12-01, 2026-12-01T08:00Z)"
            ) from None
        return as_utc(moment)
    except OverflowError:
        raise InputError(f"{text!r} is out of range (before year 1 or after 9999)") from None


def new_silence(
    matchers: Mapping[str, str],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str,
    silence_id: str | None = None,
) -> Silence:
    """A validated silence. A silence with no matchers would mute everything, so it is refused."""
    if not matchers:
        raise InputError("a silence needs at least one matcher, e.g. --match feature=age")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InputError("silence times must be timezone-aware (UTC)")
    if ends_at <= starts_at:
        raise InputError(f"silence ends ({ends_at.isoformat()}) before it starts ({starts_at.isoformat()})")
    if not comment.strip():
        raise InputError("a silence needs a comment saying why (--comment)")
    return Silence(
        matchers=dict(matchers),
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment,
        created_by=created_by,
        id=silence_id or uuid.uuid4().hex[:12],
    )
