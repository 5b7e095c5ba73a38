"""The comparison report: one self-contained HTML page (plotly.js inlined) for `driftwatch compare --html`.

The page works offline and from any folder, so it can be attached to a CI run. The statistics come from the
comparison result; the distributions need the data itself (the result keeps only the current side's bin
counts), so the caller passes the two frames it compared when it has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from driftwatch.reports import charts
from driftwatch.reports.contexts import (
    Cell,
    ChartSlot,
    ComparisonContext,
    FeatureRow,
    FeatureTable,
    Page,
    Plotly,
    Provenance,
)
from driftwatch.reports.render import format_number, format_utc, plotly_js, render_template, write_atomic
from driftwatch.reports.site import feature_columns
from driftwatch.stats.decision import Thresholds, WindowDecision
from driftwatch.stats.feature_drift import FeatureDrift
from driftwatch.stats.profile import categorical_profile, numeric_profile


class ComparisonResult(Protocol):
    """What the report reads from `driftwatch.comparison.CompareResult` (that module sits a layer above)."""

    @property
    def features(self) -> Sequence[FeatureDrift]: ...

    @property
    def decision(self) -> WindowDecision: ...

    @property
    def rows_reference(self) -> int: ...

    @property
    def rows_current(self) -> int: ...


_STATISTICS = (
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "pvalue_adjusted",
    "chi2_statistic",
    "chi2_pvalue",
    "js_distance",
    "hellinger",
    "wasserstein_norm",
    "missing_share_reference",
    "missing_share_current",
    "unseen_share",
)


def render_comparison(
    result: ComparisonResult,
    reference_label: str,
    current_label: str,
    *,
    reference: pl.DataFrame | None = None,
    current: pl.DataFrame | None = None,
    bins: int = 10,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> str:
    """One standalone HTML page for a comparison.

    `reference`/`current` (the frames that were compared, with the same `bins`) add the distribution charts:
    PSI-bin or category shares and, for numeric features, both ECDFs with the KS distance marked. Without
    them the page shows the statistics, the verdict and a PSI summary chart.
    """
    thresholds = thresholds or Thresholds()
    decisions = {d.name: d for d in result.decision.features}
    stats_by_feature: list[dict[str, float | None]] = []
    for fs in result.features:
        values: dict[str, float | None] = {k: _finite(v) for k, v in fs.stats.items()}
        decision = decisions.get(fs.name)
        if decision is not None and decision.pvalue_adjusted is not None:
            values["pvalue_adjusted"] = _finite(decision.pvalue_adjusted)
        stats_by_feature.append(values)
    columns = tuple(c for c in _STATISTICS if any(c in s for s in stats_by_feature))
    figures: dict[str, object] = {}
    rows = []
    for i, (fs, values) in enumerate(zip(result.features, stats_by_feature, strict=True)):
        anchor = f"feature-{i}"
        decision = decisions.get(fs.name)
        slots = _distributions(anchor, fs, reference, current, bins, figures)
        rows.append(
            FeatureRow(
                anchor=anchor,
                name=fs.name,
                kind=f"{fs.kind}, model output" if fs.role == "output" else fs.kind,
                status=decision.status if decision else "—",
                reason=decision.reason if decision else "",
                cells=(Cell(format_number(fs.rows), str(fs.rows)),)
                + tuple(_cell(values.get(c)) for c in columns),
                charts=slots,
                note=""
                if slots
                else "Distributions are drawn when the compared data is passed to the report.",
            )
        )
    statuses = [decisions[f.name].status if f.name in decisions else "" for f in result.features]
    figures["summary"] = charts.statistics_chart(
        [f.name for f in result.features],
        [_finite(f.stats.get("psi")) for f in result.features],
        statuses,
        thresholds,
    )
    page = Page(
        title=f"Comparison: {current_label} vs {reference_label}",
        provenance=Provenance(
            format_utc(now or datetime.now(UTC)),
            (
                ("reference", f"{reference_label} ({result.rows_reference:,} rows)"),
                ("current", f"{current_label} ({result.rows_current:,} rows)"),
                ("features", str(len(result.features))),
            ),
        ),
        plotly=Plotly(inline=plotly_js()),
        figures=figures,
    )
    context = ComparisonContext(
        page=page,
        reference_label=reference_label,
        current_label=current_label,
        rows_reference=result.rows_reference,
        rows_current=result.rows_current,
        status=result.decision.status,
        reason=result.decision.reason,
        drift_share=format_number(_finite(result.decision.drift_share), 3),
        summary_chart=ChartSlot("summary", "PSI per feature with the warn and drift bars"),
        table=FeatureTable(feature_columns(columns), tuple(rows)),
        distributions_note=(
            "Bars: shares per PSI bin (numeric) or category, with the unseen and missing bins. Curves: both "
            f"ECDFs (at most {charts.ECDF_POINTS} steps each); the red segment marks the KS distance D."
        ),
    )
    return render_template("comparison.html", context)


def write_comparison(path: str | Path, html: str) -> Path:
    """Write a comparison page where the user asked (atomically: a CI job never reads half a file)."""
    target = Path(path)
    write_atomic(target, html)
    return target


def _distributions(
    anchor: str,
    fs: FeatureDrift,
    reference: pl.DataFrame | None,
    current: pl.DataFrame | None,
    bins: int,
    figures: dict[str, object],
) -> tuple[ChartSlot, ...]:
    if reference is None or fs.name not in reference.columns:
        return ()
    slots: list[ChartSlot] = []
    if fs.kind == "numeric":
        ref_values = _numeric(reference, fs.name)
        profile = numeric_profile(fs.name, ref_values, bins)
        if len(profile.bin_counts) == len(fs.bin_counts):
            labels = charts.numeric_bin_labels([float(e) for e in profile.edges])
            figures[f"{anchor}-bins"] = charts.shares_chart(
                labels, profile.bin_counts.tolist(), fs.bin_counts.tolist(), f"{fs.name}: shares per PSI bin"
            )
            slots.append(ChartSlot(f"{anchor}-bins", f"{fs.name}: reference and current shares per PSI bin"))
        if current is not None and fs.name in current.columns:
            figures[f"{anchor}-ecdf"] = charts.ecdf_chart(
                profile.sorted_values,
                _numeric(current, fs.name),
                f"{fs.name}: ECDF",
                _finite(fs.stats.get("ks_statistic")),
            )
            slots.append(
                ChartSlot(f"{anchor}-ecdf", f"{fs.name}: reference and current ECDF with the KS distance")
            )
    else:
        cat = categorical_profile(fs.name, _value_counts(reference, fs.name))
        if len(cat.bin_counts) == len(fs.bin_counts):
            labels, ref, cur = charts.categorical_labels_and_counts(
                cat.categories, cat.bin_counts.tolist(), fs.bin_counts.tolist()
            )
            figures[f"{anchor}-bins"] = charts.shares_chart(labels, ref, cur, f"{fs.name}: category shares")
            slots.append(ChartSlot(f"{anchor}-bins", f"{fs.name}: reference and current category shares"))
    return tuple(slots)


def _numeric(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64, strict=False).fill_null(np.nan).to_numpy()


def _value_counts(frame: pl.DataFrame, name: str) -> Mapping[str | None, int]:
    counts = frame.select(pl.col(name).cast(pl.String).value_counts(sort=False)).unnest(name)
    return {(None if v is None else str(v)): int(c) for v, c in counts.iter_rows()}


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def _cell(value: float | None) -> Cell:
    return Cell("—", "") if value is None else Cell(format_number(value), repr(value))
