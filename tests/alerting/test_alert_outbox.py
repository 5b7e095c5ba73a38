"""The `Outbox` contract, on the reference in-memory outbox and the pipeline's DuckDB one (the `outbox` fixture
of conftest.py)."""

from __future__ import annotations

from datetime import timedelta

from alerting_support import DAY, T0, make_rule, window_sample

from driftwatch.alerting.delivery import AttemptOutcome, Outbox
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications


def groups(count: int) -> list[AlertGroup]:
    rule = make_rule(channels=("log",))
    samples = [window_sample(i, 0.4, feature=f"f{i}") for i in range(count)]  # one message per window
    return group_notifications(evaluate([rule], samples, {}, [], T0 + count * DAY).notifications)


def test_enqueue_ignores_known_dedupe_keys(outbox: Outbox) -> None:
    assert outbox.enqueue(groups(2), T0) == 2
    assert outbox.enqueue(groups(3), T0) == 1
    assert len(outbox.pending(T0)) == 3


def test_pending_returns_due_rows_oldest_first_and_respects_limit(outbox: Outbox) -> None:
    outbox.enqueue(groups(3), T0)
    rows = outbox.pending(T0)
    assert [r.attempts for r in rows] == [0, 0, 0]
    assert rows[0].message == groups(3)[0]
    later = T0 + timedelta(minutes=5)
    outbox.record_attempt(rows[0].id, AttemptOutcome.RETRY, 500, "HTTP 500", later, T0)
    assert [r.id for r in outbox.pending(T0)] == [rows[1].id, rows[2].id]
    due = outbox.pending(later)
    assert [r.id for r in due] == [rows[1].id, rows[2].id, rows[0].id]
    assert due[2].attempts == 1 and due[2].next_attempt_at == later
    assert len(outbox.pending(later, limit=1)) == 1


def test_delivered_and_failed_rows_are_no_longer_pending(outbox: Outbox) -> None:
    outbox.enqueue(groups(2), T0)
    first, second = outbox.pending(T0)
    outbox.record_attempt(first.id, AttemptOutcome.DELIVERED, 200, None, None, T0)
    outbox.mark_delivered(first.id, T0)
    outbox.record_attempt(second.id, AttemptOutcome.FAILED, 404, "HTTP 404", None, T0)
    outbox.mark_failed(second.id, "HTTP 404", T0)
    assert outbox.pending(T0 + DAY) == []
    assert outbox.enqueue(groups(2), T0) == 0  # finished rows still hold their keys


def test_channel_health_reports_the_first_failure_only(outbox: Outbox) -> None:
    assert outbox.mark_channel_unhealthy("slack-ml", "HTTP 404", T0) is True
    assert outbox.mark_channel_unhealthy("slack-ml", "HTTP 404", T0) is False
    outbox.mark_channel_healthy("slack-ml", T0)
    assert outbox.mark_channel_unhealthy("slack-ml", "HTTP 410", T0) is True
