"""Running one monitor's cycle at a time: the runner the schedule (worker.py) and the API share.

A cycle of a monitor never overlaps another of the same monitor, whoever starts it (schedule, catch-up,
`POST /api/monitors/{name}/runs`, a push that must build the reference profile): they all take the monitor's
lock here. It lives in the pipeline layer, not beside the scheduler, so the API depends on the pipeline only
and the scheduler (APScheduler, worker.py) stays a detail of `driftwatch serve` (driftwatch/service.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.settings import Settings
from driftwatch.durations import utc_now
from driftwatch.errors import DriftwatchError
from driftwatch.pipeline.alerts import AlertingRun, alerting_settings, prepare_alerting
from driftwatch.pipeline.alerts.settings import check_rule_lookback
from driftwatch.pipeline.cycle import CycleSummary, run_monitor
from driftwatch.storage.database import Database

Clock = Callable[[], datetime]
CycleFunction = Callable[..., CycleSummary]


class CycleBusyError(DriftwatchError):
    """A cycle of this monitor is already running and did not finish within the wait."""

    def __init__(self, monitor: str, waited: float) -> None:
        self.monitor = monitor
        self.waited = waited
        super().__init__(
            f"a cycle of monitor {monitor!r} is still running after waiting {waited:.0f}s; try again later"
        )


def full_cycle(settings: Settings, alerting: AlertingRun | None) -> CycleFunction:
    """The service's cycle: drift, labels, performance, alert evaluation and reports.

    No delivery: the messages a cycle enqueues go out on the delivery lanes (worker.DeliveryLanes), which the
    runner wakes when the cycle is over, so a slow or hanging channel never holds the monitor's lock.
    """

    def cycle(
        db: Database, config: MonitorConfig, now: datetime | None = None, trigger: str = "schedule"
    ) -> CycleSummary:
        return run_monitor(db, settings, config.name, now=now, trigger=trigger, alerting=alerting)

    return cycle


class CycleRunner:
    """Runs one monitor's cycle at a time, under that monitor's lock. Shared by the schedule and the API."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock = utc_now,
        cycle: CycleFunction | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        # Alert rules are validated once, at start: a broken rule file stops `serve` with every problem listed
        # instead of failing every scheduled cycle.
        self.alerting = prepare_alerting(alerting_settings(settings)) if cycle is None else None
        check_rule_lookback(settings, self.alerting)
        self._cycle = cycle or full_cycle(settings, self.alerting)
        self._locks = {name: threading.Lock() for name in settings.monitors}
        # Called after every cycle, outside the lock (the server wakes its delivery lanes with it).
        self.after_cycle: list[Callable[[], None]] = []

    def busy(self, monitor: str) -> bool:
        return self._locks[monitor].locked()

    @contextmanager
    def holding(self, monitor: str, wait: float | None = None) -> Iterator[None]:
        """Hold the monitor's lock; `wait` seconds at most (None: as long as it takes)."""
        lock = self._locks[monitor]
        if not lock.acquire(timeout=-1 if wait is None else max(wait, 0.0)):
            raise CycleBusyError(monitor, wait or 0.0)
        try:
            yield
        finally:
            lock.release()

    def run(self, monitor: str, trigger: str, wait: float | None = None) -> CycleSummary:
        """One full cycle of `monitor` with `now` from the clock; raises CycleBusyError after `wait` seconds."""
        config = self.settings.monitor(monitor)
        try:
            with self.holding(monitor, wait):
                return self._cycle(self.db, config, now=self.clock(), trigger=trigger)
        finally:
            for hook in self.after_cycle:
                hook()
