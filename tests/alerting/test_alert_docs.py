"""docs/alert-rules.md must mention every key, metric, template name and channel type the code accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwatch.alerting import rule_tests, rules
from driftwatch.alerting.metrics import KNOWN_METRICS
from driftwatch.alerting.templates import TEMPLATE_VARIABLES
from driftwatch.config.channels import CHANNEL_KEYS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "alert-rules.md").read_text(encoding="utf-8")

NAMES = sorted(
    set(rules.FILE_KEYS)
    | rules.GROUP_KEYS
    | rules.RULE_KEYS
    | rules.SELECT_KEYS
    | rules.CONDITION_KEYS
    | rules.ROUTE_KEYS
    | rules.THRESHOLD_FORMS
    | rules.RESERVED_LABELS
    | set(CHANNEL_KEYS)
    | set().union(*CHANNEL_KEYS.values())
    | KNOWN_METRICS
    | TEMPLATE_VARIABLES
    | rule_tests.FILE_KEYS
    | rule_tests.TEST_KEYS
    | rule_tests.SERIES_KEYS
    | rule_tests.EXPECTED_KEYS
    | rule_tests.ALERT_KEYS
    | rule_tests.NOTIFICATION_KEYS
)


@pytest.mark.parametrize("name", NAMES)
def test_documented(name: str) -> None:
    assert f"`{name}`" in DOC or f"{name}:" in DOC, f"{name} is missing from docs/alert-rules.md"
