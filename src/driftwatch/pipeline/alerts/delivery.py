"""Delivery: open the configured channels and run `alerting.delivery.Sender` passes over the DuckDB outbox
(`driftwatch run` after its cycles), or one `Sender` per channel for the server's delivery lanes."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.config.alerting import AlertingSettings
from driftwatch.durations import utc_now
from driftwatch.pipeline.alerts.outbox import DuckDBOutbox, resend_intervals
from driftwatch.pipeline.alerts.settings import AlertingRun
from driftwatch.storage.database import Database

if TYPE_CHECKING:  # the delivery side imports the HTTP clients: only when delivering
    from driftwatch.alerting.channels.base import Channel
    from driftwatch.alerting.delivery import DeliveryReport, RetryPolicy, Sender


def open_channels(
    run: AlertingRun, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Channel], list[str]]:
    """Channel objects for every declared channel that can be built, and a problem per one that cannot
    (its environment variable is not set). Problems name the variable, never a value."""
    from driftwatch.alerting.channels import build_channels

    env = os.environ if env is None else env
    channels: dict[str, Channel] = {}
    problems: list[str] = []
    for name, config in sorted(run.rules.channels.items()):
        try:
            channels.update(
                build_channels({name: config}, env, run.settings.report_base_url, run.settings.base_dir)
            )
        except ChannelConfigError as error:
            problems.append(str(error))
    return channels, problems


def retry_policy(settings: AlertingSettings) -> RetryPolicy:
    from driftwatch.alerting.delivery import RetryPolicy

    retry = settings.retry
    return RetryPolicy(
        base_seconds=retry.base_seconds, cap_seconds=retry.cap_seconds, max_attempts=retry.max_attempts
    )


def _merge(total: DeliveryReport, part: DeliveryReport) -> None:
    total.delivered += part.delivered
    total.retried += part.retried
    total.failed += part.failed
    total.meta_alerts += part.meta_alerts
    total.unhealthy_channels.extend(part.unhealthy_channels)


def _delivery_clock(now: datetime | None) -> Callable[[], datetime]:
    """`now` advanced by real elapsed time (so Slack pacing works), else the wall clock."""
    if now is None:
        return utc_now
    started, origin = time.monotonic(), now
    return lambda: origin + timedelta(seconds=time.monotonic() - started)


def deliver_pending(
    db: Database,
    channels: Mapping[str, Channel],
    now: datetime | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    batch_size: int = 100,
    leave_unknown_pending: bool = True,
) -> DeliveryReport:
    """Attempt every due outbox row once; meta-alerts raised on the way get a second pass.

    The clock is `clock` when given, else `now` advanced by real elapsed time (so Slack pacing works), else
    the wall clock. Rows for channels not in `channels` stay pending when `leave_unknown_pending` (another
    process, with the channel's environment variable set, delivers them), else they fail.
    """
    from driftwatch.alerting.delivery import DeliveryReport, Sender

    outbox = DuckDBOutbox(db, channels if leave_unknown_pending else None, resend_intervals(channels))
    sender = Sender(outbox, channels, clock or _delivery_clock(now), sleep, policy, rng, batch_size)
    total = DeliveryReport()
    for _ in range(3):  # a pass, then at most two for the meta-alerts it raised
        report = sender.deliver_due()
        _merge(total, report)
        if not report.meta_alerts:
            break
    return total


def deliver_with_settings(
    db: Database,
    run: AlertingRun,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[DeliveryReport, list[str]]:
    """One delivery pass with the configured channels and retry policy (what `driftwatch run` does after its
    cycles). Returns the report and a problem per channel that could not be built (rows for it stay pending).
    """
    channels, problems = open_channels(run, env)
    try:
        report = deliver_pending(db, channels, now, policy=retry_policy(run.settings))
    finally:
        for channel in channels.values():
            channel.close()
    return report, problems


def lane_senders(
    db: Database,
    channels: Mapping[str, Channel],
    policy: RetryPolicy,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Sender]:
    """One `Sender` per channel for the server's delivery lanes (`alerting.delivery.ChannelLanes`): each
    outbox hands out its own channel's rows, and re-posts that channel's alerts while they fire when it is an
    Alertmanager (without the re-posts Alertmanager would expire them after 4 × `resend_interval`)."""
    from driftwatch.alerting.delivery import Sender

    resend = resend_intervals(channels)
    return {
        name: Sender(
            DuckDBOutbox(db, [name], {name: resend[name]} if name in resend else None),
            channels,
            clock,
            policy=policy,
        )
        for name in channels
    }
