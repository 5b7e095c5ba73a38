"""Notification channels, and building them from their configs with secrets read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from driftwatch.alerting.channels.alertmanager import AlertmanagerChannel
from driftwatch.alerting.channels.base import Channel, SendResult
from driftwatch.alerting.channels.email import EmailChannel
from driftwatch.alerting.channels.logfile import LogFileChannel
from driftwatch.alerting.channels.slack import SlackChannel
from driftwatch.alerting.channels.webhook import WebhookChannel
from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.alerting.secret import Secret
from driftwatch.config.channels import ChannelConfig

__all__ = [
    "AlertmanagerChannel",
    "EmailChannel",
    "Channel",
    "LogFileChannel",
    "SendResult",
    "SlackChannel",
    "WebhookChannel",
    "build_channels",
]


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
    missing: list[str] = []  # slack/webhook URLs
    credentials: list[str] = []  # alertmanager/email variables (URL, user, password, token)
    for name, config in sorted(configs.items()):
        if config.type == "log":
            path = Path(config.path or "alerts.log")
            if base_dir is not None and not path.is_absolute():
                path = Path(base_dir) / path
            channels[name] = LogFileChannel(name, path)
            continue
        if config.type in ("alertmanager", "email"):
            channel, problems = _build_with_env(config, env, report_base_url)
            credentials.extend(problems)
            if channel is not None:
                channels[name] = channel
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
    if missing or credentials:
        for channel in channels.values():
            channel.close()
        parts = []
        if missing:
            parts.append("; ".join(missing) + " (set it to the webhook URL where driftwatch runs)")
        if credentials:
            parts.append("; ".join(credentials) + " (set it where driftwatch runs)")
        raise ChannelConfigError("; ".join(parts))
    return channels


def _build_with_env(
    config: ChannelConfig, env: Mapping[str, str], report_base_url: str | None
) -> tuple[Channel | None, list[str]]:
    """An Alertmanager or e-mail channel, its credentials read from the variables the config names."""
    problems: list[str] = []

    def read(variable: str | None) -> Secret | None:
        if variable is None:
            return None
        value = env.get(variable, "")
        if not value.strip():
            problems.append(f"channel {config.name!r} needs environment variable {variable}")
            return None
        return Secret(value.strip() if variable == config.url_env else value)

    username, password = read(config.username_env), read(config.password_env)
    if config.type == "alertmanager":
        url = Secret(config.url) if config.url is not None else read(config.url_env)
        token = read(config.token_env)
        if problems or url is None:
            return None, problems
        auth = (username, password) if username is not None and password is not None else None
        return AlertmanagerChannel(
            config.name,
            url,
            report_base_url,
            config.timeout_seconds,
            config.resend_interval_seconds,
            basic_auth=auth,
            token=token,
        ), problems
    if problems:
        return None, problems
    assert config.host is not None and config.sender is not None
    return EmailChannel(
        config.name,
        host=config.host,
        port=config.port,
        sender=config.sender,
        recipients=config.recipients,
        username=username,
        password=password,
        starttls=config.starttls,
        ca_file=config.ca_file,
        timeout_seconds=config.timeout_seconds,
        report_base_url=report_base_url,
    ), problems
