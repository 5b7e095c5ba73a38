"""The served reports: index, one overview per monitor, one page per window × model version × segment.

Layout under the reports folder (every user-provided name passes through `render.slug`):

    index.html
    static/plotly.min.js                        the plotly bundle, shared by every page
    <monitor>/index.html                        overview
    <monitor>/<model_version>/<segment>/<YYYY-MM-DDTHHMM>.html   window report ('all' = every row)

Links between pages are relative, so the folder works served by the API or opened from disk. Window pages are
re-rendered only when their results changed (a manifest in the folder remembers what each page was built
from); the index and the overviews are cheap and always rebuilt.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.settings import Settings
from driftwatch.durations import to_naive_utc
from driftwatch.reports import charts
from driftwatch.reports.contexts import (
    Cell,
    ChartSlot,
    Column,
    FeatureRow,
    FeatureTable,
    GroupNote,
    GroupOption,
    IndexContext,
    IndexRow,
    Link,
    Note,
    OverviewContext,
    Page,
    Plotly,
    Provenance,
    Table,
    WindowContext,
    WindowLink,
)
from driftwatch.reports.multivariate import multivariate_table, with_multivariate
from driftwatch.reports.quality import cycle_quality_section, quality_section
from driftwatch.reports.registry import registry_items
from driftwatch.reports.render import (
    PLOTLY_FILE,
    STATIC_DIR,
    ensure_static,
    format_number,
    format_utc,
    relative_url,
    render_template,
    resolve_inside,
    segment_slug,
    slug,
    window_slug,
    write_atomic,
    write_report,
)
from driftwatch.reports.versions import monitor_pair_links, render_version_pages
from driftwatch.stats.decision import OUTPUT_FEATURES
from driftwatch.stats.ks_location import WindowEcdf, window_ecdf
from driftwatch.stats.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from driftwatch.stats.sorting import sorted_valid
from driftwatch.storage import report_queries as q
from driftwatch.storage.database import Database
from driftwatch.storage.profiles import load_profile

INDEX_PAGE = "index.html"
MANIFEST = ".driftwatch-reports.json"
# Statistic columns of the feature table, in this order; a column no feature has is left out.
STATISTIC_COLUMNS: dict[str, str] = {
    "psi": "PSI",
    "ks_statistic": "KS D",
    "ks_pvalue": "KS p",
    "pvalue_adjusted": "p adj.",
    "chi2_statistic": "χ²",
    "chi2_pvalue": "χ² p",
    "js_distance": "JS",
    "hellinger": "Hellinger",
    "wasserstein_norm": "Wasserstein (norm.)",
    "missing_share_reference": "missing ref.",
    "missing_share_current": "missing cur.",
    "unseen_share": "unseen",
}
# One render at a time per reports folder in this process (the scheduler and an API "run now" may both call
# render_reports): pages are written atomically anyway, but the manifest is read, updated and written back.
_RENDER_LOCKS: dict[Path, threading.Lock] = {}
_RENDER_LOCKS_GUARD = threading.Lock()
_PERFORMANCE_SEVERITY = {"degraded": 3, "ok": 2, "info": 1, "estimate": 1, "insufficient_labels": 0}

ComputedCharts = Mapping[tuple[str, str, datetime], Mapping[str, WindowEcdf]]
"""What a cycle's statistics already hold for the windows it computed: (model version, segment, window start
(naive UTC)) → numeric feature → its ECDF steps and D's point (``FeatureDrift.ecdf``). A window found here
is drawn without fetching its values again; any other window (an older one, a page re-rendered on its own)
fetches and sorts them once."""
ReferenceSteps = dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]
"""(monitor, profile id, feature) → the reference's ECDF steps: built once per render, not once per page."""


@dataclass(frozen=True)
class WindowKey:
    """A window as the pipeline names it: every segment of it is rendered."""

    model_version: str
    window_start: datetime  # UTC (naive or aware)


def overview_page(monitor: str) -> str:
    return f"{slug(monitor)}/{INDEX_PAGE}"


def window_page(monitor: str, model_version: str, segment: str, window_start: datetime) -> str:
    """The path of a window report inside the reports folder (for links, e.g. from alert messages)."""
    return f"{slug(monitor)}/{slug(model_version)}/{segment_slug(segment)}/{window_slug(_naive(window_start))}.html"


def group_key(model_version: str, segment: str) -> str:
    return f"{slug(model_version)}/{segment_slug(segment)}"


def _naive(ts: datetime) -> datetime:
    return to_naive_utc(ts)


def _now(now: datetime | None) -> str:
    return format_utc(now or datetime.now(UTC))


def _window_label(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def _segment_label(segment: str) -> str:
    return "all rows" if segment == q.OVERALL else segment


def _plotly_for(page_path: str) -> Plotly:
    return Plotly(src=relative_url(page_path, f"{STATIC_DIR}/{PLOTLY_FILE}"))


# --- render_reports ------------------------------------------------------------------------------------------------


def render_reports(
    db: Database,
    settings: Settings,
    monitor: str | None = None,
    windows: Iterable[WindowKey | tuple[str, datetime]] | None = None,
    now: datetime | None = None,
    computed: ComputedCharts | None = None,
    profiles: Mapping[tuple[str, str], ReferenceProfile] | None = None,
) -> list[Path]:
    """Render the reports of one monitor (or all) into `settings.reports_dir`; returns the files written.

    `windows=None` renders every window whose results changed since the last render (or whose page is
    missing); a list of (model_version, window_start) renders exactly those windows, all segments. The index
    and the affected overviews are rebuilt every time. `computed` hands over the chart data the cycle's
    statistics computed (see :data:`ComputedCharts`); the pages are the same with or without it. `profiles`
    hands over reference profiles already in memory, keyed (monitor, profile id); the others are read.
    """
    root = settings.reports_dir
    root.mkdir(parents=True, exist_ok=True)
    with _RENDER_LOCKS_GUARD:
        lock = _RENDER_LOCKS.setdefault(root.resolve(), threading.Lock())
    with lock:
        return _render_reports(
            db, settings, root, monitor, windows, now, computed or {}, dict(profiles or {})
        )


def _render_reports(
    db: Database,
    settings: Settings,
    root: Path,
    monitor: str | None,
    windows: Iterable[WindowKey | tuple[str, datetime]] | None,
    now: datetime | None,
    computed: ComputedCharts,
    profiles: dict[tuple[str, str], ReferenceProfile],
) -> list[Path]:
    ensure_static(root)
    names = [settings.monitor(monitor).name] if monitor is not None else sorted(settings.monitors)
    requested = None if windows is None else {_key(w) for w in windows}
    manifest = _read_manifest(root)
    cur = db.cursor()
    written: list[Path] = []
    reference_steps: ReferenceSteps = {}
    for name in names:
        config = settings.monitor(name)
        fingerprints = with_multivariate(cur, name, q.window_fingerprints(cur, name))
        summaries = q.window_summaries(cur, name)
        by_group: dict[tuple[str, str], list[q.WindowSummary]] = {}
        for s in summaries:
            by_group.setdefault((s.model_version, s.segment), []).append(s)
        for s in summaries:
            path = window_page(name, s.model_version, s.segment, s.window_start)
            fingerprint = fingerprints.get((s.model_version, s.segment, s.window_start), "")
            if requested is not None:
                if (s.model_version, s.window_start) not in requested:
                    continue
            elif manifest.get(path) == fingerprint and resolve_inside(root, path).is_file():
                continue
            group = by_group[(s.model_version, s.segment)]
            handed = computed.get((s.model_version, s.segment, _naive(s.window_start)))
            context = window_context(cur, config, s, group, profiles, now, handed, reference_steps)
            written.append(write_report(root, path, render_template("window.html", context)))
            manifest[path] = fingerprint
        written.append(
            write_report(
                root,
                overview_page(name),
                render_template("overview.html", overview_context(cur, config, now)),
            )
        )
        written += render_version_pages(
            cur, root, name, now
        )  # reports/versions.py: one page per version pair
    written.append(
        write_report(root, INDEX_PAGE, render_template("index.html", index_context(db, settings, now)))
    )
    _write_manifest(root, manifest)
    return written


def _key(window: WindowKey | tuple[str, datetime]) -> tuple[str, datetime]:
    if isinstance(window, WindowKey):
        return window.model_version, _naive(window.window_start)
    version, start = window
    return str(version), _naive(start)


def _read_manifest(root: Path) -> dict[str, str]:
    path = resolve_inside(root, MANIFEST)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no manifest (first render) or a damaged one: render everything again
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_manifest(root: Path, manifest: dict[str, str]) -> None:
    write_atomic(resolve_inside(root, MANIFEST), json.dumps(manifest, indent=0, sort_keys=True))


# --- index ----------------------------------------------------------------------------------------------------


def index_context(db: Database, settings: Settings, now: datetime | None = None) -> IndexContext:
    cur = db.cursor()
    rows: list[IndexRow] = []
    for name in sorted(settings.monitors):
        config = settings.monitors[name]
        latest = q.latest_windows(cur, name)
        firing = q.firing_alerts(cur, name)
        alerts = _alerts_text(firing)
        if not latest:
            rows.append(
                IndexRow(
                    name,
                    overview_page(name),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    _performance_verdict(cur, config, None)[0],
                    None,
                    alerts,
                    firing,
                )
            )
            continue
        for s in latest:
            verdict, verdict_status = _performance_verdict(cur, config, s)
            firing = q.firing_alerts(cur, name, s.model_version)
            rows.append(
                IndexRow(
                    monitor=name,
                    href=overview_page(name),
                    model_version=s.model_version,
                    window=_window_label(s.window_start, s.window_end),
                    window_href=window_page(name, s.model_version, s.segment, s.window_start),
                    status=s.status,
                    features_drift=s.features_drift,
                    # the inputs only, like the drifting count: the stored total counts the model outputs too
                    features=s.features
                    - sum(
                        1
                        for f in q.window_features(cur, name, s.model_version, s.segment, s.window_start)
                        if f.feature in OUTPUT_FEATURES
                    ),
                    performance=verdict,
                    performance_status=verdict_status,
                    alerts=_alerts_text(firing),
                    alerts_firing=firing,
                )
            )
    page = Page(
        title="driftwatch reports",
        provenance=Provenance(_now(now), (("database", str(db.path)), ("config", str(settings.config_path)))),
    )
    pairs = [
        monitor_pair_links(cur, settings.monitors[n], INDEX_PAGE, True) for n in sorted(settings.monitors)
    ]
    return IndexContext(
        page=page,
        rows=tuple(rows),
        versions=tuple(link for links, _ in pairs for link in links),
        versions_notes=tuple(note for _, notes in pairs for note in notes),
    )


def _alerts_text(firing: int | None) -> str:
    if firing is None:
        return "no alert state stored (alerting not set up)"
    return f"{firing} firing" if firing else "none firing"


def _performance_note(config: MonitorConfig, points: Sequence[q.PerformancePoint] | None) -> str | None:
    """Why there is no performance to show, or None when there is."""
    if config.task is None:
        return "Performance is not configured for this monitor (no `task:` in its config)."
    if points is None:
        return "Performance results are not stored in this database yet."
    if not points:
        return "No labels yet: no window has performance results."
    return None


def _performance_verdict(
    cur: duckdb.DuckDBPyConnection, config: MonitorConfig, latest: q.WindowSummary | None
) -> tuple[str, str | None]:
    """The index's performance cell for a monitor's latest window: (text, status or None)."""
    if latest is None:
        return _performance_note(config, q.performance_points(cur, config.name)) or "—", None
    points = q.performance_points(cur, config.name, latest.model_version, q.OVERALL, latest.window_start)
    if config.task is None or points is None:
        return _performance_note(config, points) or "—", None
    if not points:
        return "No labels yet for the latest window.", None
    judged = [p for p in points if p.metric in config.performance.metrics] or [
        p for p in points if not p.metric.startswith("estimated_")
    ]
    if not judged:
        return "No realized metrics for the latest window.", None
    worst = max(judged, key=lambda p: _PERFORMANCE_SEVERITY.get(p.status, 0))
    if worst.status == "insufficient_labels":
        return f"{worst.n_labels:,} of {worst.n_predictions:,} predictions labelled so far", worst.status
    text = f"{worst.metric} {format_number(worst.value)}"
    if worst.baseline is not None:
        text += f" (baseline {format_number(worst.baseline)})"
    return text, worst.status


# --- overview -------------------------------------------------------------------------------------------------


def overview_context(
    cur: duckdb.DuckDBPyConnection, config: MonitorConfig, now: datetime | None = None
) -> OverviewContext:
    name = config.name
    path = overview_page(name)
    summaries = q.window_summaries(cur, name)
    series = q.feature_series(cur, name)
    perf = q.performance_points(cur, name)
    thresholds = config.drift
    groups = sorted(
        {(s.model_version, s.segment) for s in summaries}, key=lambda g: (g[0], g[1] != q.OVERALL, g[1])
    )
    feature_names = sorted({p.feature for p in series})
    feature_ids = {f: f"trend-{i}" for i, f in enumerate(feature_names)}
    # One pass to bucket rows by group (and feature), so a long history is not rescanned per chart.
    summaries_by_group: dict[tuple[str, str], list[q.WindowSummary]] = {}
    for s in summaries:
        summaries_by_group.setdefault((s.model_version, s.segment), []).append(s)
    points_by_feature: dict[tuple[str, str, str], list[q.FeaturePoint]] = {}
    for p in series:
        points_by_feature.setdefault((p.model_version, p.segment, p.feature), []).append(p)
    perf_by_group: dict[tuple[str, str], list[q.PerformancePoint]] = {}
    for pp in perf or []:
        perf_by_group.setdefault((pp.model_version, pp.segment), []).append(pp)
    figures: dict[str, dict[str, object]] = {}
    for version, segment in groups:
        figs: dict[str, object] = {
            "drift-share": charts.drift_share_trend(
                [
                    charts.SharePoint(s.window_start, s.status, s.drift_share, s.features_drift, s.features)
                    for s in summaries_by_group[(version, segment)]
                ],
                thresholds,
            )
        }
        for feature in feature_names:
            mine = points_by_feature.get((version, segment, feature))
            if not mine:
                continue
            kind = mine[0].kind
            figs[feature_ids[feature]] = charts.feature_trend(
                feature,
                kind,
                [
                    charts.TrendPoint(
                        p.window_start,
                        p.status,
                        p.psi,
                        p.ks_statistic if kind == "numeric" else p.js_distance,
                    )
                    for p in mine
                ],
                thresholds,
            )
        perf_series = _performance_series(config, perf_by_group.get((version, segment), []))
        if perf_series:
            figs["performance"] = charts.performance_trend(perf_series)
        figures[group_key(version, segment)] = figs
    performance_note = _performance_note(config, perf)
    state, history, alerts_note = _alert_tables(cur, name)
    windows = tuple(
        WindowLink(
            group=group_key(s.model_version, s.segment),
            label=_window_label(s.window_start, s.window_end),
            href=relative_url(path, window_page(name, s.model_version, s.segment, s.window_start)),
            status=s.status,
            rows=s.rows,
            features_drift=s.features_drift,
            features_warn=s.features_warn,
            drift_share=format_number(s.drift_share, 3),
        )
        for s in sorted(summaries, key=lambda s: s.window_start, reverse=True)
    )
    not_judged = _not_judged_notes(summaries, config.drift.min_rows)
    versions, versions_notes = monitor_pair_links(cur, config, path)  # reports/versions.py
    profile = q.current_profile_info(cur, name)
    runs = sorted({s.run_id for s in summaries})
    latest_run = max(summaries, key=lambda s: s.computed_at).run_id if summaries else "—"
    items: list[tuple[str, str]] = [("monitor", name)]
    items.append(
        (
            "reference profile",
            f"{profile.profile_id} ({profile.path}, {profile.rows:,} rows)" if profile else "none yet",
        )
    )
    items += registry_items(cur, config)  # an mlflow:// reference: its version now and its changes
    if summaries:
        items.append(
            (
                "windows",
                f"{len(summaries)} ({format_utc(min(s.window_start for s in summaries))} – {format_utc(max(s.window_end for s in summaries))})",
            )
        )
    items.append(("latest run id", f"{latest_run} (of {len(runs)} runs)" if summaries else "—"))
    page = Page(
        title=f"{name}: drift overview",
        provenance=Provenance(_now(now), tuple(items)),
        breadcrumbs=(Link("all monitors", relative_url(path, INDEX_PAGE)), Link(name, "#")),
        plotly=_plotly_for(path),
        figures=figures,
    )
    return OverviewContext(
        page=page,
        monitor=name,
        groups=tuple(GroupOption(group_key(v, s), f"{v} · {_segment_label(s)}") for v, s in groups),
        default_group=group_key(*groups[0]) if groups else "",
        drift_share_chart=ChartSlot("drift-share", "dataset drift share per window"),
        feature_charts=tuple(
            ChartSlot(feature_ids[f], f"{f}: PSI and KS D / JS distance per window") for f in feature_names
        ),
        performance_chart=ChartSlot("performance", "performance and label coverage per window")
        if perf
        else None,
        performance_note=Note(performance_note) if performance_note else None,
        alerts_state=state,
        alerts_history=history,
        alerts_note=Note(alerts_note) if alerts_note else None,
        windows=windows,
        not_judged=not_judged,
        versions=versions,
        versions_notes=versions_notes,
        cycle_quality=cycle_quality_section(cur, name),
    )


def _not_judged_notes(summaries: Sequence[q.WindowSummary], min_rows: int) -> tuple[GroupNote, ...]:
    """Per group, how many windows have no drift verdict: "no drift" and "not judged" must not look alike."""
    counts: dict[str, list[int]] = {}
    for s in summaries:
        total_unjudged = counts.setdefault(group_key(s.model_version, s.segment), [0, 0])
        total_unjudged[0] += 1
        total_unjudged[1] += s.status == "insufficient_data"
    return tuple(
        GroupNote(
            key,
            f"Not judged: {unjudged} of {total} window{'s' if total > 1 else ''} "
            f"(fewer than min_rows {min_rows:,} rows) have no drift verdict, which is not the same as no drift.",
        )
        for key, (total, unjudged) in counts.items()
        if unjudged
    )


def _performance_series(
    config: MonitorConfig, points: Sequence[q.PerformancePoint]
) -> dict[str, list[charts.MetricPoint]]:
    judged = set(config.performance.metrics)
    shown = {p.metric for p in points if p.metric in judged or p.metric.removeprefix("estimated_") in judged}
    if not shown:
        shown = {p.metric for p in points}
    out: dict[str, list[charts.MetricPoint]] = {}
    for p in points:
        if p.metric in shown:
            out.setdefault(p.metric, []).append(
                charts.MetricPoint(
                    p.window_start, p.value, p.low, p.high, p.baseline, p.coverage, p.n_labels, p.status
                )
            )
    return dict(sorted(out.items(), key=lambda kv: (kv[0].startswith("estimated_"), kv[0])))


def _alert_tables(
    cur: duckdb.DuckDBPyConnection, monitor: str
) -> tuple[Table | None, Table | None, str | None]:
    state = q.alert_rows(cur, q.ALERT_STATE_TABLE, monitor)
    history_name = q.alert_history_table(cur)
    history = q.alert_rows(cur, history_name, monitor) if history_name else None
    if state is None and history is None:
        return None, None, "Alerting is not set up: no alert state is stored in this database."
    tables = [None if t is None or not t.rows else _text_table(t) for t in (state, history)]
    note = None if any(tables) else "No alerts for this monitor."
    return tables[0], tables[1], note


def _text_table(table: q.AlertTable) -> Table:
    def text(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            return format_utc(value)
        if isinstance(value, float):
            return format_number(value)
        return str(value)

    return Table(table.columns, tuple(tuple(text(v) for v in row) for row in table.rows))


# --- window report --------------------------------------------------------------------------------------------


def window_context(
    cur: duckdb.DuckDBPyConnection,
    config: MonitorConfig,
    summary: q.WindowSummary,
    group: Sequence[q.WindowSummary],
    profiles: dict[tuple[str, str], ReferenceProfile] | None = None,
    now: datetime | None = None,
    handed: Mapping[str, WindowEcdf] | None = None,
    reference_steps: ReferenceSteps | None = None,
) -> WindowContext:
    """Everything one window page shows; `group` is the window's version × segment series (for prev/next).

    `handed` is the statistics' chart data per numeric feature (:data:`ComputedCharts`); features missing
    from it are fetched. `reference_steps` caches the reference ECDFs across pages (one per profile feature).
    """
    name = config.name
    profiles = profiles if profiles is not None else {}
    reference_steps = reference_steps if reference_steps is not None else {}
    handed = handed or {}
    path = window_page(name, summary.model_version, summary.segment, summary.window_start)
    features = q.window_features(cur, name, summary.model_version, summary.segment, summary.window_start)
    profile_ids = sorted({f.profile_id for f in features})
    for pid in profile_ids:
        if (name, pid) not in profiles:
            try:
                profiles[(name, pid)] = load_profile(cur, name, pid)
            except KeyError:
                pass  # the profile was replaced and removed since: the page shows the window's side only
    # Only what the statistics did not hand over is fetched: nothing, right after the cycle that computed it.
    numeric = tuple(f.feature for f in features if f.kind == "numeric" and f.feature not in handed)
    values = q.window_values(
        cur, name, summary.model_version, summary.segment, summary.window_start, summary.window_end, numeric
    )
    figures: dict[str, object] = {}
    rows = []
    columns = tuple(c for c in STATISTIC_COLUMNS if any(c in f.stats for f in features))
    for i, f in enumerate(features):
        anchor = f"feature-{i}"
        profile = profiles.get((name, f.profile_id))
        feature_profile = profile.features.get(f.feature) if profile else None
        slots, note = _distribution_charts(
            anchor,
            f.feature,
            f.kind,
            f.counts,
            f.stats.get("ks_statistic"),
            feature_profile,
            _window_ecdf(feature_profile, handed.get(f.feature), values, f.feature),
            _reference_steps(reference_steps, (name, f.profile_id, f.feature), feature_profile),
            figures,
        )
        rows.append(
            FeatureRow(
                anchor=anchor,
                name=f.feature,
                kind=f"{f.kind}, model output" if f.feature in OUTPUT_FEATURES else f.kind,
                status=f.status,
                reason=f.reason,
                cells=(Cell(format_number(f.rows), str(f.rows)),)
                + tuple(_cell(f.stats.get(c)) for c in columns),
                charts=slots,
                note=note,
            )
        )
    perf = q.performance_points(cur, name, summary.model_version, summary.segment, summary.window_start)
    perf_note = (
        _performance_note(config, perf)
        if config.task is None or perf is None
        else (None if perf else "No labels yet for this window.")
    )
    perf_table = (
        Table(
            ("metric", "value", "interval", "baseline", "labels", "coverage", "status", "reason"),
            tuple(
                (
                    p.metric,
                    format_number(p.value),
                    "—"
                    if p.low is None or p.high is None
                    else f"{format_number(p.low)} – {format_number(p.high)}",
                    format_number(p.baseline),
                    # a CBPE estimate uses the window's scores and no label: its row shares the window's
                    # label count in storage, which would read as if the estimate had used them
                    "none used" if _estimated(p.metric) else f"{p.n_labels:,} of {p.n_predictions:,}",
                    "—" if p.coverage is None or _estimated(p.metric) else f"{p.coverage:.1%}",
                    p.status,
                    p.reason,
                )
                for p in perf
            ),
        )
        if perf
        else None
    )
    position = [s.window_start for s in group].index(summary.window_start)
    prev_s = group[position - 1] if position > 0 else None
    next_s = group[position + 1] if position + 1 < len(group) else None
    run = q.run_info(cur, summary.run_id)
    info = q.profile_info(cur, name, profile_ids[0]) if profile_ids else None
    items: list[tuple[str, str]] = [
        ("monitor", name),
        ("model version", summary.model_version),
        ("segment", _segment_label(summary.segment)),
        ("window", _window_label(summary.window_start, summary.window_end)),
        (
            "reference profile",
            ", ".join(profile_ids) + (f" ({info.path}, {info.rows:,} rows)" if info else "")
            if profile_ids
            else "—",
        ),
        (
            "run id",
            summary.run_id + (f" ({run.trigger}, started {format_utc(run.started_at)})" if run else ""),
        ),
        ("computed", format_utc(summary.computed_at)),
    ]
    overview = (
        relative_url(path, overview_page(name)) + "#g=" + group_key(summary.model_version, summary.segment)
    )
    page = Page(
        title=f"{name} · {summary.model_version} · {_segment_label(summary.segment)} · {summary.window_start:%Y-%m-%d %H:%M}",
        provenance=Provenance(_now(now), tuple(items)),
        breadcrumbs=(
            Link("all monitors", relative_url(path, INDEX_PAGE)),
            Link(name, overview),
            Link(f"{summary.model_version} · {_segment_label(summary.segment)}", overview),
        ),
        plotly=_plotly_for(path),
        figures=figures,
    )
    return WindowContext(
        page=page,
        monitor=name,
        model_version=summary.model_version,
        segment=_segment_label(summary.segment),
        window=_window_label(summary.window_start, summary.window_end),
        status=summary.status,
        rows=summary.rows,
        drift_share=format_number(summary.drift_share, 3),
        # Counted from the rows the page lists, so the line above the table and the table agree: the
        # inputs (which make the drift share) apart from the model outputs (which never count in it).
        features_drift=sum(1 for f in features if f.feature not in OUTPUT_FEATURES and f.status == "drift"),
        features_warn=sum(1 for f in features if f.feature not in OUTPUT_FEATURES and f.status == "warn"),
        features_inputs=sum(1 for f in features if f.feature not in OUTPUT_FEATURES),
        outputs_moved=", ".join(
            f"{f.feature} {f.status}"
            for f in features
            if f.feature in OUTPUT_FEATURES and f.status in ("warn", "drift")
        ),
        table=FeatureTable(feature_columns(columns), tuple(rows)),
        performance=perf_table,
        performance_note=Note(perf_note) if perf_note else None,
        quality=quality_section(cur, name, summary.model_version, summary.segment, summary.window_start),
        previous=_link(path, name, prev_s, "previous window"),
        next=_link(path, name, next_s, "next window"),
        overview=Link(f"{name} overview", overview),
        not_judged=(
            f"Not judged: {summary.rows:,} rows, fewer than min_rows ({config.drift.min_rows:,}). This window "
            "has no drift verdict, which is not the same as no drift."
            if summary.status == "insufficient_data"
            else ""
        ),
        multivariate=multivariate_table(
            cur, name, summary.model_version, summary.segment, summary.window_start
        ),
    )


def _estimated(metric: str) -> bool:
    return metric.startswith("estimated_")


def feature_columns(statistics: Sequence[str]) -> tuple[Column, ...]:
    """Headers of the feature table: rows, then the statistics present (short label, full name as tooltip)."""
    return (Column("rows", "rows in the window"),) + tuple(
        Column(STATISTIC_COLUMNS.get(s, s), s) for s in statistics
    )


def _link(path: str, monitor: str, s: q.WindowSummary | None, label: str) -> Link | None:
    if s is None:
        return None
    target = window_page(monitor, s.model_version, s.segment, s.window_start)
    return Link(f"{label} ({s.window_start:%Y-%m-%d %H:%M})", relative_url(path, target))


def _cell(value: float | None) -> Cell:
    if value is None or not np.isfinite(value):
        return Cell("—", "")
    return Cell(format_number(value), repr(float(value)))


def _reference_steps(
    cache: ReferenceSteps,
    key: tuple[str, str, str],
    profile: NumericProfile | CategoricalProfile | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    if not isinstance(profile, NumericProfile):
        return None
    if key not in cache:
        cache[key] = charts.ecdf_points(profile.sorted_values)
    return cache[key]


def _window_ecdf(
    profile: NumericProfile | CategoricalProfile | None,
    handed: WindowEcdf | None,
    values: Mapping[str, np.ndarray] | None,
    feature: str,
) -> WindowEcdf | None:
    """The window's ECDF chart data: as the statistics handed it over, else from its fetched values."""
    if handed is not None:
        return handed
    column = None if values is None else values.get(feature)
    if column is None or not isinstance(profile, NumericProfile):
        return None
    return window_ecdf(profile.sorted_values, sorted_valid(column), None)


def _distribution_charts(
    anchor: str,
    name: str,
    kind: str,
    counts: Sequence[int] | None,
    ks_statistic: float | None,
    profile: NumericProfile | CategoricalProfile | None,
    window: WindowEcdf | None,
    reference_steps: tuple[np.ndarray, np.ndarray] | None,
    figures: dict[str, object],
) -> tuple[tuple[ChartSlot, ...], str]:
    """The feature's charts (added to `figures`) and a note on anything that could not be drawn."""
    slots: list[ChartSlot] = []
    notes: list[str] = []
    if counts is None:
        return (), "No bin counts are stored for this feature in this window."
    if isinstance(profile, NumericProfile) and kind == "numeric":
        if len(profile.bin_counts) == len(counts):
            labels = charts.numeric_bin_labels([float(e) for e in profile.edges])
            figures[f"{anchor}-bins"] = charts.shares_chart(
                labels, profile.bin_counts.tolist(), counts, f"{name}: shares per PSI bin"
            )
            slots.append(ChartSlot(f"{anchor}-bins", f"{name}: reference and current shares per PSI bin"))
        if window is not None and reference_steps is not None:
            figures[f"{anchor}-ecdf"] = charts.ecdf_figure(
                reference_steps, window, f"{name}: ECDF", ks_statistic
            )
            slots.append(
                ChartSlot(f"{anchor}-ecdf", f"{name}: reference and current ECDF with the KS distance")
            )
        else:
            notes.append("The window's values are no longer stored, so the ECDF cannot be drawn.")
    elif (
        isinstance(profile, CategoricalProfile)
        and kind == "categorical"
        and len(profile.bin_counts) == len(counts)
    ):
        labels, ref, cur = charts.categorical_labels_and_counts(
            profile.categories, profile.bin_counts.tolist(), counts
        )
        figures[f"{anchor}-bins"] = charts.shares_chart(labels, ref, cur, f"{name}: category shares")
        slots.append(ChartSlot(f"{anchor}-bins", f"{name}: reference and current category shares"))
    else:
        notes.append("The reference profile these results were computed against is no longer stored.")
    return tuple(slots), " ".join(notes)
