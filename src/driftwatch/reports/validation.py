"""The validate report: one self-contained HTML page for `driftwatch validate --html` (no scripts, no charts).

Every value a user supplied (file names, column names, metric names) reaches the page through the template's
autoescaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from driftwatch.reports.contexts import Page, Provenance
from driftwatch.reports.render import format_number, format_utc, render_template


class Value(Protocol):
    @property
    def value(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...


class BarCheck(Protocol):
    @property
    def passed(self) -> bool: ...
    @property
    def close(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def bar(self) -> object: ...


class ValidationResult(Protocol):
    """What the page reads from `driftwatch.validation.ValidateResult` (that module sits a layer above)."""

    @property
    def task(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def rows_reference(self) -> int: ...
    @property
    def rows_current(self) -> int: ...
    @property
    def current(self) -> Mapping[str, Value]: ...
    @property
    def reference(self) -> Mapping[str, Value]: ...
    @property
    def checks(self) -> Sequence[BarCheck]: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def drift_bar(self) -> float | None: ...
    @property
    def drift_share(self) -> float | None: ...
    @property
    def drift_passed(self) -> bool: ...
    def failures(self) -> list[str]: ...


@dataclass(frozen=True)
class MetricLine:
    metric: str
    bar: str
    value: str
    interval: str
    reference: str
    status: str  # ok / degraded / "" (no bar): the badge classes of base.html
    verdict: str
    reason: str


@dataclass(frozen=True)
class ValidationContext:
    page: Page
    status: str
    verdict: str
    failures: tuple[str, ...]
    notes: tuple[str, ...]
    lines: tuple[MetricLine, ...]
    drift: str


def render_validation(
    result: ValidationResult, reference_label: str, current_label: str, *, now: datetime | None = None
) -> str:
    """The page: the verdict, the failed bars, and every metric with its interval and the reference's value."""
    checks = {getattr(c.bar, "metric", ""): c for c in result.checks}
    lines = []
    for metric, value in result.current.items():
        check = checks.get(metric)
        ref = result.reference.get(metric)
        lines.append(
            MetricLine(
                metric=metric,
                bar=str(getattr(check.bar, "rule", "")) if check else "",
                value=format_number(value.value),
                interval=f"{format_number(value.low)} – {format_number(value.high)}",
                reference=format_number(ref.value) if ref else "—",
                status="" if check is None else ("ok" if check.passed else "degraded"),
                verdict=""
                if check is None
                else ("pass" if check.passed else "fail")
                + (" (close: the bar is inside the interval)" if check.close else ""),
                reason=check.reason if check else "",
            )
        )
    drift = ""
    if result.drift_bar is not None:
        share = result.drift_share
        drift = (
            f"drift share {format_number(share, 3)} against the bar {result.drift_bar:g}: "
            f"{'pass' if result.drift_passed else 'fail'}"
        )
    page = Page(
        title=f"Validation: {current_label}",
        provenance=Provenance(
            format_utc(now or datetime.now(UTC)),
            (
                ("task", result.task),
                ("reference", f"{reference_label} ({result.rows_reference:,} rows)"),
                ("current", f"{current_label} ({result.rows_current:,} rows)"),
            ),
        ),
    )
    context = ValidationContext(
        page=page,
        status="ok" if result.passed else "degraded",
        verdict="passed" if result.passed else "failed",
        failures=tuple(result.failures()),
        notes=tuple(result.notes),
        lines=tuple(lines),
        drift=drift,
    )
    return render_template("validation.html", context)
