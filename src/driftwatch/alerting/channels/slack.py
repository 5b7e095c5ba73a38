"""Slack incoming webhooks: a Block Kit message per alert group, sent with `slack_sdk`'s `WebhookClient`.

Block Kit limits held here (and asserted by the golden tests): at most 50 blocks, header text at most 150
characters, section text at most 3000, button text at most 75 and its URL at most 3000. The fallback `text`
is always set (notifications and screen readers use it). A long list of features is cut at `max_listed`
lines or when the blocks run out, whichever comes first, and ends with "+N more".

`WebhookClient` retries nothing here (`retry_handlers=[]`): retries belong to the outbox, which survives a
restart and honours `Retry-After`. Its logger gets a filter that removes the URL from any record.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from slack_sdk.webhook import WebhookClient

from driftwatch.alerting.channels.base import SendResult
from driftwatch.alerting.channels.formatting import (
    format_number,
    format_time,
    report_link,
    subject,
    truncate,
)
from driftwatch.alerting.grouping import AlertGroup
from driftwatch.alerting.model import Alert, Transition
from driftwatch.alerting.secret import RedactingFilter, Secret

MAX_BLOCKS = 50
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
URL_LIMIT = 3000
FALLBACK_LIMIT = 3000
LINE_LIMIT = 300  # one listed alert; a 2000-character feature name must not eat a whole section
DEFAULT_MAX_LISTED = 30  # more than this is a wall of text; the report has the rest

_HEADER_TITLES = {
    Transition.FIRING: "🚨 Firing",
    Transition.REPEAT: "🔁 Still firing",
    Transition.RESOLVED: "✅ Resolved",
}
# Labels every message already shows elsewhere (header, list lines).
_SHOWN_LABELS = frozenset({"alertname", "monitor", "metric", "feature"})


def escape(text: str) -> str:
    """Slack mrkdwn control characters; feature names and values are user data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(
    group: AlertGroup, report_base_url: str | None = None, max_listed: int = DEFAULT_MAX_LISTED
) -> dict[str, Any]:
    """The JSON body for one message (pure: the golden tests pin it)."""
    title = _HEADER_TITLES[group.transition]
    header = truncate(f"{title}: {group.rule} · {group.monitor}", HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}
    ]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _context_text(group)}]})
    intro = _intro(group)
    if intro:
        blocks.append(_section(intro))
    errors = [a for a in group.alerts if a.template_error]
    if errors:
        blocks.append(_section(_error_text(errors)))
    tail: list[dict[str, Any]] = []
    link = next((u for a in group.alerts if (u := report_link(a.report_url, report_base_url))), None)
    if link is not None and len(link) <= URL_LIMIT:
        tail.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": truncate("Open report", BUTTON_TEXT_LIMIT)},
                        "url": link,
                        "action_id": "open_report",
                    }
                ],
            }
        )
    if len(group.alerts) > 1:
        # One block stays free for the "+N more" line.
        budget = MAX_BLOCKS - len(blocks) - len(tail) - 1
        sections, shown = _list_sections(group, budget, max_listed)
        blocks.extend(_section(text) for text in sections)
        hidden = len(group.alerts) - shown
        if hidden > 0:
            more = f"+{hidden} more (not listed here; see the report)"
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    blocks.extend(tail)
    return {"text": _fallback_text(group), "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}}


def _context_text(group: AlertGroup) -> str:
    parts = [f"*Window* {format_time(group.window_start)} → {format_time(group.window_end)}"]
    if len(group.alerts) > 1:
        parts.append(f"*Alerts* {len(group.alerts)}")
    common = group.common_labels
    parts.extend(f"*{escape(k)}* {escape(v)}" for k, v in sorted(common.items()) if k not in _SHOWN_LABELS)
    return truncate(" · ".join(parts), 2000)


def _intro(group: AlertGroup) -> str:
    if len(group.alerts) == 1:
        alert = group.alerts[0]
        lines = [escape(alert.annotations["summary"])] if "summary" in alert.annotations else []
        lines.append(_alert_line(alert, group.transition, qualifiers=False))
        if "description" in alert.annotations:
            lines.append(escape(alert.annotations["description"]))
        return "\n".join(lines)
    common = group.common_annotations
    return "\n".join(escape(common[k]) for k in ("summary", "description") if k in common)


def _error_text(errors: list[Alert]) -> str:
    first = errors[0]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(first.labels.items()))
    return (
        f":warning: An annotation template failed for {len(errors)} alert(s); showing the plain message.\n"
        f"Error: {escape(first.template_error or '')}\nLabels: {escape(labels)}"
    )


def _alert_line(alert: Alert, transition: Transition, qualifiers: bool) -> str:
    name = escape(subject(alert))
    extra = ""
    if qualifiers:
        extra = f" ({escape(alert.instance.model_version)}, {escape(alert.instance.segment)})"
    if alert.threshold is None:
        # Nothing was measured against a threshold (meta-alerts): the summary says what happened.
        return truncate(f"• *{name}*{extra} — {escape(alert.metric)}", LINE_LIMIT)
    value = format_number(alert.value)
    rule = f"{escape(alert.op.value)} {format_number(alert.threshold)}"
    if transition is Transition.RESOLVED:
        level = format_number(alert.recover if alert.recover is not None else alert.threshold)
        judged = f"recovered (alert was {rule}, recovery level {level})"
    else:
        judged = rule
    baseline = f", baseline {format_number(alert.baseline)}" if alert.baseline is not None else ""
    return truncate(f"• *{name}*{extra} — {escape(alert.metric)} {value} {judged}{baseline}", LINE_LIMIT)


def _list_sections(group: AlertGroup, budget: int, max_listed: int) -> tuple[list[str], int]:
    """Lines packed into as few sections as fit the block budget; returns (texts, alerts shown)."""
    varied = len({(a.instance.model_version, a.instance.segment) for a in group.alerts}) > 1
    sections: list[str] = []
    current = ""
    shown = 0
    for alert in group.alerts[: max(0, max_listed)]:
        line = _alert_line(alert, group.transition, qualifiers=varied)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= SECTION_LIMIT:
            current = candidate
        elif len(sections) + 2 <= budget:
            sections.append(current)
            current = line
        else:
            break
        shown += 1
    if current:
        sections.append(current)
    return sections, shown


def _fallback_text(group: AlertGroup) -> str:
    title = {Transition.FIRING: "FIRING", Transition.REPEAT: "STILL FIRING", Transition.RESOLVED: "RESOLVED"}
    items = [f"{subject(a)} {format_number(a.value)}" for a in group.alerts[:5]]
    if len(group.alerts) > 5:
        items.append(f"+{len(group.alerts) - 5} more")
    text = f"[{title[group.transition]}] {group.rule} · {group.monitor}: {', '.join(items)}"
    return truncate(escape(text), FALLBACK_LIMIT)


class SlackChannel:
    """Sends messages to one Slack incoming webhook. The URL is a `Secret` and never leaves this object."""

    min_interval_seconds = 1.0  # Slack allows about one message a second per webhook

    def __init__(
        self,
        name: str,
        url: Secret,
        report_base_url: str | None = None,
        timeout_seconds: float = 10.0,
        max_listed: int = DEFAULT_MAX_LISTED,
    ) -> None:
        self._name = name
        self._url = url
        self._report_base_url = report_base_url
        self._max_listed = max_listed
        self._logger = _redacting_logger(name, url)
        self._client = WebhookClient(
            url=url.reveal(),
            timeout=max(1, math.ceil(timeout_seconds)),
            retry_handlers=[],
            logger=self._logger,
        )

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"SlackChannel(name={self._name!r}, url={self._url!r})"

    def payload(self, message: AlertGroup) -> dict[str, Any]:
        return slack_payload(message, self._report_base_url, self._max_listed)

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
        # Slack has no idempotency header; at-least-once is the promise, and the dedupe key keeps the outbox
        # from creating the duplicate in the first place.
        try:
            response = self._client.send_dict(self.payload(message))
        except Exception as error:  # noqa: BLE001 - any transport failure becomes a retryable result
            return SendResult(ok=False, error=self._url.redact(f"{type(error).__name__}: {error}"))
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(ok=True, status_code=status)
        return SendResult(
            ok=False,
            status_code=status,
            retry_after=_header(response.headers, "Retry-After"),
            error=self._url.redact(f"HTTP {status}: {truncate(str(response.body or '').strip(), 200)}"),
        )

    def close(self) -> None:
        for item in list(self._logger.filters):
            self._logger.removeFilter(item)


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) else value)
    return None


def _redacting_logger(name: str, url: Secret) -> logging.Logger:
    # slack_sdk logs the full URL at DEBUG; its records pass through this filter before any handler.
    logger = logging.getLogger(f"driftwatch.alerting.channels.slack.{name}")
    for item in list(logger.filters):
        logger.removeFilter(item)
    logger.addFilter(RedactingFilter([url]))
    return logger
