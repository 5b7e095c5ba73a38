"""E-mail over SMTP (submission, STARTTLS), one message per alert group: plain text and HTML parts.

Grouping is the Slack channel's (one message per monitor, rule, transition and window, listing the features
worst first, at most `max_listed` of them and then "+N more"). Every user string (feature names, labels,
annotations, values) is HTML-escaped in the HTML part.

Credentials come from the environment (`username_env`, `password_env`) and are `Secret`s: they appear in no
error and no log (smtplib logs nothing at debuglevel 0, which is kept). With credentials set, the connection
must be upgraded with STARTTLS before AUTH; a server that does not offer STARTTLS is a permanent failure rather
than a password sent in the clear.

SMTP replies map onto the delivery policy: 4xx replies (greylisting, "try again later"), connection errors and
timeouts are retried; 5xx replies (bad recipient, authentication failed) are permanent — reported as HTTP 400 so
the delivery loop's rule ("4xx is permanent") applies unchanged.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

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
from driftwatch.alerting.secret import Secret

DEFAULT_MAX_LISTED = 30
SUBJECT_LIMIT = 200
PERMANENT = 400  # the status a permanent SMTP failure is reported as (see the module docstring)

_TITLES = {Transition.FIRING: "FIRING", Transition.REPEAT: "STILL FIRING", Transition.RESOLVED: "RESOLVED"}
_SHOWN_LABELS = frozenset({"alertname", "monitor", "metric", "feature"})


def email_subject(group: AlertGroup) -> str:
    count = f" ({len(group.alerts)} alerts)" if len(group.alerts) > 1 else ""
    text = f"[{_TITLES[group.transition]}] {group.rule} · {group.monitor}{count}"
    # Header injection: a newline in a rule or monitor name must not start a new header.
    return truncate(" ".join(text.split()), SUBJECT_LIMIT)


def _line(alert: Alert, transition: Transition, qualifiers: bool) -> str:
    """One listed alert as plain text (escaped by the caller for HTML)."""
    name = subject(alert)
    if qualifiers:
        name += f" ({alert.instance.model_version}, {alert.instance.segment})"
    if alert.threshold is None:
        return f"{name} — {alert.metric}"
    judged = f"{alert.op.value} {format_number(alert.threshold)}"
    if transition is Transition.RESOLVED:
        level = alert.recover if alert.recover is not None else alert.threshold
        judged = f"recovered (alert was {judged}, recovery level {format_number(level)})"
    baseline = f", baseline {format_number(alert.baseline)}" if alert.baseline is not None else ""
    return f"{name} — {alert.metric} {format_number(alert.value)} {judged}{baseline}"


def _parts(group: AlertGroup, report_base_url: str | None, max_listed: int) -> dict[str, object]:
    """What both parts show, as plain (unescaped) strings."""
    varied = len({(a.instance.model_version, a.instance.segment) for a in group.alerts}) > 1
    shown = group.alerts[: max(0, max_listed)]
    common_annotations = (
        group.common_annotations if len(group.alerts) > 1 else dict(group.alerts[0].annotations)
    )
    labels = {k: v for k, v in group.common_labels.items() if k not in _SHOWN_LABELS}
    errors = [a for a in group.alerts if a.template_error]
    link = next((u for a in group.alerts if (u := report_link(a.report_url, report_base_url))), None)
    return {
        "title": f"{_TITLES[group.transition]}: {group.rule} · {group.monitor}",
        "window": f"{format_time(group.window_start)} → {format_time(group.window_end)}",
        "intro": [common_annotations[k] for k in ("summary", "description") if k in common_annotations],
        "labels": sorted(labels.items()),
        "lines": [_line(a, group.transition, varied) for a in shown],
        "more": len(group.alerts) - len(shown),
        "error": errors[0].template_error if errors else None,
        "link": link,
    }


def email_text(
    group: AlertGroup, report_base_url: str | None = None, max_listed: int = DEFAULT_MAX_LISTED
) -> str:
    p = _parts(group, report_base_url, max_listed)
    out = [str(p["title"]), f"Window: {p['window']}", ""]
    out += [str(x) for x in p["intro"]]  # type: ignore[attr-defined]
    if p["error"]:
        out.append(f"An annotation template failed; showing the plain message. Error: {p['error']}")
    out += [f"{k}: {v}" for k, v in p["labels"]]  # type: ignore[attr-defined]
    out.append("")
    out += [f"- {line}" for line in p["lines"]]  # type: ignore[attr-defined]
    if p["more"]:
        out.append(f"+{p['more']} more (not listed here; see the report)")
    if p["link"]:
        out += ["", f"Report: {p['link']}"]
    return "\n".join(out) + "\n"


def email_html(
    group: AlertGroup, report_base_url: str | None = None, max_listed: int = DEFAULT_MAX_LISTED
) -> str:
    """The HTML part. Every string from rules, labels or data goes through `html.escape`."""
    p = _parts(group, report_base_url, max_listed)
    e = html.escape
    body = [f"<h2>{e(str(p['title']))}</h2>", f"<p><b>Window</b> {e(str(p['window']))}</p>"]
    body += [f"<p>{e(str(x))}</p>" for x in p["intro"]]  # type: ignore[attr-defined]
    if p["error"]:
        body.append(
            f"<p><b>An annotation template failed; showing the plain message.</b> {e(str(p['error']))}</p>"
        )
    if p["labels"]:
        rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in p["labels"])  # type: ignore[attr-defined]
        body.append(f"<table>{rows}</table>")
    items = "".join(f"<li>{e(line)}</li>" for line in p["lines"])  # type: ignore[attr-defined]
    body.append(f"<ul>{items}</ul>")
    if p["more"]:
        body.append(f"<p>+{p['more']} more (not listed here; see the report)</p>")
    if p["link"]:
        href = str(p["link"])
        if href.startswith(("http://", "https://")):
            body.append(f'<p><a href="{e(href, quote=True)}">Open report</a></p>')
    return '<!DOCTYPE html><html><body style="font-family:sans-serif">' + "".join(body) + "</body></html>"


def build_message(
    group: AlertGroup,
    sender: str,
    recipients: Sequence[str],
    idempotency_key: str,
    report_base_url: str | None = None,
    max_listed: int = DEFAULT_MAX_LISTED,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = email_subject(group)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(group.created_at)
    domain = sender.rpartition("@")[2] or "driftwatch"
    # The same message keeps the same Message-ID on a retry: mail systems and clients drop the duplicate.
    message["Message-ID"] = f"<{idempotency_key}@{domain}>" if idempotency_key else make_msgid(domain=domain)
    message["X-Driftwatch-Rule"] = " ".join(group.rule.split())
    message.set_content(email_text(group, report_base_url, max_listed))
    message.add_alternative(email_html(group, report_base_url, max_listed), subtype="html")
    return message


class EmailChannel:
    """Sends each message over one SMTP connection: EHLO, STARTTLS, EHLO, AUTH (when configured), send."""

    min_interval_seconds = 0.0

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: Secret | None = None,
        password: Secret | None = None,
        starttls: bool = True,
        ca_file: str | None = None,
        timeout_seconds: float = 30.0,
        report_base_url: str | None = None,
        max_listed: int = DEFAULT_MAX_LISTED,
    ) -> None:
        self._name = name
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = tuple(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._ca_file = ca_file
        self._timeout = timeout_seconds
        self._report_base_url = report_base_url
        self._max_listed = max_listed

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"EmailChannel(name={self._name!r}, host={self._host!r}, port={self._port})"

    def message(self, group: AlertGroup, idempotency_key: str = "") -> EmailMessage:
        return build_message(
            group, self._sender, self._recipients, idempotency_key, self._report_base_url, self._max_listed
        )

    def _redact(self, text: str) -> str:
        for secret in (self._password, self._username):
            if secret is not None:
                text = secret.redact(text)
        return text

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
        mail = self.message(message, idempotency_key)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self._starttls:
                    if not smtp.has_extn("starttls"):
                        return SendResult(
                            ok=False,
                            status_code=PERMANENT,
                            error=f"SMTP server {self._host}:{self._port} does not offer STARTTLS",
                        )
                    context = ssl.create_default_context(cafile=self._ca_file)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self._username is not None and self._password is not None:
                    smtp.login(self._username.reveal(), self._password.reveal())
                refused = smtp.send_message(mail, from_addr=self._sender, to_addrs=list(self._recipients))
        except smtplib.SMTPRecipientsRefused as error:
            return self._reply_failure(
                min(code for code, _ in error.recipients.values()), "all recipients refused"
            )
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else ""
            return self._reply_failure(error.smtp_code, reply)
        except Exception as error:  # noqa: BLE001 - connection errors, timeouts, TLS failures: retried
            return SendResult(ok=False, error=self._redact(f"{type(error).__name__}: {error}"))
        if refused:
            # Accepted for some recipients: delivered (retrying would mail the others twice); said in the log.
            return SendResult(
                ok=True, status_code=250, error=f"refused recipients: {', '.join(sorted(refused))}"
            )
        return SendResult(ok=True, status_code=250)

    def _reply_failure(self, code: int, reply: str) -> SendResult:
        text = self._redact(f"SMTP {code}: {truncate(reply.strip(), 200)}")
        if 400 <= code < 500:
            return SendResult(ok=False, status_code=None, error=text)  # transient: retried
        return SendResult(ok=False, status_code=PERMANENT, error=text)

    def close(self) -> None:
        """Nothing held open: each message uses its own connection."""
