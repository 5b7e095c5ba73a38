"""Errors of the alerting package. Each names where the problem is and how to fix it; none carries a secret.

Rule-file validation errors (`RuleError`, `RuleIssue`) live in `driftwatch.config.issues`, beside the channel
declaration parser (`driftwatch.config.channels`) that reports them too.
"""

from __future__ import annotations

from driftwatch.errors import DriftwatchError


class ChannelConfigError(DriftwatchError):
    """A notification channel cannot be built (for example its environment variable is not set).

    Messages name the channel and the environment variable, never the variable's value.
    """
