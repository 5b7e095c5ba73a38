"""Alert rule conditions exactly at their threshold, recovery level and `min_samples`.

`>` and `<` are strict, `>=` and `<=` are not; a value exactly at the recovery level has recovered for a
strict operator (`>`: value ≤ recover) and not for an inclusive one (`>=`: value < recover). Flipping any of
these comparisons in alerting/model.py or alerting/evaluation.py fails a test here (docs/alerting.md).
"""

from __future__ import annotations

import pytest
from alerting_support import make_rule, series

from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.model import Rule, Sample


def fired(rule: Rule, samples: list[Sample]) -> list[tuple[int, str]]:
    state: dict = {}
    out: list[tuple[int, str]] = []
    for index, sample in enumerate(samples):
        result = evaluate([rule], [sample], state, (), sample.window_end)
        state = dict(result.new_state)
        out.extend((index, n.transition.value) for n in result.notifications)
    return out


@pytest.mark.parametrize(
    ("op", "at_threshold_fires"),
    [(">", False), (">=", True), ("<", False), ("<=", True)],
)
def test_a_value_exactly_at_the_threshold(op: str, at_threshold_fires: bool) -> None:
    rule = make_rule(op=op, threshold=0.25)
    assert fired(rule, series([0.25])) == ([(0, "firing")] if at_threshold_fires else [])


@pytest.mark.parametrize(
    ("op", "bad", "at_recover_resolves"),
    [(">", 0.5, True), (">=", 0.5, False), ("<", 0.0, True), ("<=", 0.0, False)],
)
def test_a_value_exactly_at_the_recovery_level(op: str, bad: float, at_recover_resolves: bool) -> None:
    """Hysteresis: firing at `bad`, then a window exactly at `recover` (between bad and the threshold)."""
    recover = 0.125 if op in (">", ">=") else 0.375
    # (no repeats: a daily window's repeat after 24 h would otherwise mark the still-firing alert)
    rule = make_rule(op=op, threshold=0.25, recover=recover, repeat_interval=None)
    expected = [(0, "firing")] + ([(1, "resolved")] if at_recover_resolves else [])
    assert fired(rule, series([bad, recover])) == expected


def test_samples_exactly_at_min_samples_are_judged() -> None:
    """A window with fewer than `min_samples` rows is no data: exactly `min_samples` is judged."""
    rule = make_rule(threshold=0.25, min_samples=500)
    assert fired(rule, series([0.5], samples=500)) == [(0, "firing")]
    assert fired(rule, series([0.5], samples=499)) == []
