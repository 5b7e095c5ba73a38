"""The schedule, and nothing else: one APScheduler job per monitor, and the alert delivery lanes.

Jobs live in memory and are rebuilt from the config at every start, with stable ids (`cycle:<monitor>`). The
real schedule state is the window queue in DuckDB: a cycle computes whatever closed windows are queued, so a
missed, late or doubled tick is harmless, and a catch-up cycle per monitor at start covers any downtime.

APScheduler 3.x defaults `misfire_grace_time` to 1 s, which silently skips a run that starts a little late
(a busy thread pool, a suspended VM); every job here gets the monitor's window as grace instead, with
`coalesce=True` (several missed ticks run once) and `max_instances=1`. Two cycles of one monitor never overlap,
whoever starts them (schedule, catch-up, `POST /api/monitors/{name}/runs`): they take the monitor's lock,
held by the runner they share (pipeline/runner.py).

Alert delivery is not part of a cycle: the outbox is drained by `DeliveryLanes`, one thread per channel,
woken after every cycle and every DELIVERY_INTERVAL. Pushes do not take the monitor's lock either (api/push.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from driftwatch.alerting.delivery import ChannelLanes
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.durations import utc_now
from driftwatch.pipeline.alerts import AlertingRun, lane_senders, open_channels, retry_policy
from driftwatch.pipeline.cycle import CycleSummary
from driftwatch.pipeline.runner import Clock, CycleRunner
from driftwatch.storage.database import Database

log = logging.getLogger("driftwatch.worker")

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


# How often the delivery lanes look for due rows (retries after a backoff or a Retry-After) between the
# wake-ups every cycle gives them. A look is one indexed query per channel.
DELIVERY_INTERVAL = timedelta(seconds=5)
DELIVERY_JOB = "deliver"
# How long a stopping server waits for a lane in the middle of a request (its row stays pending and is sent
# again after the restart).
DELIVERY_STOP_WAIT = 10.0


class DeliveryLanes:
    """The outbox's own workers in `serve`: one thread per channel that can be built here (alerting.delivery
    .ChannelLanes), with the configured retry policy. Rows for a channel whose environment variable is not
    set in this process stay pending (a process that has it delivers them)."""

    def __init__(self, db: Database, alerting: AlertingRun, clock: Clock = utc_now) -> None:
        self.channels, problems = open_channels(alerting)
        for problem in problems:
            log.warning("alert delivery: %s; its notifications stay pending", problem)
        policy = retry_policy(alerting.settings)
        senders = lane_senders(db, self.channels, policy, clock)
        self.lanes = ChannelLanes(senders, poll_seconds=DELIVERY_INTERVAL.total_seconds())

    def start(self) -> None:
        self.lanes.start()

    def wake(self) -> None:
        self.lanes.wake()

    def stop(self) -> None:
        if not self.lanes.stop(DELIVERY_STOP_WAIT):
            log.warning("alert delivery: a channel is still in a request; its notification stays pending")
        for channel in self.channels.values():
            channel.close()


@dataclass(frozen=True)
class JobSpec:
    """What the scheduler is told about one monitor."""

    id: str
    monitor: str
    cron: str
    misfire_grace: timedelta


def job_id(monitor: str) -> str:
    return f"cycle:{monitor}"


def _weekdays(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler 3 names.

    APScheduler 3's `from_crontab` passes numbers through, and there 0 means Monday: `0 0 * * 1` would run on
    Tuesdays. Expanding the field into explicit day names avoids the off-by-one.
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            low, high = 0, 6
        else:
            bounds = [b.lower() for b in base.split("-")]
            values = [_WEEKDAYS.index(b) if b in _WEEKDAYS else int(b) for b in bounds]
            low, high = values[0], values[-1]
            if len(values) == 1 and step_text:
                high = 7  # "1/2": from Monday, every second day
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def cron_trigger(expr: str) -> CronTrigger:
    """A UTC CronTrigger from a 5-field crontab expression (validated by config.server.cron_problem)."""
    minute, hour, day, month, weekday = expr.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(weekday), timezone=UTC
    )


class Worker:
    """The scheduler of `driftwatch serve`: a cron job per monitor and a catch-up cycle at start."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        server: ServerSettings,
        runner: CycleRunner | None = None,
        scheduler: BaseScheduler | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.server = server
        self.runner = runner or CycleRunner(settings, db, clock)
        self.scheduler = scheduler or BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=max(2, min(8, len(settings.monitors))))},
        )
        self._stopping = threading.Event()
        self._catch_up: threading.Thread | None = None
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.delivery: DeliveryLanes | None = None  # built at start, when alert rules are configured

    def job_specs(self) -> list[JobSpec]:
        specs = []
        for name, monitor in self.settings.monitors.items():
            cron = self.server.schedule_for(name, monitor.window)
            if cron is not None:
                specs.append(JobSpec(job_id(name), name, cron, self.server.misfire_grace_for(monitor.window)))
        return specs

    def add_jobs(self) -> None:
        """(Re)build the jobs from the config: stable ids, so adding twice replaces rather than doubles."""
        for spec in self.job_specs():
            self.scheduler.add_job(
                self.run_scheduled,
                trigger=cron_trigger(spec.cron),
                args=[spec.monitor],
                id=spec.id,
                name=f"{spec.monitor} cycle ({spec.cron} UTC)",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(spec.misfire_grace.total_seconds())),
            )

        if self.runner.alerting is not None:
            # Only wakes the lanes (they also look every DELIVERY_INTERVAL by themselves): it returns at once,
            # so a hanging channel never occupies a thread of the cycles' pool.
            self.scheduler.add_job(
                self._wake_delivery,
                trigger=IntervalTrigger(seconds=DELIVERY_INTERVAL.total_seconds(), timezone=UTC),
                id=DELIVERY_JOB,
                name="alert delivery (wakes the channel lanes)",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(DELIVERY_INTERVAL.total_seconds())),
            )

    def _wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()

    def _on_missed(self, event: JobEvent) -> None:
        """A tick later than its misfire grace is skipped by APScheduler with a debug line only; say so."""
        when = getattr(event, "scheduled_run_time", None)
        if event.job_id == DELIVERY_JOB:  # not a monitor: no cycle to run by hand
            log.warning(
                "the alert delivery pass due at %s was skipped: it could not start in time; the next pass "
                "(every %ds) delivers whatever is due",
                when.isoformat() if isinstance(when, datetime) else "?",
                int(DELIVERY_INTERVAL.total_seconds()),
            )
            return
        monitor = str(event.job_id).partition(":")[2] or str(event.job_id)
        log.warning(
            "scheduled cycle of %s due at %s was skipped: it could not start within its misfire grace; "
            "the next tick (or POST /api/monitors/%s/runs) computes whatever is queued",
            monitor,
            when.isoformat() if isinstance(when, datetime) else "?",
            monitor,
        )

    def run_scheduled(self, monitor: str, trigger: str = "schedule") -> CycleSummary | None:
        """The job body. A failed cycle is recorded in `runs` by the pipeline and logged here; it never stops
        the scheduler, and the next tick retries whatever is still queued."""
        try:
            summary = self.runner.run(monitor, trigger)
        except Exception as exc:  # noqa: BLE001 - a job must not take the scheduler down
            log.error("cycle of %s (%s) failed: %s: %s", monitor, trigger, type(exc).__name__, exc)
            return None
        log.info(
            "cycle of %s (%s): %d row(s) ingested, %d window(s) computed in %.1fs",
            monitor,
            trigger,
            summary.ingest.rows_inserted,
            summary.windows_computed,
            summary.seconds,
        )
        if summary.status_note:  # a degraded cycle: what it could not read (pipeline/run_status.py)
            log.warning("cycle of %s (%s) %s", monitor, trigger, summary.status_note)
        return summary

    def start(self) -> None:
        """Add the jobs, start the scheduler, and run one catch-up cycle per monitor (if configured).

        Catch-up cycles run one monitor after another on a thread of their own, so /health answers at once
        and a long catch-up never starves the scheduled jobs' thread pool.
        """
        if self.runner.alerting is not None and self.delivery is None:
            self.delivery = DeliveryLanes(self.runner.db, self.runner.alerting)
            self.runner.after_cycle.append(self.delivery.wake)
            self.delivery.start()
        self.add_jobs()
        self.scheduler.start()
        if self.server.catch_up:
            self._catch_up = threading.Thread(target=self._run_catch_up, name="driftwatch-catch-up")
            self._catch_up.start()

    def _run_catch_up(self) -> None:
        for name in self.settings.monitors:
            if self._stopping.is_set():
                break
            self.run_scheduled(name, "startup")

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def next_run(self, monitor: str) -> datetime | None:
        job = self.scheduler.get_job(job_id(monitor))
        when: Any = getattr(job, "next_run_time", None) if job is not None else None
        return when if isinstance(when, datetime) else None

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with `wait`, a cycle in progress finishes first (its transactions commit).
        Catch-up cycles not yet started are skipped."""
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if wait and self._catch_up is not None:
            self._catch_up.join()
        if self.delivery is not None:
            self.delivery.stop()
            self.delivery = None
