"""Delivery passes cover every due row, and one lane per channel keeps a hanging receiver from delaying the
others. Real HTTP on loopback (a receiver that hangs until released), a real DuckDB outbox."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alerting_duckdb_support import InspectedDuckDBOutbox
from alerting_support import DAY, T0, FakeClock, LoopbackServer, make_rule, window_sample
from memory_outbox import InMemoryOutbox

from _hanging import HangingReceiver
from driftwatch.alerting.channels.base import Channel
from driftwatch.alerting.channels.logfile import LogFileChannel
from driftwatch.alerting.channels.webhook import WebhookChannel
from driftwatch.alerting.delivery import ChannelLanes, RetryPolicy, Sender
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.secret import Secret
from driftwatch.pipeline.alerts import DuckDBOutbox
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database


def messages(channel: str, count: int) -> list[AlertGroup]:
    """`count` distinct messages for `channel` (one notification group, copied under new dedupe keys)."""
    rule = make_rule(channels=(channel,))
    (group,) = group_notifications(evaluate([rule], [window_sample(0, 0.4)], {}, [], T0 + DAY).notifications)
    return [dataclasses.replace(group, dedupe_key=f"{channel}-{i:04d}") for i in range(count)]


def test_a_pass_delivers_every_due_row_not_the_first_batch(
    tmp_path: Path, clock: FakeClock, outbox: InMemoryOutbox | InspectedDuckDBOutbox
) -> None:
    """`driftwatch run` once stopped at 100 notifications and reported nothing left."""
    outbox.enqueue(messages("log", 264), clock())
    channel = LogFileChannel("log", tmp_path / "alerts.log")
    sender = Sender(outbox, {"log": channel}, clock, clock.sleep, batch_size=100)
    report = sender.deliver_due()
    assert report.delivered == 264
    assert {r.status for r in outbox.rows()} == {"delivered"}
    assert len((tmp_path / "alerts.log").read_text().splitlines()) == 264
    assert sender.deliver_due().delivered == 0


def test_a_pass_attempts_each_row_once_even_when_retries_fall_due(
    loopback: LoopbackServer, clock: FakeClock, outbox: InMemoryOutbox | InspectedDuckDBOutbox
) -> None:
    """A row retried in this pass is not tried again in it, even if its backoff is over before the pass ends
    (the loop over batches cannot spin on a failing receiver)."""
    for _ in range(6):
        loopback.reply(500, body="down")
    outbox.enqueue(messages("hook", 3), clock())
    hook = WebhookChannel("hook", Secret(loopback.url + "/h"), timeout_seconds=2.0)
    try:
        policy = RetryPolicy(base_seconds=1, cap_seconds=1, min_seconds=0)

        def sleepy_clock() -> datetime:  # every look at the clock moves it 10 s: every backoff is over
            clock.advance(10)
            return clock()

        report = Sender(outbox, {"hook": hook}, sleepy_clock, clock.sleep, policy, batch_size=2).deliver_due()
    finally:
        hook.close()
    assert report.retried == 3 and len(loopback.requests) == 3


@pytest.fixture
def hanging() -> Iterator[HangingReceiver]:
    receiver = HangingReceiver()
    yield receiver
    receiver.close()


def _statuses(db: Database, channel: str) -> list[str]:
    return [m.status for m in store.messages(db.cursor(), limit=1000) if m.channel == channel]


def _wait_for(predicate: object, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_hanging_channel_delays_only_its_own_messages(
    tmp_path: Path, hanging: HangingReceiver, loopback: LoopbackServer
) -> None:
    with Database(tmp_path / "dw.duckdb") as db:
        DuckDBOutbox(db).enqueue(messages("stuck", 2) + messages("fine", 150), datetime.now(UTC))
        channels: dict[str, Channel] = {
            "stuck": WebhookChannel("stuck", Secret(hanging.url), timeout_seconds=30.0),
            "fine": WebhookChannel("fine", Secret(loopback.url + "/ok"), timeout_seconds=5.0),
        }
        senders = {
            name: Sender(DuckDBOutbox(db, [name]), channels, lambda: datetime.now(UTC)) for name in channels
        }
        lanes = ChannelLanes(senders, poll_seconds=0.2)
        lanes.start()
        try:
            assert hanging.arrived.wait(20)
            # The stuck receiver still holds its first request open, and every other message went out.
            assert _wait_for(lambda: _statuses(db, "fine").count("delivered") == 150)
            assert not hanging.released.is_set() and hanging.requests == 1
            assert _statuses(db, "stuck") == ["pending", "pending"]
            hanging.release()
            # Released: the stuck lane goes on with its own rows, each once (at least once, no more).
            assert _wait_for(lambda: _statuses(db, "stuck") == ["delivered", "delivered"])
            assert hanging.requests == 2 and len(loopback.requests) == 150
        finally:
            hanging.release()
            assert lanes.stop(timeout=10)
            for channel in channels.values():
                channel.close()
