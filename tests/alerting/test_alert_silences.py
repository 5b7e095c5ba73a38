"""Silences: matchers, time ranges, and the CLI's helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerting_support import T0

from driftwatch.alerting.silences import Silence, new_silence, parse_matchers, silencing
from driftwatch.errors import InputError

LABELS = {"alertname": "FeaturePSIHigh", "monitor": "credit-default", "feature": "age", "severity": "warning"}


def silence(matchers: dict[str, str], sid: str = "s1", days: int = 2) -> Silence:
    return Silence(matchers, T0, T0 + timedelta(days=days), "why", "ana", sid)


@pytest.mark.parametrize(
    ("matchers", "matches"),
    [
        ({"feature": "age"}, True),
        ({"feature": "a*", "monitor": "credit-*"}, True),
        ({"feature": "age", "monitor": "fraud"}, False),
        ({"segment": "eu"}, False),  # a label the alert does not have counts as ""
        ({"segment": "*"}, True),
        ({"feature": "AGE"}, False),  # case-sensitive
    ],
)
def test_matching(matchers: dict[str, str], matches: bool) -> None:
    assert silence(matchers).matches(LABELS) is matches


def test_only_active_silences_apply_and_the_choice_is_stable() -> None:
    both = [silence({"feature": "age"}, "zz"), silence({"monitor": "credit-default"}, "aa")]
    assert silencing(both, LABELS, T0 + timedelta(hours=1)).id == "aa"
    assert silencing(both, LABELS, T0 - timedelta(seconds=1)) is None
    assert silencing(both, LABELS, T0 + timedelta(days=2)) is None  # ends_at is exclusive


def test_parse_matchers_and_new_silence_validate_cli_input() -> None:
    assert parse_matchers(["feature=age", "monitor=credit-*"]) == {"feature": "age", "monitor": "credit-*"}
    for bad in (["feature"], ["=age"], ["feature="], ["feature=a", "feature=b"]):
        with pytest.raises(InputError):
            parse_matchers(bad)
    made = new_silence({"feature": "age"}, T0, T0 + timedelta(days=1), "retraining", "ana")
    assert made.active(T0) and len(made.id) == 12
    with pytest.raises(InputError, match="at least one matcher"):
        new_silence({}, T0, T0 + timedelta(days=1), "x", "ana")
    with pytest.raises(InputError, match="before it starts"):
        new_silence({"feature": "age"}, T0, T0, "x", "ana")
    with pytest.raises(InputError, match="comment"):
        new_silence({"feature": "age"}, T0, T0 + timedelta(days=1), " ", "ana")
