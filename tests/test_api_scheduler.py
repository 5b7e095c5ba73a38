"""The API sees the schedule only through `api.state.Scheduler`: any object with `running`, `next_run` and the
`runner` its cycles go through will do (driftwatch.service hands it the APScheduler Worker). These tests give it
a plain one on a real DuckDB file, so they hold the seam itself: what /health and /metrics report comes from the
scheduler, and "run now" takes the same per-monitor lock as the scheduler's runner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from _service import MONITOR, TOKEN, TestClient, make_project
from driftwatch.api.app import create_app
from driftwatch.api.state import Scheduler
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.runner import CycleRunner
from driftwatch.storage.database import Database

NEXT = datetime(2026, 11, 2, 0, 15, tzinfo=UTC)


class FixedSchedule:
    """A schedule that is running and always due at NEXT, for the monitor it names only."""

    def __init__(self, runner: CycleRunner, monitor: str) -> None:
        self.runner = runner
        self.monitor = monitor

    @property
    def running(self) -> bool:
        return True

    def next_run(self, monitor: str) -> datetime | None:
        return NEXT if monitor == self.monitor else None


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(make_project(tmp_path_factory.mktemp("sched") / "demo"))


@pytest.fixture
def schedule(settings: Settings, tmp_path: Path) -> Iterator[FixedSchedule]:
    with Database(tmp_path / "driftwatch.duckdb", settings.database) as db:
        # No cycle runs in these tests: the runner is only the lock holder the app must share.
        yield FixedSchedule(CycleRunner(settings, db, cycle=lambda *a, **k: None), MONITOR)


def _client(settings: Settings, schedule: Scheduler) -> TestClient:
    server = ServerSettings(run_wait=timedelta(seconds=0.2))
    app = create_app(settings, schedule.runner.db, server, scheduler=schedule, token=TOKEN)
    return TestClient(app, raise_server_exceptions=False)


def test_health_and_metrics_report_the_scheduler(settings: Settings, schedule: FixedSchedule) -> None:
    client = _client(settings, schedule)
    health = client.get("/health").json()
    assert health["scheduler_running"] is True
    (monitor,) = [m for m in health["monitors"] if m["name"] == MONITOR]
    assert datetime.fromisoformat(monitor["next_scheduled_cycle"]) == NEXT
    info = client.get(f"/api/monitors/{MONITOR}").json()
    assert datetime.fromisoformat(info["next_scheduled_cycle"]) == NEXT
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }
    assert samples[("driftwatch_scheduler_running", ())] == 1.0
    due = ("driftwatch_next_scheduled_cycle_timestamp_seconds", (("monitor", MONITOR),))
    assert samples[due] == NEXT.timestamp()


def test_run_now_shares_the_scheduler_runners_lock(settings: Settings, schedule: FixedSchedule) -> None:
    """While the scheduler's runner holds the monitor (a scheduled cycle), "run now" waits run_wait, then 409."""
    client = _client(settings, schedule)
    with schedule.runner.holding(MONITOR):
        health = client.get("/health").json()
        assert [m["cycle_running"] for m in health["monitors"] if m["name"] == MONITOR] == [True]
        answer = client.post(f"/api/monitors/{MONITOR}/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 409, answer.text
    assert "still running" in answer.json()["detail"]
