"""The one entry point that reads driftwatch.yml: the file is read and validated here, once.

`load_settings` reads the YAML (refusing duplicate keys), then `parse_settings` hands each top-level section to
its parser: `monitors` (config/monitors.py), `database` (config/settings.py), `alerting` (config/alerting.py,
channels in config/channels.py), `server` (config/server.py). Every error is a `ConfigError` naming the file,
the dotted key and the bad value.

Adding a section (e.g. `sources:` for external data, in config/sources.py): add its key to `TOP_KEYS`, a field
to `Settings`, and one parse call in `parse_settings`; docs/configuration.md documents each key.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from driftwatch.config.alerting import parse_alerting
from driftwatch.config.monitors import parse_monitors
from driftwatch.config.retention import check_lookback
from driftwatch.config.sections import Section, resolve_path
from driftwatch.config.server import parse_server
from driftwatch.config.settings import Settings, parse_database
from driftwatch.config.yaml_lines import DuplicateKeyError, load_yaml_unique_keys
from driftwatch.errors import ConfigError

DEFAULT_CONFIG_NAME = "driftwatch.yml"
TOP_KEYS = ("storage", "reports_dir", "monitors", "database", "alerting", "server")


def parse_settings(data: object, config_path: Path) -> Settings:
    """Validate an already-parsed YAML document; `config_path` is used for messages and relative paths."""
    file = config_path
    base = config_path.parent
    top = Section(file, "", data, TOP_KEYS)
    monitors = parse_monitors(file, top.data.get("monitors"))
    database = parse_database(file, top.data.get("database"))
    alerting = parse_alerting(file, base, top.data.get("alerting"))
    if alerting is not None and alerting.enabled and alerting.backfill is not None:
        for name, monitor in monitors.items():
            check_lookback(file, name, monitor.retention, alerting.backfill, "`alerting.backfill`")
    return Settings(
        config_path=config_path,
        storage=Path(resolve_path(base, top.str_("storage", ".driftwatch/driftwatch.duckdb") or "")),
        reports_dir=Path(resolve_path(base, top.str_("reports_dir", "reports") or "")),
        monitors=monitors,
        database=database,
        alerting=alerting,
        server=parse_server(file, top.data.get("server"), monitors.keys()),
    )


def load_settings(path: str | Path = DEFAULT_CONFIG_NAME) -> Settings:
    """Read and validate a driftwatch.yml. Raises ConfigError naming the file, key and value."""
    config_path = Path(path).expanduser().resolve()
    if not config_path.is_file():
        raise ConfigError(
            config_path,
            "(file)",
            "config file not found; pass --config PATH or run `driftwatch demo` for an example",
        )
    try:
        data = load_yaml_unique_keys(config_path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise ConfigError(
            config_path,
            f"line {exc.line}",
            f"duplicate key {exc.key!r} (first at line {exc.first_line}); YAML would keep only the last one, "
            "so write each key once",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(config_path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_settings(data, config_path)
