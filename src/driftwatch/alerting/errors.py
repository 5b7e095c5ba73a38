"""Errors of the alerting package. Each names where the problem is and how to fix it; none carries a secret."""

from __future__ import annotations

from dataclasses import dataclass

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


class ChannelConfigError(DriftwatchError):
    """A notification channel cannot be built (for example its environment variable is not set).

    Messages name the channel and the environment variable, never the variable's value.
    """
