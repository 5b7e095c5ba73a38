"""The log channel: one JSON line per alert appended to a file (the demo's default destination)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from driftwatch.alerting.channels.base import SendResult
from driftwatch.alerting.channels.formatting import rfc3339
from driftwatch.alerting.grouping import AlertGroup


def log_lines(message: AlertGroup, idempotency_key: str) -> list[dict[str, Any]]:
    """One record per alert in the message, each self-contained so `grep` and `jq` need no context."""
    lines = []
    for alert in message.to_dict()["alerts"]:
        lines.append(
            {
                "time": rfc3339(message.created_at),
                "dedupe_key": idempotency_key,
                "channel": message.channel,
                "status": message.status,
                "transition": message.transition.value,
                "alertname": message.rule,
                "monitor": message.monitor,
                "window_start": rfc3339(message.window_start),
                "window_end": rfc3339(message.window_end),
                "model_version": alert["instance"]["model_version"],
                "segment": alert["instance"]["segment"],
                "feature": alert["instance"]["feature"],
                "metric": alert["metric"],
                "value": alert["value"],
                "op": alert["op"],
                "threshold": alert["threshold"],
                "labels": alert["labels"],
                "annotations": alert["annotations"],
                "template_error": alert["template_error"],
                "report_url": alert["report_url"],
            }
        )
    return lines


class LogFileChannel:
    """Appends to `path`, creating its folder. Lines are written in one call, so a reader never sees half a
    message from this process."""

    min_interval_seconds = 0.0

    def __init__(self, name: str, path: str | Path) -> None:
        self._name = name
        self._path = Path(path)

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"LogFileChannel(name={self._name!r}, path={str(self._path)!r})"

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
        text = "".join(
            json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
            for line in log_lines(message, idempotency_key)
        )
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            return SendResult(ok=False, error=f"cannot append to {self._path}: {error.strerror or error}")
        return SendResult(ok=True)

    def close(self) -> None:
        return None
