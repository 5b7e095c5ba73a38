"""The `server:` section: defaults, schedules derived from windows, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from driftwatch.config.server import (
    DEFAULT_MAX_BODY_BYTES,
    KEYS,
    ServerSettings,
    cron_problem,
    parse_server,
    schedule_for_window,
)
from driftwatch.errors import ConfigError

FILE = Path("/srv/dw/driftwatch.yml")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_defaults() -> None:
    s = parse_server(FILE, None, ["a"])
    assert s == ServerSettings()
    assert s.token_env == "DRIFTWATCH_TOKEN" and s.public_reads and s.catch_up
    assert s.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert s.schedule_for("a", timedelta(days=1)) == "15 0 * * *"
    assert s.misfire_grace_for(timedelta(hours=6)) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("window", "cron"),
    [
        (timedelta(days=1), "15 0 * * *"),
        (timedelta(days=2), "15 0 * * *"),
        (timedelta(weeks=1), "15 0 * * mon"),
        (timedelta(hours=1), "5 * * * *"),
        (timedelta(hours=6), "5 */6 * * *"),
        (timedelta(hours=5), "5 * * * *"),
        (timedelta(minutes=15), "*/15 * * * *"),
        (timedelta(minutes=7), "* * * * *"),
    ],
)
def test_schedule_follows_the_window(window: timedelta, cron: str) -> None:
    assert schedule_for_window(window) == cron
    assert cron_problem(cron) is None


def test_full_section() -> None:
    s = parse_server(
        FILE,
        {
            "token_env": "DW_TOKEN",
            "public_reads": False,
            "max_body_bytes": "5MiB",
            "schedules": {"a": "0 */2 * * *", "b": "off"},
            "default_schedule": "30 1 * * *",
            "misfire_grace": "2h",
            "catch_up": False,
            "metrics_max_features": 20,
            "run_wait": "30s",
        },
        ["a", "b", "c"],
    )
    assert s.token_env == "DW_TOKEN" and not s.public_reads and not s.catch_up
    assert s.max_body_bytes == 5 * 1024 * 1024
    assert s.schedule_for("a", timedelta(days=1)) == "0 */2 * * *"
    assert s.schedule_for("b", timedelta(days=1)) is None
    assert s.schedule_for("c", timedelta(days=1)) == "30 1 * * *"
    assert s.misfire_grace_for(timedelta(days=1)) == timedelta(hours=2)
    assert s.run_wait == timedelta(seconds=30)
    assert s.metrics_max_features == 20


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"tokenenv": "X"}, "server.tokenenv", "did you mean 'token_env'"),
        ({"token_env": "my-token-value!"}, "server.token_env", "name of an environment variable"),
        ({"public_reads": "yes"}, "server.public_reads", "true or false"),
        ({"max_body_bytes": 10}, "server.max_body_bytes", "at least 1024"),
        ({"max_body_bytes": "ten megs"}, "server.max_body_bytes", "expected a size"),
        ({"schedules": {"nope": "* * * * *"}}, "server.schedules.nope", "no such monitor"),
        ({"schedules": {"a": "61 * * * *"}}, "server.schedules.a", "outside 0-59"),
        ({"schedules": {"a": "* * *"}}, "server.schedules.a", "expected 5 fields"),
        ({"schedules": ["a"]}, "server.schedules", "mapping"),
        ({"default_schedule": "0 0 * * funday"}, "server.default_schedule", "not a number or a name"),
        ({"misfire_grace": "soon"}, "server.misfire_grace", "not a duration"),
        ({"metrics_max_features": 0}, "server.metrics_max_features", ">= 1"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server(FILE, data, ["a"])
    assert info.value.key == key
    assert fragment in str(info.value)
    assert str(FILE) in str(info.value)


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="server: expected a mapping"):
        parse_server(FILE, ["x"], ["a"])


@pytest.mark.parametrize(
    "expr", ["*/5 * * * *", "0 0 1,15 * *", "0 9-17 * * mon-fri", "0 0 * jan,jul 0", "15 0 * * 7"]
)
def test_valid_crons(expr: str) -> None:
    assert cron_problem(expr) is None


def test_every_key_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [k for k in KEYS if f"`{k}`" not in text]
    assert not missing, missing


def test_server_section_through_load_settings(tmp_path: Path) -> None:
    """load_settings parses `server:` (Settings.server) with the monitor names."""
    from driftwatch.config.loading import load_settings

    config = tmp_path / "driftwatch.yml"
    config.write_text(
        "monitors:\n  m:\n    predictions: {path: 'logs/*.ndjson'}\n    reference: train.parquet\n    window: 6h\n"
        "server:\n  public_reads: false\n  schedules: {m: '0 * * * *'}\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    server = settings.server
    assert isinstance(server, ServerSettings) and server.public_reads is False
    assert server.schedule_for("m", timedelta(hours=6)) == "0 * * * *"
    config.write_text(config.read_text().replace("{m:", "{nope:"), encoding="utf-8")
    with pytest.raises(ConfigError, match="server.schedules.nope: no such monitor"):
        load_settings(config)
