"""The scheduler's skipped-tick warning names what was skipped: a monitor's cycle (and how to run it now), or
the alert delivery pass (which is not a monitor: there is no `POST /api/monitors/deliver/runs`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent

from _service import MONITOR, make_project
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.pipeline.runner import CycleRunner
from driftwatch.worker import Worker, job_id

DUE = datetime(2026, 11, 2, 0, 15, tzinfo=UTC)


@pytest.fixture
def worker(tmp_path: Path) -> Worker:
    settings = load_settings(make_project(tmp_path / "demo"))
    runner = CycleRunner(settings, None)  # type: ignore[arg-type]  # no cycle runs here
    return Worker(settings, None, ServerSettings(), runner=runner)  # type: ignore[arg-type]


def _missed(worker: Worker, job: str, caplog: pytest.LogCaptureFixture) -> str:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="driftwatch"):
        worker._on_missed(JobExecutionEvent(EVENT_JOB_MISSED, job, "default", DUE))
    (record,) = caplog.records
    return record.getMessage()


def test_a_skipped_delivery_pass_is_not_called_a_monitor(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    message = _missed(worker, "deliver", caplog)
    assert "/api/monitors/deliver" not in message
    assert message.startswith("the alert delivery pass due at 2026-11-02T00:15:00+00:00 was skipped")


def test_a_skipped_cycle_names_the_monitor_and_the_endpoint(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    message = _missed(worker, job_id(MONITOR), caplog)
    assert f"scheduled cycle of {MONITOR} due at 2026-11-02T00:15:00+00:00 was skipped" in message
    assert f"POST /api/monitors/{MONITOR}/runs" in message
