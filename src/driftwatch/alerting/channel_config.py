"""Parsing `channels:` declarations, in a rule file or in the main config.

A channel names the environment variable that holds its URL (`url_env`); a URL written into a file is an
error, and the error message never repeats what was written.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

from driftwatch.alerting.errors import RuleError
from driftwatch.alerting.issues import IssueCollector
from driftwatch.alerting.model import ChannelConfig, ChannelType
from driftwatch.alerting.yaml_lines import LineMap, line_of

CHANNEL_KEYS: dict[str, frozenset[str]] = {
    "slack": frozenset({"type", "url_env", "timeout"}),
    "webhook": frozenset({"type", "url_env", "timeout"}),
    "log": frozenset({"type", "path"}),
}
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
    if "url" in mapping:
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
            line_of(mapping, "type"), f"{where} has unknown type {kind!r}", "use slack, webhook or log"
        )
        return None
    # `url` was reported above with a more useful fix.
    collector.unknown_keys(mapping, CHANNEL_KEYS[kind] | {"url"}, where)
    config_type: ChannelType = kind  # type: ignore[assignment]  # checked against CHANNEL_KEYS above
    url_env = path = None
    timeout = 10.0
    if kind in ("slack", "webhook"):
        url_env = collector.text(mapping, "url_env", where)
        if url_env is not None and not _ENV_NAME.match(url_env):
            url_env = None
            collector.add(
                line_of(mapping, "url_env"),
                f"`url_env` in {where} must be the NAME of an environment variable (it is not one)",
                "write e.g. `url_env: SLACK_WEBHOOK_URL` and export SLACK_WEBHOOK_URL=... where driftwatch runs",
            )
        if "timeout" in mapping:
            duration = collector.duration(mapping, "timeout", where)
            timeout = duration.total_seconds() if duration is not None else timeout
    else:
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
    if (kind != "log" and url_env is None) or (kind == "log" and path is None):
        return None
    return ChannelConfig(
        name=name,
        type=config_type,
        url_env=url_env,
        path=path,
        timeout_seconds=timeout,
        source=collector.file,
        line=mapping.line,
    )


def _as_line_map(raw: Mapping[str, object]) -> LineMap:
    mapping = LineMap(raw)
    mapping.line = 1
    mapping.key_lines = {}
    return mapping
