"""Small text helpers shared by the channel payload builders."""

from __future__ import annotations

import math
from datetime import datetime

from driftwatch.alerting.model import Alert
from driftwatch.durations import as_utc, iso_utc


def format_number(value: float | None) -> str:
    """Four significant digits, which is what a person reads in a PSI, p-value or AUC; "n/a" for None."""
    if value is None:
        return "n/a"
    if math.isnan(value):
        return "NaN"
    return f"{value:.4g}"


def format_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def rfc3339(moment: datetime) -> str:
    return iso_utc(moment)


def subject(alert: Alert) -> str:
    """What the alert is about: the feature, or the metric for whole-model values."""
    return alert.instance.feature if alert.instance.feature is not None else alert.metric


def report_link(report_url: str | None, base_url: str | None) -> str | None:
    """An absolute link to the report: as given when absolute, else joined to the configured base URL."""
    if not report_url:
        return None
    if report_url.startswith(("http://", "https://")):
        return report_url
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{report_url.lstrip('/')}"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
