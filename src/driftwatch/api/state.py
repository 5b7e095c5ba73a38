"""What every route needs, built once by the app factory and kept on `app.state.driftwatch`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Protocol

from fastapi import Request

from driftwatch.api.auth import TokenAuth
from driftwatch.api.errors import NotFound
from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.runner import Clock, CycleRunner
from driftwatch.storage.database import Database


class Scheduler(Protocol):
    """What the API needs of the schedule (worker.Worker in `driftwatch serve`): whether it runs, when a
    monitor's next cycle is due, and the runner its cycles go through (so "run now" shares their locks).
    The API depends on this, not on worker.py, which service.py builds beside the app."""

    runner: CycleRunner

    @property
    def running(self) -> bool: ...

    def next_run(self, monitor: str) -> datetime | None: ...


@dataclass
class AppState:
    settings: Settings
    db: Database
    server: ServerSettings
    runner: CycleRunner
    worker: Scheduler | None
    clock: Clock
    auth: TokenAuth

    def monitor(self, name: str) -> MonitorConfig:
        """The monitor's config, or a 404 naming the known monitors."""
        monitor = self.settings.monitors.get(name)
        if monitor is None:
            known = ", ".join(sorted(self.settings.monitors)) or "none"
            raise NotFound(f"no monitor named {name!r} (known: {known})")
        return monitor

    def next_run(self, name: str) -> datetime | None:
        return self.worker.next_run(name) if self.worker is not None else None

    def schedule(self, name: str) -> str | None:
        monitor = self.settings.monitors[name]
        return self.server.schedule_for(name, monitor.window)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.driftwatch
    return state


def package_version() -> str:
    try:
        return metadata.version("driftwatch")
    except metadata.PackageNotFoundError:
        return "unknown"
