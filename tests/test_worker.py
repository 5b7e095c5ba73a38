"""The schedule: jobs rebuilt from config with stable ids, cron times in UTC, per-monitor locks, catch-up at
start, and a shutdown that waits for the cycle in progress. No test sleeps for a real schedule: cycles are a
recording fake, times come from a pinned clock or from the triggers directly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from driftwatch.config.monitors import MonitorConfig, PredictionSource, ReferenceSource
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import CycleSummary
from driftwatch.pipeline.ingest import IngestSummary
from driftwatch.pipeline.runner import CycleBusyError, CycleRunner
from driftwatch.worker import Worker, cron_trigger, job_id

PINNED = datetime(2026, 11, 4, 10, 30, tzinfo=UTC)  # a Wednesday


def _monitor(name: str, window: timedelta) -> MonitorConfig:
    return MonitorConfig(
        name, PredictionSource(f"/data/{name}/*.parquet"), ReferenceSource("/data/ref.parquet"), window=window
    )


def _settings(**windows: timedelta) -> Settings:
    monitors = {name: _monitor(name, w) for name, w in windows.items()}
    return Settings(Path("/srv/dw/driftwatch.yml"), Path("/unused.duckdb"), Path("/reports"), monitors)


@dataclass
class FakeCycle:
    """Stands in for run_cycle: records calls, tracks concurrency per monitor, can be made to block."""

    gate: threading.Event = field(default_factory=threading.Event)
    block: bool = False
    fail: bool = False
    calls: list[tuple[str, datetime, str]] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    max_active: dict[str, int] = field(default_factory=dict)
    max_total: int = 0
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, db: Any, monitor: MonitorConfig, now: datetime, trigger: str) -> CycleSummary:
        with self._lock:
            self.calls.append((monitor.name, now, trigger))
            self.active[monitor.name] = self.active.get(monitor.name, 0) + 1
            self.max_active[monitor.name] = max(
                self.max_active.get(monitor.name, 0), self.active[monitor.name]
            )
            self.max_total = max(self.max_total, sum(self.active.values()))
        self.started.set()
        try:
            if self.block:
                assert self.gate.wait(10), "test gate never opened"
            if self.fail:
                raise RuntimeError("reference file vanished")
            return CycleSummary(monitor=monitor.name, run_id="r", ingest=IngestSummary())
        finally:
            with self._lock:
                self.active[monitor.name] -= 1
            self.done.release()


@pytest.fixture
def fake() -> FakeCycle:
    return FakeCycle()


def _worker(settings: Settings, fake: FakeCycle, server: ServerSettings | None = None) -> Worker:
    runner = CycleRunner(settings, db=None, clock=lambda: PINNED, cycle=fake)  # type: ignore[arg-type]
    return Worker(settings, None, server or ServerSettings(), runner=runner)  # type: ignore[arg-type]


@pytest.fixture
def stopper() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.shutdown(wait=False)


def test_jobs_follow_the_config_with_stable_ids(fake: FakeCycle) -> None:
    settings = _settings(
        daily=timedelta(days=1),
        hourly=timedelta(hours=1),
        weekly=timedelta(weeks=1),
        quick=timedelta(minutes=15),
    )
    worker = _worker(settings, fake, ServerSettings(schedules={"quick": "off"}))
    specs = {s.monitor: s for s in worker.job_specs()}
    assert set(specs) == {"daily", "hourly", "weekly"}
    assert specs["daily"].id == "cycle:daily" and specs["daily"].cron == "15 0 * * *"
    assert specs["hourly"].cron == "5 * * * *" and specs["weekly"].cron == "15 0 * * mon"
    worker.add_jobs()
    worker.add_jobs()  # rebuilding replaces, never doubles
    jobs = {j.id: j for j in worker.scheduler.get_jobs()}
    assert set(jobs) == {job_id("daily"), job_id("hourly"), job_id("weekly")}
    daily = jobs[job_id("daily")]
    assert daily.misfire_grace_time == 86400  # a window, not APScheduler's 1 s default
    assert daily.coalesce is True and daily.max_instances == 1
    assert jobs[job_id("hourly")].misfire_grace_time == 3600


def test_misfire_grace_from_server_settings(fake: FakeCycle) -> None:
    worker = _worker(_settings(m=timedelta(days=1)), fake, ServerSettings(misfire_grace=timedelta(hours=2)))
    worker.add_jobs()
    assert worker.scheduler.get_job(job_id("m")).misfire_grace_time == 7200


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("15 0 * * *", PINNED, datetime(2026, 11, 5, 0, 15, tzinfo=UTC)),
        ("15 0 * * mon", PINNED, datetime(2026, 11, 9, 0, 15, tzinfo=UTC)),
        # crontab numbering: 1 = Monday, 0 and 7 = Sunday (APScheduler 3 alone would read 0 as Monday)
        ("0 6 * * 1", PINNED, datetime(2026, 11, 9, 6, 0, tzinfo=UTC)),
        ("0 6 * * 0", PINNED, datetime(2026, 11, 8, 6, 0, tzinfo=UTC)),
        ("0 6 * * 7", PINNED, datetime(2026, 11, 8, 6, 0, tzinfo=UTC)),
        ("0 6 * * 5-7", PINNED, datetime(2026, 11, 6, 6, 0, tzinfo=UTC)),
        ("0 6 * * */3", PINNED, datetime(2026, 11, 7, 6, 0, tzinfo=UTC)),  # sun, wed, sat
        ("*/15 * * * *", PINNED, PINNED),  # a fire time is "at or after"
        ("5 */6 * * *", PINNED, datetime(2026, 11, 4, 12, 5, tzinfo=UTC)),
    ],
)
def test_cron_times_are_utc_crontab(cron: str, after: datetime, expected: datetime) -> None:
    assert cron_trigger(cron).get_next_fire_time(None, after) == expected


def test_scheduled_job_runs_the_cycle_with_the_clock(fake: FakeCycle) -> None:
    worker = _worker(_settings(m=timedelta(days=1)), fake)
    summary = worker.run_scheduled("m")
    assert summary is not None and summary.monitor == "m"
    assert fake.calls == [("m", PINNED, "schedule")]


def test_a_failing_cycle_is_logged_and_does_not_raise(
    fake: FakeCycle, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail = True
    worker = _worker(_settings(m=timedelta(days=1)), fake)
    with caplog.at_level(logging.ERROR, logger="driftwatch.worker"):
        assert worker.run_scheduled("m") is None
    assert "cycle of m (schedule) failed: RuntimeError: reference file vanished" in caplog.text


def test_two_cycles_of_one_monitor_never_overlap(fake: FakeCycle) -> None:
    fake.block = True
    settings = _settings(a=timedelta(days=1), b=timedelta(days=1))
    runner = CycleRunner(settings, db=None, clock=lambda: PINNED, cycle=fake)  # type: ignore[arg-type]
    threads = [threading.Thread(target=runner.run, args=(name, "schedule")) for name in ("a", "a", "b")]
    for t in threads:
        t.start()
    assert fake.started.wait(5)
    # The second "a" waits on the lock; "a" and "b" may run side by side.
    assert runner.busy("a")
    with pytest.raises(CycleBusyError, match="a cycle of monitor 'a' is still running"):
        runner.run("a", "api", wait=0.05)
    fake.gate.set()
    for t in threads:
        t.join(10)
    assert [c[0] for c in fake.calls].count("a") == 2
    assert fake.max_active == {"a": 1, "b": 1}
    assert not runner.busy("a")


def test_start_adds_jobs_and_catches_up_each_monitor_once(fake: FakeCycle, stopper: list[Worker]) -> None:
    settings = _settings(a=timedelta(days=1), b=timedelta(hours=1))
    worker = _worker(settings, fake)
    stopper.append(worker)
    worker.start()
    for _ in range(2):
        assert fake.done.acquire(timeout=10)
    assert sorted((name, trigger) for name, _, trigger in fake.calls) == [("a", "startup"), ("b", "startup")]
    assert worker.running
    assert worker.next_run("a") is not None and worker.next_run("a").tzinfo is not None
    worker.shutdown()
    assert not worker.running


def test_no_catch_up_when_disabled(fake: FakeCycle, stopper: list[Worker]) -> None:
    worker = _worker(_settings(a=timedelta(days=1)), fake, ServerSettings(catch_up=False))
    stopper.append(worker)
    worker.start()
    assert {j.id for j in worker.scheduler.get_jobs()} == {job_id("a")}
    worker.shutdown()
    assert fake.calls == []


def test_shutdown_waits_for_the_cycle_in_progress(fake: FakeCycle, stopper: list[Worker]) -> None:
    fake.block = True
    worker = _worker(_settings(a=timedelta(days=1)), fake)
    stopper.append(worker)
    worker.start()
    assert fake.started.wait(10)
    stopped = threading.Event()
    closer = threading.Thread(target=lambda: (worker.shutdown(wait=True), stopped.set()))
    closer.start()
    assert not stopped.wait(0.2)  # still waiting: the cycle has not finished
    fake.gate.set()
    closer.join(10)
    assert stopped.is_set()
    assert fake.done.acquire(timeout=1)


def test_injected_scheduler_is_used(fake: FakeCycle) -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    settings = _settings(a=timedelta(days=1))
    runner = CycleRunner(settings, db=None, cycle=fake)  # type: ignore[arg-type]
    worker = Worker(settings, None, ServerSettings(), runner=runner, scheduler=scheduler)  # type: ignore[arg-type]
    worker.add_jobs()
    assert scheduler.get_job(job_id("a")) is not None


def test_a_missed_tick_is_logged(fake: FakeCycle, caplog: pytest.LogCaptureFixture) -> None:
    from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent

    worker = _worker(_settings(a=timedelta(days=1)), fake)
    event = JobExecutionEvent(EVENT_JOB_MISSED, job_id("a"), "default", PINNED)
    with caplog.at_level(logging.WARNING, logger="driftwatch.worker"):
        worker.scheduler._dispatch_event(event)  # what APScheduler does for a run past its grace
    assert "scheduled cycle of a due at 2026-11-04T10:30:00+00:00 was skipped" in caplog.text
    assert "POST /api/monitors/a/runs" in caplog.text


def test_alert_delivery_is_retried_between_cycles(tmp_path: Path) -> None:
    """With alert rules configured, a delivery job runs every DELIVERY_INTERVAL so backoffs and Retry-After
    waits are honoured between daily cycles; without rules there is no such job."""
    from _service import make_project
    from driftwatch.config.loading import load_settings
    from driftwatch.config.server import ServerSettings
    from driftwatch.storage.database import Database
    from driftwatch.worker import DELIVERY_INTERVAL, Worker

    settings = load_settings(make_project(tmp_path / "p"))
    with Database(settings.storage) as db:
        worker = Worker(settings, db, ServerSettings())
        worker.add_jobs()
        job = worker.scheduler.get_job("deliver")
        assert job is not None and job.trigger.interval == DELIVERY_INTERVAL
        quiet = Worker(
            settings, db, ServerSettings(), runner=CycleRunner(settings, db, cycle=lambda *a, **k: None)
        )
        quiet.add_jobs()
        assert quiet.scheduler.get_job("deliver") is None
