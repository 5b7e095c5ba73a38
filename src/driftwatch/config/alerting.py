"""The `alerting:` section of driftwatch.yml (docs/configuration.md, "Alerting").

```yaml
alerting:
  enabled: true                      # default true; false: no evaluation, no delivery
  rules: alert_rules                 # folder (or file) of rule files, relative to this config file
  report_base_url: https://driftwatch.example.com   # joined to relative report links in messages
  backfill: 7d                       # first evaluation of a monitor: skip windows older than this
  channels:
    slack-ml: {type: slack, url_env: SLACK_WEBHOOK_URL, timeout: 10s}
    hook: {type: webhook, url_env: ALERT_WEBHOOK_URL}
    log: {type: log, path: .driftwatch/alerts.log}
  retry: {base: 5s, cap: 15m, max_attempts: 20}
```

Channels are validated here as plain `ChannelEntry`s and turned into `config.channels.ChannelConfig` (the
parser rule files use too) by `pipeline.alerts.channel_configs`. Every error is a `ConfigError` naming the
file and the dotted key; a webhook URL written into the file is never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from driftwatch.config.sections import Section
from driftwatch.durations import format_duration, parse_duration
from driftwatch.errors import ConfigError

ALERTING_KEYS = ("enabled", "rules", "channels", "report_base_url", "retry", "backfill")
RETRY_KEYS = ("base", "cap", "max_attempts")
CHANNEL_TYPES = ("slack", "webhook", "log", "alertmanager", "email")
# Validated key by key by `config.channels` (which names the file and key); kept as written here.
PASSTHROUGH_TYPES = ("alertmanager", "email")
CHANNEL_KEYS: dict[str, tuple[str, ...]] = {
    "slack": ("type", "url_env", "timeout"),
    "webhook": ("type", "url_env", "timeout"),
    "log": ("type", "path"),
}
DEFAULT_RULES = "alert_rules"
DEFAULT_BACKFILL = timedelta(days=7)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ChannelEntry:
    """One declared channel. Holds the NAME of the environment variable with the URL, never the URL."""

    name: str
    type: str  # slack | webhook | log
    url_env: str | None = None
    path: str | None = None  # log: the file to append to, relative to the config's folder
    timeout: str | None = None  # slack/webhook: a duration such as "10s"
    options: Mapping[str, object] | None = None  # alertmanager/email: the declaration as written

    def as_mapping(self) -> dict[str, object]:
        """The declaration as `config.channels.parse_channel_config` reads it."""
        if self.options is not None:
            return {**self.options, "type": self.type}
        raw: dict[str, object] = {"type": self.type}
        for key in ("url_env", "path", "timeout"):
            value = getattr(self, key)
            if value is not None:
                raw[key] = value
        return raw


@dataclass(frozen=True)
class RetrySettings:
    base_seconds: float = 5.0
    cap_seconds: float = 900.0
    max_attempts: int = 20


@dataclass(frozen=True)
class AlertingSettings:
    rules: Path  # folder or file of rule files
    enabled: bool = True
    channels: Mapping[str, ChannelEntry] = field(default_factory=dict)
    report_base_url: str | None = None
    retry: RetrySettings = field(default_factory=RetrySettings)
    backfill: timedelta | None = DEFAULT_BACKFILL  # None: evaluate the whole stored history the first time
    base_dir: Path = Path(".")  # the config file's folder: relative log paths resolve against it


def default_alerting(base: Path) -> AlertingSettings:
    """The settings of a config without an `alerting:` section: rules in `alert_rules/` next to it."""
    return AlertingSettings(rules=base / DEFAULT_RULES, base_dir=base)


def parse_alerting(file: Path, base: Path, data: object) -> AlertingSettings:
    """Validate the `alerting:` section (`data` is its parsed YAML, None when absent)."""
    if data is None:
        return default_alerting(base)
    section = Section(file, "alerting", data, ALERTING_KEYS).data
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(file, "alerting.enabled", "expected true or false", enabled)
    rules_raw = section.get("rules", DEFAULT_RULES)
    if not isinstance(rules_raw, str) or not rules_raw.strip():
        raise ConfigError(file, "alerting.rules", "expected the path of the rules folder", rules_raw)
    rules = Path(rules_raw).expanduser()
    report_base_url = section.get("report_base_url")
    if report_base_url is not None and (
        not isinstance(report_base_url, str) or not re.match(r"^https?://[^\s/]+", report_base_url)
    ):
        raise ConfigError(
            file,
            "alerting.report_base_url",
            "expected the server's external URL, e.g. https://driftwatch.example.com",
            report_base_url,
        )
    backfill: timedelta | None = DEFAULT_BACKFILL
    if "backfill" in section:
        raw = section["backfill"]
        backfill = None if raw is None else _duration(file, "alerting.backfill", raw)
    channels_raw = section.get("channels")
    channels: dict[str, ChannelEntry] = {}
    if channels_raw is not None:
        if not isinstance(channels_raw, Mapping):
            raise ConfigError(
                file,
                "alerting.channels",
                "expected a mapping of channel names to {type: ..., url_env: ...}",
                channels_raw,
            )
        for name, body in channels_raw.items():
            channels[str(name)] = _channel(file, base, name, body)
    return AlertingSettings(
        rules=rules if rules.is_absolute() else base / rules,
        enabled=enabled,
        channels=channels,
        report_base_url=report_base_url.rstrip("/") if isinstance(report_base_url, str) else None,
        retry=_retry(file, section.get("retry")),
        backfill=backfill,
        base_dir=base,
    )


def _duration(file: Path, key: str, value: object) -> timedelta:
    try:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("not a duration")
        return parse_duration(value)
    except ValueError:
        raise ConfigError(file, key, "expected a duration such as 30s, 15m, 6h, 1d", value) from None


def _channel(file: Path, base: Path, name: object, body: object) -> ChannelEntry:
    key = f"alerting.channels.{name}"
    if not isinstance(name, str) or not _CHANNEL_NAME.match(name):
        raise ConfigError(file, key, "channel names use letters, digits, '-', '_' or '.'", name)
    if not isinstance(body, Mapping):
        raise ConfigError(file, key, "expected {type: slack, url_env: SLACK_WEBHOOK_URL}", body)
    if body.get("type") in PASSTHROUGH_TYPES:
        # Checked (and every problem named with its key) when the rules load: `parse_channel_config`.
        return ChannelEntry(name, str(body["type"]), options=dict(body))
    if "url" in body:
        # Not echoing the value: it is a credential that just landed in a file.
        raise ConfigError(
            file,
            f"{key}.url",
            "webhook URLs are secrets and do not belong in the config file; put the URL in an environment "
            "variable and name it with `url_env: SLACK_WEBHOOK_URL`",
        )
    kind = body.get("type")
    if kind not in CHANNEL_TYPES:
        raise ConfigError(file, f"{key}.type", f"expected one of {', '.join(CHANNEL_TYPES)}", kind)
    Section(file, key, body, CHANNEL_KEYS[kind])
    if kind == "log":
        path = body.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(file, f"{key}.path", "a log channel needs the file to append to", path)
        # Kept as written (relative to the config's folder, resolved when the channel is built), so the same
        # declaration in a rule file and here compare equal.
        return ChannelEntry(name, kind, path=path)
    url_env = body.get("url_env")
    if not isinstance(url_env, str) or not _ENV_NAME.match(url_env):
        raise ConfigError(
            file,
            f"{key}.url_env",
            "expected the NAME of the environment variable holding the URL, e.g. SLACK_WEBHOOK_URL",
            url_env if isinstance(url_env, str) and len(url_env) < 64 and "/" not in url_env else None,
        )
    timeout = None
    if "timeout" in body:
        timeout = format_duration(_duration(file, f"{key}.timeout", body["timeout"]))
    return ChannelEntry(name, kind, url_env=url_env, timeout=timeout)


def _retry(file: Path, data: object) -> RetrySettings:
    if data is None:
        return RetrySettings()
    section = Section(file, "alerting.retry", data, RETRY_KEYS).data
    defaults = RetrySettings()
    base = defaults.base_seconds
    cap = defaults.cap_seconds
    if "base" in section:
        base = _duration(file, "alerting.retry.base", section["base"]).total_seconds()
    if "cap" in section:
        cap = _duration(file, "alerting.retry.cap", section["cap"]).total_seconds()
    if cap < base:
        raise ConfigError(file, "alerting.retry.cap", "must be at least `base`", section.get("cap"))
    attempts = section.get("max_attempts", defaults.max_attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigError(file, "alerting.retry.max_attempts", "expected a whole number >= 1", attempts)
    return RetrySettings(base_seconds=base, cap_seconds=cap, max_attempts=attempts)
