"""Channel declarations (`channels:` in a rule file, `alerting.channels` in driftwatch.yml): the one parser.

A channel names the environment variable that holds its URL (`url_env`); a URL written into a file is an
error, and the error message never repeats what was written. The result is a plain `ChannelConfig`;
`driftwatch.alerting.channels.build_channels` turns it into a channel object with the secrets from the
environment (config is below alerting: it parses, alerting builds and sends).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from driftwatch.config.issues import IssueCollector, RuleError
from driftwatch.config.yaml_lines import LineMap, line_of

ChannelType = Literal["slack", "webhook", "log", "alertmanager", "email"]


@dataclass(frozen=True)
class ChannelConfig:
    """A destination. Holds the NAME of the environment variable with the URL, never the URL."""

    name: str
    type: ChannelType
    url_env: str | None = None
    path: str | None = None  # log channel: the file to append to
    timeout_seconds: float = 10.0
    source: str = ""
    line: int = 0
    # alertmanager: `url` (not a secret; or `url_env`), auth from the environment, how often firing alerts are
    # re-posted. email: SMTP server, addresses, credentials from the environment.
    url: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    resend_interval_seconds: float = 300.0
    host: str | None = None
    port: int = 587
    sender: str | None = None  # `from:` in the file
    recipients: tuple[str, ...] = ()  # `to:` in the file
    starttls: bool = True
    ca_file: str | None = None  # a CA bundle for STARTTLS (an internal CA); default: the system's


CHANNEL_KEYS: dict[str, frozenset[str]] = {
    "slack": frozenset({"type", "url_env", "timeout"}),
    "webhook": frozenset({"type", "url_env", "timeout"}),
    "log": frozenset({"type", "path"}),
    "alertmanager": frozenset(
        {"type", "url", "url_env", "username_env", "password_env", "token_env", "timeout", "resend_interval"}
    ),
    "email": frozenset(
        {
            "type",
            "host",
            "port",
            "from",
            "to",
            "username_env",
            "password_env",
            "starttls",
            "ca_file",
            "timeout",
        }
    ),
}
# Alertmanager's own default `resolve_timeout` is 5m; re-posting at that pace, with alerts valid for four
# intervals (Prometheus's rule: 4 x resend delay), rides out three lost re-posts in a row.
DEFAULT_RESEND_INTERVAL = 300.0
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_channel_config(name: str, raw: Mapping[str, object], file: str = "<config>") -> ChannelConfig:
    """Validate one channel declaration given as a plain mapping (e.g. from the main config file).

    Raises `RuleError` listing every problem.
    """
    collector = IssueCollector(file)
    mapping = raw if isinstance(raw, LineMap) else _as_line_map(raw)
    config = channel_from_mapping(name, mapping, collector, contained=False)
    if collector.issues or config is None:
        raise RuleError(collector.issues)
    return config


def log_path_problem(path: str) -> str | None:
    """Why a log channel's `path` could write outside the project folder (None: it cannot).

    Checked on the text, so the same answer holds wherever the project is: the path is relative and never
    climbs above its starting folder (the config file's folder, against which it is resolved).
    """
    if "\x00" in path:
        return "holds a NUL character"
    normal = posixpath.normpath(path.replace("\\", "/"))
    if posixpath.isabs(normal) or re.match(r"^[A-Za-z]:", normal) or path.startswith("~"):
        return f"is absolute ({path!r})"
    if normal == ".." or normal.startswith("../"):
        return f"leaves the project folder ({path!r})"
    if normal == ".":
        return "names a folder, not a file"
    return None


def channel_from_mapping(
    name: object, value: object, collector: IssueCollector, line: int = 1, contained: bool = True
) -> ChannelConfig | None:
    """One channel, with problems recorded in `collector`; None when it is unusable.

    `contained`: a log channel's path must stay inside the project folder (rule files, which whoever
    may edit the rules can change); the main config, the operator's own file, passes False.
    """
    if not isinstance(name, str) or not CHANNEL_NAME.match(name):
        collector.add(line, f"channel name {name!r} is not valid", "use letters, digits, `-`, `_` or `.`")
        return None
    where = f"channel `{name}`"
    mapping = collector.mapping(value, line, where, "{type: slack, url_env: SLACK_WEBHOOK_URL}")
    if mapping is None:
        return None
    if "url" in mapping and mapping.get("type") != "alertmanager":
        # Deliberately not echoing the value: it is a credential that just landed in a file.
        collector.add(
            line_of(mapping, "url"),
            f"{where} holds a URL in the file; webhook URLs are secrets",
            "put the URL in an environment variable and name it with `url_env: SLACK_WEBHOOK_URL`",
        )
    kind = collector.text(mapping, "type", where)
    if kind is None:
        return None
    if kind not in CHANNEL_KEYS:
        collector.add(
            line_of(mapping, "type"),
            f"{where} has unknown type {kind!r}",
            "use slack, webhook, log, alertmanager or email",
        )
        return None
    # `url` was reported above with a more useful fix.
    collector.unknown_keys(mapping, CHANNEL_KEYS[kind] | {"url"}, where)
    if kind == "alertmanager":
        return _alertmanager(name, mapping, collector, where)
    if kind == "email":
        return _email(name, mapping, collector, where)
    if kind == "log":
        return _log(name, mapping, collector, where, contained)
    return _url_channel(name, "slack" if kind == "slack" else "webhook", mapping, collector, where)


def _url_channel(
    name: str, kind: Literal["slack", "webhook"], mapping: LineMap, collector: IssueCollector, where: str
) -> ChannelConfig | None:
    """A Slack or webhook channel: the NAME of the variable holding its URL, and a timeout."""
    url_env = collector.text(mapping, "url_env", where)
    if url_env is not None and not _ENV_NAME.match(url_env):
        url_env = None
        collector.add(
            line_of(mapping, "url_env"),
            f"`url_env` in {where} must be the NAME of an environment variable (it is not one)",
            "write e.g. `url_env: SLACK_WEBHOOK_URL` and export SLACK_WEBHOOK_URL=... where driftwatch runs",
        )
    timeout = 10.0
    if "timeout" in mapping:
        duration = collector.duration(mapping, "timeout", where)
        timeout = duration.total_seconds() if duration is not None else timeout
    if url_env is None:
        return None
    return ChannelConfig(
        name=name,
        type=kind,
        url_env=url_env,
        timeout_seconds=timeout,
        source=collector.file,
        line=mapping.line,
    )


def _log(
    name: str, mapping: LineMap, collector: IssueCollector, where: str, contained: bool
) -> ChannelConfig | None:
    """A log channel: the file to append to (inside the project folder when `contained`)."""
    path = collector.text(mapping, "path", where)
    if path is not None and contained:
        problem = log_path_problem(path)
        if problem is not None:
            collector.add(
                line_of(mapping, "path"),
                f"`path` of {where} {problem}; a rule file may only write inside the project folder",
                "use a relative path such as `alerts.log` or `logs/alerts.log`, or declare the channel "
                "in driftwatch.yml under `alerting.channels` (where the operator may name any file)",
            )
            path = None
    if path is None:
        return None
    return ChannelConfig(name=name, type="log", path=path, source=collector.file, line=mapping.line)


def _env_name(mapping: LineMap, key: str, collector: IssueCollector, where: str) -> str | None:
    """An optional `*_env` key: the NAME of an environment variable (never its value)."""
    if key not in mapping:
        return None
    value = collector.text(mapping, key, where)
    if value is not None and not _ENV_NAME.match(value):
        collector.add(
            line_of(mapping, key),
            f"`{key}` in {where} must be the NAME of an environment variable (it is not one)",
            f"write e.g. `{key}: {key[:-4].upper()}_VAR` and export it where driftwatch runs",
        )
        return None
    return value


def _timeout(mapping: LineMap, collector: IssueCollector, where: str, key: str = "timeout") -> float | None:
    if key not in mapping:
        return None
    duration = collector.duration(mapping, key, where)
    if duration is None:
        return None
    if duration.total_seconds() <= 0:
        collector.add(line_of(mapping, key), f"`{key}` in {where} must be longer than 0", "write e.g. `30s`")
        return None
    return duration.total_seconds()


def _alertmanager(name: str, mapping: LineMap, collector: IssueCollector, where: str) -> ChannelConfig | None:
    before = len(collector.issues)
    url = collector.text(mapping, "url", where) if "url" in mapping else None
    url_env = _env_name(mapping, "url_env", collector, where)
    if (url is None) == (url_env is None) and len(collector.issues) == before:
        collector.add(
            mapping.line,
            f"{where} needs exactly one of `url` and `url_env`",
            "write e.g. `url: http://alertmanager:9093` (its API root, without /api/v2)",
        )
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        collector.add(
            line_of(mapping, "url"), f"`url` of {where} is not an http(s) URL", "e.g. http://am:9093"
        )
    username_env = _env_name(mapping, "username_env", collector, where)
    password_env = _env_name(mapping, "password_env", collector, where)
    token_env = _env_name(mapping, "token_env", collector, where)
    if (username_env is None) != (password_env is None):
        collector.add(
            mapping.line,
            f"{where}: basic auth needs both `username_env` and `password_env`",
            "set both or neither",
        )
    if token_env is not None and username_env is not None:
        collector.add(
            line_of(mapping, "token_env"), f"{where} sets both basic auth and a bearer token", "keep one"
        )
    timeout = _timeout(mapping, collector, where)
    resend = _timeout(mapping, collector, where, "resend_interval")
    if len(collector.issues) > before:
        return None
    return ChannelConfig(
        name=name,
        type="alertmanager",
        url=url,
        url_env=url_env,
        username_env=username_env,
        password_env=password_env,
        token_env=token_env,
        timeout_seconds=timeout or 10.0,
        resend_interval_seconds=resend or DEFAULT_RESEND_INTERVAL,
        source=collector.file,
        line=mapping.line,
    )


_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


def _email(name: str, mapping: LineMap, collector: IssueCollector, where: str) -> ChannelConfig | None:
    before = len(collector.issues)
    host = collector.text(mapping, "host", where)
    port = 587
    if "port" in mapping:
        port = collector.integer(mapping, "port", where, 1, "write e.g. `port: 587` (submission)") or port
    sender = collector.text(mapping, "from", where)
    if sender is not None and not _ADDRESS.match(sender):
        collector.add(
            line_of(mapping, "from"), f"`from` of {where} is not an address", "e.g. driftwatch@example.org"
        )
    raw_to = mapping.get("to")
    recipients: list[str] = []
    if raw_to is None:
        collector.add(mapping.line, f"{where} has no `to`", "add `to: [ml-oncall@example.org]`")
    else:
        items = list(raw_to) if isinstance(raw_to, list) else [raw_to]
        for item in items:
            if not isinstance(item, str) or not _ADDRESS.match(item):
                collector.add(
                    line_of(mapping, "to"),
                    f"`to` of {where} holds {item!r}, not an address",
                    "a list of addresses",
                )
            else:
                recipients.append(item)
    username_env = _env_name(mapping, "username_env", collector, where)
    password_env = _env_name(mapping, "password_env", collector, where)
    if (username_env is None) != (password_env is None):
        collector.add(
            mapping.line,
            f"{where}: SMTP AUTH needs both `username_env` and `password_env`",
            "set both or neither",
        )
    starttls = True
    if "starttls" in mapping:
        value = collector.boolean(mapping, "starttls", where)
        starttls = True if value is None else value
    if username_env is not None and not starttls:
        collector.add(
            line_of(mapping, "starttls"),
            f"{where} would send its password without TLS",
            "keep `starttls: true` (the default) when `username_env` is set",
        )
    ca_file = collector.text(mapping, "ca_file", where) if "ca_file" in mapping else None
    timeout = _timeout(mapping, collector, where)
    if len(collector.issues) > before or host is None or sender is None:
        return None
    return ChannelConfig(
        name=name,
        type="email",
        host=host,
        port=port,
        sender=sender,
        recipients=tuple(recipients),
        username_env=username_env,
        password_env=password_env,
        starttls=starttls,
        ca_file=ca_file,
        timeout_seconds=timeout or 30.0,
        source=collector.file,
        line=mapping.line,
    )


def _as_line_map(raw: Mapping[str, object]) -> LineMap:
    mapping = LineMap(raw)
    mapping.line = 1
    mapping.key_lines = {}
    return mapping
