"""Secret values (webhook URLs) that hide themselves from repr, str, logs and error messages."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote, urlsplit

REDACTED = "<redacted>"
# Shorter fragments (a bare "/" path, "a=1") are not secret and would mangle messages if replaced.
_MIN_FRAGMENT = 8


class Secret:
    """A string that must not leak: `repr`, `str` and f-strings show a mask; `reveal()` gives the value.

    Webhook URLs carry their credential in the path (Slack's `/services/T…/B…/…`), so `redact` also removes
    the path and query on their own, in case a library quotes only part of the URL.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the value to disk or a queue unnoticed.
        raise TypeError("Secret values cannot be pickled")

    def fragments(self) -> list[str]:
        """Every form in which the value could appear in a message, longest first."""
        found = {self._value, quote(self._value, safe=""), quote(self._value, safe="/:")}
        try:
            parts = urlsplit(self._value)
        except ValueError:
            parts = None
        if parts is not None:
            path_query = parts.path + (f"?{parts.query}" if parts.query else "")
            found.update({path_query, parts.path, parts.query})
        kept = {f for f in found if len(f) >= _MIN_FRAGMENT}
        if self._value:
            kept.add(self._value)  # the whole value always counts, however short
        return sorted(kept, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the secret (or its path/query) replaced by a marker."""
        for fragment in self.fragments():
            text = text.replace(fragment, REDACTED)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that removes secrets from records before any handler sees them.

    Attached to the loggers of HTTP libraries that print request URLs (httpx logs every request at INFO,
    slack_sdk logs the URL at DEBUG), because their messages are built outside our code.
    """

    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__()
        self._secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = message
        for secret in self._secrets:
            cleaned = secret.redact(cleaned)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Handlers format the traceback themselves, from the exception's own (unfiltered) message.
            text = "".join(traceback.format_exception(*record.exc_info))
            cleaned_text = text
            for secret in self._secrets:
                cleaned_text = secret.redact(cleaned_text)
            if cleaned_text != text:
                record.exc_info = None
                record.exc_text = cleaned_text.rstrip("\n")
        return True
