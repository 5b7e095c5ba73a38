"""Template contexts: one frozen dataclass per page, holding only display-ready values.

Building a context (site.py, comparison.py) is where data is read and shaped; templates only lay it out, so a
template never queries, formats numbers or decides a status. Every string here may be user data; the templates
escape it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftwatch.reports.quality import CycleQualitySection, QualitySection


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass(frozen=True)
class Provenance:
    """When a page was generated and from which data: shown at the top of every page."""

    generated_at: str
    items: tuple[tuple[str, str], ...]  # (what, which): monitor, reference profile, window, run id, ...


@dataclass(frozen=True)
class Plotly:
    """How the page gets plotly.js: a relative URL to the shared bundle, or the bundle inlined."""

    src: str | None = None
    inline: str | None = None


@dataclass(frozen=True)
class Page:
    title: str
    provenance: Provenance
    breadcrumbs: tuple[Link, ...] = ()
    plotly: Plotly = field(default_factory=Plotly)
    # Chart id → plotly figure (or, on the overview, group key → chart id → figure); drawn by the page script.
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """A section's state when it has nothing to show: why (not configured, no labels yet, no alerts)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A plain table of text cells (alert state and history, performance rows)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# --- index --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexRow:
    monitor: str
    href: str
    model_version: str | None
    window: str | None
    window_href: str | None
    status: str | None
    features_drift: int | None
    features: int | None
    performance: str  # a verdict like "degraded: roc_auc 0.71 (baseline 0.78)", or why there is none
    performance_status: str | None
    alerts: str  # "2 firing", "none firing", or why there is no alert state
    alerts_firing: int | None


@dataclass(frozen=True)
class PairLink:
    """A link to one version pair's page (reports/versions.py), from the monitor's overview or the index."""

    label: str  # "1.4 vs 1.5", or "credit-default: 1.4 vs 1.5" on the index
    href: str  # relative to the page that shows it
    latest: str  # the newest compared window
    status: str  # that window's verdict
    status_class: str
    windows: int


@dataclass(frozen=True)
class IndexContext:
    page: Page
    rows: tuple[IndexRow, ...]
    # version-pair pages of the monitors with `versions:` (reports/versions.py), and why one has none
    versions: tuple[PairLink, ...] = ()
    versions_notes: tuple[str, ...] = ()


# --- monitor overview ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupOption:
    """One model version × segment: the overview's filter shows one group's charts and windows at a time."""

    key: str
    label: str


@dataclass(frozen=True)
class ChartSlot:
    id: str
    title: str


@dataclass(frozen=True)
class WindowLink:
    group: str
    label: str
    href: str
    status: str
    rows: int
    features_drift: int
    features_warn: int
    drift_share: str


@dataclass(frozen=True)
class GroupNote:
    """A note that belongs to one model version × segment (shown with that group's windows)."""

    group: str
    text: str


@dataclass(frozen=True)
class OverviewContext:
    page: Page
    monitor: str
    groups: tuple[GroupOption, ...]
    default_group: str
    drift_share_chart: ChartSlot
    feature_charts: tuple[ChartSlot, ...]
    performance_chart: ChartSlot | None
    performance_note: Note | None
    alerts_state: Table | None
    alerts_history: Table | None
    alerts_note: Note | None
    windows: tuple[WindowLink, ...]
    # Per group with windows lacking a verdict: "not judged: N of M windows (fewer than min_rows R rows)".
    not_judged: tuple[GroupNote, ...] = ()
    versions: tuple[PairLink, ...] = ()  # the monitor's version-pair pages (reports/versions.py)
    versions_notes: tuple[str, ...] = ()
    cycle_quality: CycleQualitySection | None = None  # the latest cycles' ingest checks (reports/quality.py)


# --- window report and comparison --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and the value the column sorts by ('' sorts last)."""

    text: str
    sort: str


@dataclass(frozen=True)
class Column:
    label: str  # short header
    title: str  # the statistic's full name (tooltip)


@dataclass(frozen=True)
class FeatureRow:
    anchor: str
    name: str
    kind: str
    status: str
    reason: str
    cells: tuple[Cell, ...]  # one per FeatureTable.statistics column
    charts: tuple[ChartSlot, ...]
    note: str = ""  # e.g. why the ECDF is missing


@dataclass(frozen=True)
class FeatureTable:
    statistics: tuple[Column, ...]  # column headers after name, kind, status
    rows: tuple[FeatureRow, ...]


@dataclass(frozen=True)
class WindowContext:
    page: Page
    monitor: str
    model_version: str
    segment: str
    window: str
    status: str
    rows: int
    drift_share: str
    features_drift: int  # input features at drift (model outputs apart: they never count in the share)
    features_warn: int
    features_inputs: int
    outputs_moved: str  # e.g. "raw_prediction drift"; empty when no model output warns or drifts
    table: FeatureTable
    performance: Table | None
    performance_note: Note | None
    previous: Link | None
    next: Link | None
    overview: Link
    not_judged: str = ""  # why the window has no drift verdict (fewer rows than min_rows), else ""
    quality: QualitySection | None = None  # the data-quality checks (reports/quality.py); None: none stored
    multivariate: Table | None = None  # reports/multivariate.py; None: off, or a segment's page


@dataclass(frozen=True)
class ComparisonContext:
    page: Page
    reference_label: str
    current_label: str
    rows_reference: int
    rows_current: int
    status: str
    reason: str
    drift_share: str
    summary_chart: ChartSlot
    table: FeatureTable
    distributions_note: str
