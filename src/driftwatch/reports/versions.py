"""One report page per compared version pair: every window's verdict, reasons and statistics, newest first.

Layout: `<monitor>/versions/<baseline>-vs-<candidate>.html` (names through `render.slug`; a pair whose names
contain `-vs-` gets a hash suffix, `version_page`). Rebuilt with the
monitor's overview at every render: a pair has one row per window, cheap to draw. docs/versions.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.reports.contexts import Link, Page, PairLink, Provenance
from driftwatch.reports.render import (
    format_number,
    format_utc,
    relative_url,
    render_template,
    slug,
    write_report,
)
from driftwatch.storage.versions import compared_pairs, comparison_details, comparisons

INDEX_PAGE = "index.html"
STATUS_CLASS = {"candidate_ok": "ok", "candidate_worse": "drift", "insufficient_data": "grey"}
DETAIL_TITLES = {
    "segment_flips": ("Flips by segment (shadow)", "pairs", "flip rate", "rest's flip rate"),
    "segment_metric": (
        "Metric by segment (labelled rows)",
        "candidate labels",
        "candidate − baseline",
        "baseline",
    ),
    "input": ("Inputs: candidate's traffic vs baseline's (canary)", "", "KS D / JS", "PSI"),
}


_SEPARATOR = re.compile(r"(?=-vs-)")  # counts overlapping occurrences: "a-vs-vs-b" has two


def version_page(monitor: str, baseline: str, candidate: str) -> str:
    """`<monitor>/versions/<baseline>-vs-<candidate>.html`. When a name itself contains `-vs-` (or the join
    could split elsewhere, as "a-vs" + "b" and "a" + "vs-b"), a short hash of the pair is appended: such a
    name has more than one `-vs-`, a plain one exactly one, so no two pairs share a page."""
    name = f"{slug(baseline)}-vs-{slug(candidate)}"
    if len(_SEPARATOR.findall(name)) > 1:
        name += "-" + hashlib.sha256(f"{baseline}\0{candidate}".encode()).hexdigest()[:8]
    return f"{slug(monitor)}/versions/{name}.html"


@dataclass(frozen=True)
class DetailTable:
    title: str
    n_label: str
    value_label: str
    other_label: str
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class WindowBlock:
    label: str
    mode: str
    status: str
    status_class: str
    reasons: tuple[str, ...]
    stats: tuple[tuple[str, str], ...]  # (what, formatted value)
    tables: tuple[DetailTable, ...]


@dataclass(frozen=True)
class VersionsContext:
    page: Page
    baseline: str
    candidate: str
    windows: tuple[WindowBlock, ...]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _stats(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out = [
        ("rows (baseline / candidate)", f"{row['baseline_rows']:,} / {row['candidate_rows']:,}"),
        ("paired requests", f"{row['pairs']:,}"),
        ("score KS D (p)", f"{format_number(row['score_ks'])} ({format_number(row['score_ks_pvalue'], 2)})"),
        ("score PSI", format_number(row["score_psi"])),
        (
            "decision mix JS (χ² p)",
            f"{format_number(row['decision_js'])} ({format_number(row['decision_chi2_pvalue'], 2)})",
        ),
    ]
    if row["agreement"] is not None:
        out.append(
            (
                "agreement (95 % CI)",
                f"{_pct(row['agreement'])} ({_pct(row['agreement_low'])} – {_pct(row['agreement_high'])})",
            )
        )
        out.append(("score difference, mean", format_number(row["score_diff_mean"])))
        quantiles = row["score_diff_quantiles"] or []
        out.append(("score difference 5/25/50/75/95 %", " / ".join(format_number(q) for q in quantiles)))
    if row["metric"] is not None:
        out.append(
            (
                f"{row['metric']} baseline / candidate",
                f"{format_number(row['baseline_value'])} (n={row['baseline_labels'] or 0:,}) / "
                f"{format_number(row['candidate_value'])} (n={row['candidate_labels'] or 0:,})",
            )
        )
        out.append(
            (
                "difference (95 % CI), p worse",
                f"{format_number(row['metric_delta'])} ({format_number(row['metric_delta_low'])} – "
                f"{format_number(row['metric_delta_high'])}), {format_number(row['metric_delta_pvalue'], 2)}",
            )
        )
    return tuple(out)


def _tables(details: list[dict[str, Any]]) -> tuple[DetailTable, ...]:
    tables = []
    for kind, (title, n_label, value_label, other_label) in DETAIL_TITLES.items():
        rows = tuple(
            {
                "name": d["name"],
                "n": "" if d["n"] is None else f"{d['n']:,}",
                "value": format_number(d["value"]),
                "other": format_number(d["other"]),
                "pvalue": format_number(d["pvalue"], 2),
                "adjusted": format_number(d["adjusted_pvalue"], 2),
                "flagged": bool(d["flagged"]),
            }
            for d in details
            if d["kind"] == kind
        )
        if rows:
            tables.append(DetailTable(title, n_label, value_label, other_label, rows))
    return tuple(tables)


def version_context(
    cur: duckdb.DuckDBPyConnection, monitor: str, baseline: str, candidate: str, now: datetime | None
) -> VersionsContext:
    path = version_page(monitor, baseline, candidate)
    blocks = []
    for row in comparisons(cur, monitor, baseline, candidate):
        details = comparison_details(cur, monitor, baseline, candidate, row["window_start"])
        blocks.append(
            WindowBlock(
                label=f"{format_utc(row['window_start'])} – {format_utc(row['window_end'])}",
                mode=str(row["mode"]),
                status=str(row["status"]),
                status_class=STATUS_CLASS.get(str(row["status"]), "grey"),
                reasons=tuple(row["reasons"]),
                stats=_stats(row),
                tables=_tables(details),
            )
        )
    page = Page(
        title=f"{monitor}: {baseline} vs {candidate}",
        provenance=Provenance(
            format_utc(now or datetime.now(UTC)),
            (("monitor", monitor), ("baseline", baseline), ("candidate", candidate)),
        ),
        breadcrumbs=(
            Link("all monitors", relative_url(path, INDEX_PAGE)),
            Link(monitor, relative_url(path, f"{slug(monitor)}/{INDEX_PAGE}")),
        ),
    )
    return VersionsContext(page, baseline, candidate, tuple(blocks))


def pair_links(
    cur: duckdb.DuckDBPyConnection, monitor: str, from_page: str, with_monitor: bool = False
) -> tuple[PairLink, ...]:
    """Every version pair of the monitor that has a page (`render_version_pages` writes one per pair with
    comparisons), linked from `from_page`."""
    links = []
    for pair in compared_pairs(cur, monitor):
        b, c = str(pair["baseline"]), str(pair["candidate"])
        newest = comparisons(cur, monitor, b, c, limit=1)
        status = str(newest[0]["status"]) if newest else "insufficient_data"
        latest = (
            f"{format_utc(newest[0]['window_start'])} – {format_utc(newest[0]['window_end'])}"
            if newest
            else "—"
        )
        links.append(
            PairLink(
                label=f"{monitor}: {b} vs {c}" if with_monitor else f"{b} vs {c}",
                href=relative_url(from_page, version_page(monitor, b, c)),
                latest=latest,
                status=status,
                status_class=STATUS_CLASS.get(status, "grey"),
                windows=int(pair["windows"]),
            )
        )
    return tuple(links)


def monitor_pair_links(
    cur: duckdb.DuckDBPyConnection, config: MonitorConfig, from_page: str, with_monitor: bool = False
) -> tuple[tuple[PairLink, ...], tuple[str, ...]]:
    """(links, notes) for a monitor with `versions:` configured; nothing for one without."""
    if config.versions is None:
        return (), ()
    links = pair_links(cur, config.name, from_page, with_monitor)
    return links, () if links else (NO_PAIR_YET.format(monitor=config.name),)


NO_PAIR_YET = (
    "{monitor}: versions are compared (versions: in driftwatch.yml), but no window has both the baseline's and "
    "a candidate's rows yet; the comparison pages appear here once one has."
)


def render_version_pages(
    cur: duckdb.DuckDBPyConnection, root: Path, monitor: str, now: datetime | None = None
) -> list[Path]:
    """Write the page of every version pair the monitor has comparisons for."""
    written = []
    for pair in compared_pairs(cur, monitor):
        b, c = str(pair["baseline"]), str(pair["candidate"])
        context = version_context(cur, monitor, b, c, now)
        written.append(
            write_report(root, version_page(monitor, b, c), render_template("versions.html", context))
        )
    return written
