"""Notification channels, and building them from their configs with secrets read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from driftwatch.alerting.channels.base import Channel, SendResult
from driftwatch.alerting.channels.logfile import LogFileChannel
from driftwatch.alerting.channels.slack import SlackChannel
from driftwatch.alerting.channels.webhook import WebhookChannel
from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.alerting.model import ChannelConfig
from driftwatch.alerting.secret import Secret

__all__ = ["Channel", "LogFileChannel", "SendResult", "SlackChannel", "WebhookChannel", "build_channels"]


def build_channels(
    configs: Mapping[str, ChannelConfig],
    env: Mapping[str, str],
    report_base_url: str | None = None,
    base_dir: str | Path | None = None,
) -> dict[str, Channel]:
    """Channel objects for the configs. `env` is passed in (usually `os.environ`), never read at import.

    A relative log `path` is taken from `base_dir` (the config file's folder) when given. Raises
    `ChannelConfigError` naming every channel whose environment variable is missing or empty (the
    message names the variable, never a value).
    """
    channels: dict[str, Channel] = {}
    missing: list[str] = []
    for name, config in sorted(configs.items()):
        if config.type == "log":
            path = Path(config.path or "alerts.log")
            if base_dir is not None and not path.is_absolute():
                path = Path(base_dir) / path
            channels[name] = LogFileChannel(name, path)
            continue
        value = env.get(config.url_env or "", "").strip()
        if not value:
            missing.append(f"channel {name!r} needs environment variable {config.url_env}")
            continue
        url = Secret(value)
        if config.type == "slack":
            channels[name] = SlackChannel(name, url, report_base_url, config.timeout_seconds)
        else:
            channels[name] = WebhookChannel(name, url, report_base_url, config.timeout_seconds)
    if missing:
        for channel in channels.values():
            channel.close()
        raise ChannelConfigError("; ".join(missing) + " (set it to the webhook URL where driftwatch runs)")
    return channels
