"""Collecting validation problems with their line and a suggested fix, so one check reports all of them.

Used for the files whoever edits the alert rules may change (rule files, rule tests, channel declarations):
there every problem is reported at once, with its line. driftwatch.yml itself stops at the first problem with
a `ConfigError` naming the key (config/sections.py). These types sit at the config layer so that channel
declarations can be parsed here, below `driftwatch.alerting`, which builds the channels.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from driftwatch.config.yaml_lines import LineList, LineMap, line_of
from driftwatch.durations import parse_duration
from driftwatch.errors import DriftwatchError


@dataclass(frozen=True)
class RuleIssue:
    """One problem in a rule (or rule test) file: where it is, what is wrong, and what to write instead."""

    file: str
    line: int
    message: str
    fix: str = ""

    def __str__(self) -> str:
        tail = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.file}:{self.line}: {self.message}.{tail}"


class RuleError(DriftwatchError):
    """Rule files failed validation; `issues` lists every problem found, not just the first."""

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = list(issues)
        self.errors = self.issues  # the name the pipeline's brief uses
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        count = len(self.issues)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in alert rules:\n{lines}")


class IssueCollector:
    """Validation helpers bound to one file; each records a `RuleIssue` instead of raising."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[RuleIssue] = []
        # Keys already suggested as the fix for a misspelt key, per mapping: not reported again as missing.
        self._suggested: dict[int, set[str]] = {}

    def add(self, line: int, message: str, fix: str = "") -> None:
        self.issues.append(RuleIssue(self.file, line, message, fix))

    def mapping(self, value: object, line: int, what: str, example: str) -> LineMap | None:
        if isinstance(value, LineMap):
            return value
        self.add(line, f"{what} must be a mapping, got {_kind(value)}", f"write it as {example}")
        return None

    def sequence(self, value: object, line: int, what: str, example: str) -> LineList | None:
        if isinstance(value, LineList):
            return value
        self.add(line, f"{what} must be a list, got {_kind(value)}", f"write it as {example}")
        return None

    def unknown_keys(self, mapping: LineMap, allowed: Iterable[str], where: str) -> None:
        allowed_sorted = sorted(allowed)
        for key in mapping:
            if key in allowed_sorted:
                continue
            close = difflib.get_close_matches(str(key), allowed_sorted, n=1, cutoff=0.6)
            fix = f"did you mean `{close[0]}`?" if close else f"allowed keys: {', '.join(allowed_sorted)}"
            if close:
                self._suggested.setdefault(id(mapping), set()).add(close[0])
            self.add(line_of(mapping, key), f"unknown key `{key}` in {where}", fix)

    def missing(self, mapping: LineMap, key: str, message: str, fix: str) -> None:
        """Report a required key as missing, unless a misspelling of it was already reported."""
        if key not in self._suggested.get(id(mapping), set()):
            self.add(mapping.line, message, fix)

    def text(self, mapping: LineMap, key: str, where: str, required: bool = True) -> str | None:
        if key not in mapping:
            if required:
                self.missing(mapping, key, f"{where} has no `{key}`", f"add `{key}: ...`")
            return None
        value = mapping[key]
        if isinstance(value, str) and value.strip():
            return value
        self.add(line_of(mapping, key), f"`{key}` in {where} must be a non-empty string, got {_kind(value)}")
        return None

    def number(self, mapping: LineMap, key: str, where: str) -> float | None:
        value = mapping[key]
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        self.add(line_of(mapping, key), f"`{key}` in {where} must be a finite number, got {_kind(value)}")
        return None

    def integer(self, mapping: LineMap, key: str, where: str, minimum: int, fix: str) -> int | None:
        value = mapping[key]
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return value
        self.add(
            line_of(mapping, key),
            f"`{key}` in {where} must be a whole number >= {minimum}, got {value!r}",
            fix,
        )
        return None

    def boolean(self, mapping: LineMap, key: str, where: str) -> bool | None:
        value = mapping[key]
        if isinstance(value, bool):
            return value
        self.add(line_of(mapping, key), f"`{key}` in {where} must be true or false, got {value!r}")
        return None

    def duration(self, mapping: LineMap, key: str, where: str) -> timedelta | None:
        value = mapping[key]
        try:
            if not isinstance(value, str):
                raise ValueError("not a string")
            return parse_duration(value)
        except ValueError:
            self.add(
                line_of(mapping, key),
                f"`{key}` in {where} is not a duration: {value!r}",
                "write a whole number and a unit, e.g. 30m, 6h, 1d, 1w",
            )
            return None


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, LineMap):
        return "a mapping"
    if isinstance(value, LineList):
        return "a list"
    return f"{type(value).__name__} {value!r}"
