"""The parsed driftwatch.yml: `Settings`, built once by `driftwatch.config.loading.load_settings`.

Commands, the server and the worker all receive this object; none of them reads the file again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from driftwatch.config.alerting import AlertingSettings
from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.sections import Section, resolve_path
from driftwatch.config.server import ServerSettings
from driftwatch.errors import ConfigError

DATABASE_KEYS = ("threads", "memory_limit", "temp_directory")


@dataclass(frozen=True)
class DatabaseSettings:
    threads: int = 2
    memory_limit: str = "4GB"
    temp_directory: str | None = None


@dataclass(frozen=True)
class Settings:
    config_path: Path
    storage: Path
    reports_dir: Path
    monitors: Mapping[str, MonitorConfig]
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = field(default_factory=ServerSettings)
    alerting: AlertingSettings | None = None  # the `alerting:` section (docs/configuration.md, "Alerting")
    # A new top-level section (e.g. `sources:` from config/sources.py) adds its field here and its parser to
    # `driftwatch.config.loading.parse_settings`.

    def monitor(self, name: str) -> MonitorConfig:
        try:
            return self.monitors[name]
        except KeyError:
            known = ", ".join(sorted(self.monitors)) or "none"
            raise ConfigError(
                self.config_path, f"monitors.{name}", f"no such monitor (known: {known})"
            ) from None


def parse_database(file: Path, data: object) -> DatabaseSettings:
    """The `database:` section (None = defaults): DuckDB's threads, memory limit and spill folder."""
    db = Section(file, "database", data, DATABASE_KEYS)
    temp_dir = db.str_("temp_directory")
    return DatabaseSettings(
        threads=db.int_("threads", 2, 1) or 2,
        memory_limit=db.str_("memory_limit", "4GB") or "4GB",
        temp_directory=resolve_path(file.parent, temp_dir) if temp_dir else None,
    )
