"""Plotly figures for the reports, returned as plain JSON-ready dicts (`figure_dict`).

Pages embed every figure of a page in one JSON element and draw them with the plotly bundle, so the figures
carry no template (plotly's default one is ~7 KB per figure) and shared styling lives once in the page's
script. Large arrays go out as float32 typed arrays (plotly.py's base64 `bdata` encoding), which keeps a
20-feature window page far below its size budget.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from driftwatch.stats.decision import Thresholds

# ECDF_POINTS, KsLocation and ks_location live in stats.ks_location (the statistics compute D's point with D);
# re-exported for the report code and its tests.
from driftwatch.stats.ks_location import ECDF_POINTS as ECDF_POINTS
from driftwatch.stats.ks_location import KsLocation as KsLocation
from driftwatch.stats.ks_location import WindowEcdf, ecdf_steps, window_ecdf
from driftwatch.stats.ks_location import ks_location as ks_location
from driftwatch.stats.sorting import sorted_valid

STATUS_COLOURS: Mapping[str, str] = {
    "ok": "#2e7d32",
    "warn": "#ef6c00",
    "drift": "#c62828",
    "insufficient_data": "#9e9e9e",
    "insufficient_labels": "#9e9e9e",
    "degraded": "#c62828",
    "estimate": "#6a1b9a",
    "info": "#455a64",
}
REFERENCE_COLOUR = "#78909c"
CURRENT_COLOUR = "#1565c0"
WARN_LINE = "#ef6c00"
DRIFT_LINE = "#c62828"
MAX_CATEGORIES_SHOWN = 30


def figure_dict(fig: go.Figure) -> dict[str, Any]:
    """A plotly.py figure as JSON-ready data, without plotly.py's default template."""
    return _figure(fig.data, fig.layout.to_plotly_json())


def _figure(traces: Sequence[BaseTraceType], layout: Mapping[str, Any]) -> dict[str, Any]:
    """Validated traces and layout as JSON-ready data.

    Each trace and the layout pass plotly.py's validators (a misspelt property raises), but the figure is
    not assembled as a `go.Figure` and serialised by `fig.to_json()`: that validates everything a second
    time and deep-copies it, which was two thirds of a window page's render time (0.29 s → measured in
    docs/reports.md). Numeric arrays become plotly.js typed arrays (base64), as plotly.py would write them.
    """
    checked = go.Layout(layout).to_plotly_json()
    checked.pop("template", None)
    return {"data": [_typed(t.to_plotly_json()) for t in traces], "layout": _typed(checked)}


def _typed(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and value.ndim == 1:
            array = value.astype(np.float32 if value.dtype == np.float32 else np.float64)
            dtype = "f4" if array.dtype == np.float32 else "f8"
            return {"dtype": dtype, "bdata": base64.b64encode(array.astype("<" + dtype).tobytes()).decode()}
        return _typed(value.tolist())
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_typed(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def plot_text(text: str) -> str:
    """User text for a plotly label: plotly.js renders a subset of HTML (`<a href>`, `<b>`) in titles, ticks
    and hover labels, and decodes entities, so escaping shows the name literally and makes no link."""
    return html.escape(text, quote=False)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def _colours(statuses: Sequence[str]) -> list[str]:
    return [STATUS_COLOURS.get(s, "#455a64") for s in statuses]


def _threshold(y: float, colour: str, label: str, axis: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """A dashed horizontal threshold line across the plot and its label (a shape and an annotation).

    Built as plain layout entries: plotly.py's add_hline validates the whole figure per line, which made a
    page with a few dozen charts take seconds.
    """
    shape = {
        "type": "line",
        "xref": f"x{axis} domain",
        "x0": 0,
        "x1": 1,
        "yref": f"y{axis}",
        "y0": y,
        "y1": y,
        "line": {"color": colour, "dash": "dash", "width": 1},
    }
    note = {
        "xref": f"x{axis} domain",
        "x": 0,
        "xanchor": "left",
        "yref": f"y{axis}",
        "y": y,
        "yanchor": "bottom",
        "text": label,
        "showarrow": False,
        "font": {"size": 10, "color": colour},
    }
    return shape, note


def _thresholds(*lines: tuple[float, str, str, str]) -> dict[str, Any]:
    pairs = [_threshold(*line) for line in lines]
    return {"shapes": [p[0] for p in pairs], "annotations": [p[1] for p in pairs]}


def _two_rows(top: float = 0.54, bottom: float = 0.46) -> dict[str, Any]:
    """Two stacked plots sharing the time axis (what make_subplots builds, without its cost)."""
    return {
        "xaxis": {"anchor": "y", "matches": "x2", "showticklabels": False},
        "yaxis": {"domain": [top, 1.0], "anchor": "x"},
        "xaxis2": {"anchor": "y2"},
        "yaxis2": {"domain": [0.0, bottom], "anchor": "x2"},
    }


@dataclass(frozen=True)
class TrendPoint:
    window_start: datetime
    status: str
    psi: float | None
    second: float | None  # KS D (numeric) or JS distance (categorical)


def feature_trend(
    name: str, kind: str, points: Sequence[TrendPoint], thresholds: Thresholds
) -> dict[str, Any]:
    """PSI (top) and KS D or JS distance (bottom) per window, markers coloured by the feature's status."""
    second_label = "KS D" if kind == "numeric" else "JS distance"
    x = [_iso(p.window_start) for p in points]
    colours = _colours([p.status for p in points])
    status_text = [p.status for p in points]
    traces = [
        go.Scatter(
            x=x,
            y=values,
            xaxis=f"x{axis}",
            yaxis=f"y{axis}",
            mode="lines+markers",
            name=label,
            line={"color": "#546e7a", "width": 1},
            marker={"color": colours, "size": 7},
            text=status_text,
            hovertemplate=f"%{{x}}<br>{label} %{{y:.4g}}<br>%{{text}}<extra></extra>",
            showlegend=False,
        )
        for axis, label, values in (
            ("", "PSI", [p.psi for p in points]),
            ("2", second_label, [p.second for p in points]),
        )
    ]
    warn, drift = (
        (thresholds.ks_warn_effect, thresholds.ks_min_effect)
        if kind == "numeric"
        else (thresholds.js_warn_effect, thresholds.js_min_effect)
    )
    layout = _two_rows()
    layout["yaxis"].update(title={"text": "PSI"}, rangemode="tozero")
    layout["yaxis2"].update(title={"text": second_label}, rangemode="tozero")
    layout.update(
        _thresholds(
            (thresholds.psi_warn, WARN_LINE, f"warn {thresholds.psi_warn:g}", ""),
            (thresholds.psi_drift, DRIFT_LINE, f"drift {thresholds.psi_drift:g}", ""),
            (warn, WARN_LINE, f"warn {warn:g}", "2"),
            (drift, DRIFT_LINE, f"drift {drift:g}", "2"),
        ),
        height=320,
        title={"text": plot_text(name), "font": {"size": 13}},
    )
    return _figure(traces, layout)


@dataclass(frozen=True)
class SharePoint:
    window_start: datetime
    status: str
    drift_share: float | None
    features_drift: int
    features: int


def drift_share_trend(points: Sequence[SharePoint], thresholds: Thresholds) -> dict[str, Any]:
    """The dataset-level drift share per window, with the share at which the whole window is 'drift'."""
    trace = go.Scatter(
        x=[_iso(p.window_start) for p in points],
        y=[p.drift_share for p in points],
        mode="lines+markers",
        line={"color": "#546e7a", "width": 1},
        marker={"color": _colours([p.status for p in points]), "size": 8},
        # `features` counts the model outputs too, which never count in the share: name the inputs alone
        text=[f"{p.features_drift} input feature(s) drifting ({p.status})" for p in points],
        hovertemplate="%{x}<br>drift share %{y:.2f}<br>%{text}<extra></extra>",
        showlegend=False,
    )
    share = thresholds.dataset_drift_share
    layout = _thresholds((share, DRIFT_LINE, f"dataset drift {share:g}", ""))
    layout.update(yaxis={"title": {"text": "drift share"}, "range": [0, 1.05]}, height=260)
    return _figure([trace], layout)


@dataclass(frozen=True)
class MetricPoint:
    window_start: datetime
    value: float | None
    low: float | None
    high: float | None
    baseline: float | None
    coverage: float | None
    n_labels: int
    status: str


def performance_trend(series: Mapping[str, Sequence[MetricPoint]]) -> dict[str, Any]:
    """Realized metrics with their intervals and baselines (estimates dashed) above, label coverage below."""
    palette = ("#1565c0", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#f9a825")
    traces: list[BaseTraceType] = []
    coverage_drawn = False
    for i, (metric, points) in enumerate(series.items()):
        colour = palette[i % len(palette)]
        estimated = metric.startswith("estimated_")
        shown = plot_text(metric)
        x = [_iso(p.window_start) for p in points]
        error = {
            "type": "data",
            "symmetric": False,
            "array": [None if p.high is None or p.value is None else p.high - p.value for p in points],
            "arrayminus": [None if p.low is None or p.value is None else p.value - p.low for p in points],
            "color": colour,
            "thickness": 1,
            "width": 3,
        }
        traces.append(
            go.Scatter(
                x=x,
                y=[p.value for p in points],
                name=shown,
                mode="lines+markers",
                line={"color": colour, "dash": "dash" if estimated else "solid", "width": 1.5},
                marker={"color": _colours([p.status for p in points]), "size": 7},
                error_y=None if estimated else error,
                text=[f"{p.status}, {p.n_labels} labels" for p in points],
                hovertemplate=f"{shown} %{{y:.4g}}<br>%{{text}}<extra></extra>",
            )
        )
        baselines = [p.baseline for p in points]
        if not estimated and any(b is not None for b in baselines):
            traces.append(
                go.Scatter(
                    x=x,
                    y=baselines,
                    name=f"{shown} baseline",
                    mode="lines",
                    line={"color": colour, "dash": "dot", "width": 1},
                    hoverinfo="skip",
                )
            )
        if not estimated and not coverage_drawn:
            coverage_drawn = True
            traces.append(
                go.Bar(
                    x=x,
                    y=[p.coverage for p in points],
                    xaxis="x2",
                    yaxis="y2",
                    name="label coverage",
                    marker={"color": "#90a4ae"},
                    text=[f"{p.n_labels} labels" for p in points],
                    textposition="none",
                    hovertemplate="coverage %{y:.1%}<br>%{text}<extra></extra>",
                )
            )
    layout = _two_rows(top=0.4, bottom=0.3)
    layout["yaxis"].update(title={"text": "metric"})
    layout["yaxis2"].update(title={"text": "coverage"}, range=[0, 1], tickformat=".0%")
    layout.update(height=380)
    return _figure(traces, layout)


def shares_chart(
    labels: Sequence[str],
    reference_counts: Sequence[float] | None,
    current_counts: Sequence[float],
    title: str,
    reference_name: str = "reference",
    current_name: str = "current",
) -> dict[str, Any]:
    """Reference vs current shares per bin or category (PSI's layout, including the unseen/missing bins)."""
    current = np.asarray(current_counts, dtype=np.float64)
    labels = [plot_text(label) for label in labels]
    traces = []
    if reference_counts is not None:
        reference = np.asarray(reference_counts, dtype=np.float64)
        traces.append(
            go.Bar(
                x=list(labels),
                y=_round(_shares(reference), 5),
                name=reference_name,
                marker={"color": REFERENCE_COLOUR},
                hovertemplate="%{x}<br>%{y:.2%}<extra>" + "reference" + "</extra>",
            )
        )
    traces.append(
        go.Bar(
            x=list(labels),
            y=_round(_shares(current), 5),
            name=current_name,
            marker={"color": CURRENT_COLOUR},
            hovertemplate="%{x}<br>%{y:.2%}<extra>" + "current" + "</extra>",
        )
    )
    layout = {
        "barmode": "group",
        "height": 280,
        "title": {"text": plot_text(title), "font": {"size": 12}},
        "yaxis": {"tickformat": ".0%", "title": {"text": "share"}},
        "xaxis": {"type": "category"},
    }
    return _figure(traces, layout)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def _round(values: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]


def _edge(value: float) -> str:
    """A bin edge for a label: whole numbers with separators from 1,000 on (no 1.318e+04), else 4 digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 and np.isfinite(value) else f"{value:.4g}"


def numeric_bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of PSI bins: values go to bin `searchsorted(edges, x, side="right")`, so bins are [a, b)."""
    shown = [_edge(e) for e in edges]
    if not shown:
        return ["all values", "missing"]
    labels = [f"< {shown[0]}"]
    labels += [f"[{a}, {b})" for a, b in zip(shown[:-1], shown[1:], strict=True)]
    labels.append(f"≥ {shown[-1]}")
    labels.append("missing")
    return labels


def categorical_labels_and_counts(
    categories: Sequence[str], reference_counts: Sequence[int] | None, current_counts: Sequence[int]
) -> tuple[list[str], list[int] | None, list[int]]:
    """Category labels with the unseen and missing bins; beyond MAX_CATEGORIES_SHOWN the rarest reference
    categories are summed into one "other categories" bar so a 200-category feature stays readable."""
    ref = None if reference_counts is None else [int(c) for c in reference_counts]
    cur = [int(c) for c in current_counts]
    names = list(categories)
    if len(names) > MAX_CATEGORIES_SHOWN:
        keep = MAX_CATEGORIES_SHOWN - 1
        other = f"other categories ({len(names) - keep})"
        names = names[:keep] + [other]
        cur = cur[:keep] + [sum(cur[keep : len(categories)])] + cur[len(categories) :]
        if ref is not None:
            ref = ref[:keep] + [sum(ref[keep : len(categories)])] + ref[len(categories) :]
    # A category literally named "(unseen)" would be ambiguous with the bin; the bins' names carry a marker.
    return [*names, "⟨unseen⟩", "⟨missing⟩"], ref, cur


def ecdf_points(sorted_values: np.ndarray, max_points: int = ECDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` steps of the ECDF of ascending values: (x, F(x)) at evenly spaced probabilities.

    From the sorted array alone (:func:`driftwatch.stats.ks_location.ecdf_steps`): no `np.unique`."""
    return ecdf_steps(sorted_values, max_points)


def ecdf_chart(
    reference_sorted: np.ndarray, current_values: np.ndarray, title: str, ks_statistic: float | None
) -> dict[str, Any]:
    """Reference and current ECDFs of raw current values (`driftwatch compare`, a page rendered without
    the statistics at hand): sorts the window once and finds D's point by one KS merge."""
    window = window_ecdf(reference_sorted, sorted_valid(current_values), None)
    return ecdf_figure(ecdf_points(reference_sorted), window, title, ks_statistic)


def ecdf_figure(
    reference_steps: tuple[np.ndarray, np.ndarray], window: WindowEcdf, title: str, ks_statistic: float | None
) -> dict[str, Any]:
    """Reference and current ECDFs (each at most ECDF_POINTS steps) with the KS distance D marked.

    `reference_steps` is built once per profile feature; `window` comes with the window's statistics
    (`FeatureDrift.ecdf`), so drawing a window's chart neither fetches nor sorts its values.
    """
    where = window.location
    traces = []
    for name, (x, y), colour in (
        ("reference", reference_steps, REFERENCE_COLOUR),
        ("current", (window.x, window.y), CURRENT_COLOUR),
    ):
        if where is not None:
            # The exact point where D is reached, so the marker touches both downsampled curves.
            at = where.reference if name == "reference" else where.current
            pos = int(np.searchsorted(x, where.x))
            x, y = np.insert(x, pos, where.x), np.insert(y, pos, at)
        traces.append(
            go.Scatter(
                x=x.astype(np.float32),
                y=y.astype(np.float32),
                name=name,
                mode="lines",
                line={"shape": "hv", "color": colour, "width": 1.5},
                hovertemplate="x %{x:.4g}<br>F %{y:.3f}<extra>" + name + "</extra>",
            )
        )
    if where is not None:
        label = f"D = {ks_statistic:.3f}" if ks_statistic is not None else f"D = {where.distance:.3f}"
        traces.append(
            go.Scatter(
                x=[where.x, where.x],
                y=[where.reference, where.current],
                name=label,
                mode="lines+markers",
                line={"color": DRIFT_LINE, "width": 2},
                marker={"size": 5},
                hovertemplate=label + "<extra></extra>",
            )
        )
    layout = {
        "height": 280,
        "title": {"text": plot_text(title), "font": {"size": 12}},
        "yaxis": {"range": [0, 1.02], "title": {"text": "cumulative share"}},
    }
    return _figure(traces, layout)


def statistics_chart(
    names: Sequence[str], psi: Sequence[float | None], statuses: Sequence[str], thresholds: Thresholds
) -> dict[str, Any]:
    """PSI per feature as bars coloured by status, with the warn and drift bars (the comparison's summary)."""
    trace = go.Bar(
        x=[plot_text(n) for n in names],
        y=[None if v is None else round(v, 5) for v in psi],
        marker={"color": _colours(statuses)},
        text=list(statuses),
        textposition="none",
        hovertemplate="%{x}<br>PSI %{y:.4g}<br>%{text}<extra></extra>",
        showlegend=False,
    )
    layout = _thresholds(
        (thresholds.psi_warn, WARN_LINE, f"warn {thresholds.psi_warn:g}", ""),
        (thresholds.psi_drift, DRIFT_LINE, f"drift {thresholds.psi_drift:g}", ""),
    )
    layout.update(
        xaxis={"type": "category"}, yaxis={"title": {"text": "PSI"}, "rangemode": "tozero"}, height=300
    )
    return _figure([trace], layout)
