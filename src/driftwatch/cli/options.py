"""Options and steps every project command shares: --config, --format, --monitor, reading the config once,
opening the database with a hint that names the server's way to do the same."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftwatch.cli.console import fail

if TYPE_CHECKING:
    from driftwatch.config.settings import Settings
    from driftwatch.storage.database import Database

DEFAULT_CONFIG_NAME = "driftwatch.yml"
"""The same as `driftwatch.config.loading.DEFAULT_CONFIG_NAME` (a test checks), kept here to leave config
unimported until a command needs it."""

FORMATS = ("table", "json")

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="Project config file; relative paths in it resolve against its folder."
    ),
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")]
MonitorOption = Annotated[str | None, typer.Option("--monitor", "-m", help="Only this monitor.")]


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        fail(f"--format must be table or json, got {fmt!r}")


def load(config: Path, monitor: str | None = None) -> Settings:
    """The parsed config (read and validated once, here); `monitor`, when given, must be one of its monitors.
    Raises ConfigError naming the file, key and value."""
    from driftwatch.config.loading import load_settings

    settings = load_settings(config)
    if monitor:
        settings.monitor(monitor)
    return settings


def open_database(settings: Settings, lock_hint: str) -> Database:
    """The project's database; `lock_hint` says what to do instead while `serve` holds the file."""
    from driftwatch.storage.database import Database

    return Database(settings.storage, settings.database, lock_hint=lock_hint)


def cycle_hint(settings: Settings, monitor: str | None = None) -> str:
    """The hint of a command that runs a cycle: trigger it through the server."""
    name = monitor or next(iter(settings.monitors))
    return f"Trigger the cycle through the server instead: POST /api/monitors/{name}/runs"


def read_hint(settings: Settings, monitor: str | None, read: str) -> str:
    """The hint of a read-only command: the API endpoint that serves the same data (e.g. "results")."""
    name = monitor or next(iter(settings.monitors))
    return f"Read them from the server instead: GET /api/monitors/{name}/{read}"
