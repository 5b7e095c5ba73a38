"""What `driftwatch run` (and `demo`) print after a monitor's cycle: ingest, profile, windows, drift, alerts."""

from __future__ import annotations

from typing import Any

from driftwatch.cli.console import escape, out


def judged_windows(summary: Any) -> tuple[int, int]:
    """(judged, not judged) among the run's computed windows (overall segment): a window whose every feature
    is insufficient_data has no verdict, which must not read as "no drift"."""
    not_judged = sum(1 for w in summary.windows if w.overall.decision.status == "insufficient_data")
    return len(summary.windows) - not_judged, not_judged


def print_summary(summary: Any, min_rows: int | None = None) -> None:
    out.print(
        f"[bold]{escape(summary.monitor)}[/] run {summary.run_id[:8]} in {summary.seconds:.1f}s",
        highlight=False,
    )
    note = getattr(summary, "status_note", None)
    if note:  # a degraded run: what it could not read, before the detail lines
        out.print(f"  [bold red]{escape(note)}[/]", highlight=False)
    _print_ingest(summary)
    if getattr(summary, "registry_change", None):  # an mlflow:// reference named another version
        out.print(f"  registry reference: {escape(summary.registry_change)}", highlight=False)
    if summary.profile_rebuilt:
        _print_profile(summary)
    judged, not_judged = judged_windows(summary)
    _print_windows(summary.windows_computed, judged, not_judged, min_rows)
    _print_performance(summary)
    _print_drifting(summary.drifting_features(), judged, not_judged)
    _print_retention(getattr(summary, "retention", None))
    _print_quality(getattr(summary, "quality", None))
    _print_multivariate(getattr(summary, "multivariate", None))
    alerts = getattr(summary, "alerts", None)
    if alerts is not None:
        out.print(
            f"  alerts: {alerts.firing} firing; {alerts.enqueued} notification(s) enqueued, "
            f"{alerts.suppressed} silenced",
            highlight=False,
        )


def _print_ingest(summary: Any) -> None:
    ing = summary.ingest
    out.print(
        f"  ingested {ing.rows_inserted:,} rows from {ing.files_read} new file(s) "
        f"({ing.files_seen} seen); {ing.rows_duplicate:,} duplicate(s) skipped; "
        f"{ing.rows_quarantined:,} row(s) quarantined",
        highlight=False,
    )
    for path, reason in ing.failed_files:
        out.print(f"  [red]unreadable file[/] {escape(path)}: {escape(reason)}", highlight=False)
    for warning in getattr(summary, "warnings", []):
        out.print(f"  [bold yellow]warning:[/] {escape(warning)}", highlight=False)


def _print_profile(summary: Any) -> None:
    watched = f" and the model output ({', '.join(summary.outputs)})" if summary.outputs else ""
    out.print(
        f"  reference profile built for {len(summary.features)} feature(s){escape(watched)}", highlight=False
    )
    excluded = getattr(summary, "excluded", ())
    if excluded:
        listed = ", ".join(str(e) for e in excluded)
        out.print(f"  excluded from the features: {escape(listed)}", highlight=False)
    for name, note in getattr(summary, "capped", ()):
        out.print(f"  {escape(name)}: {escape(note)}", highlight=False)


def _print_windows(computed: int, judged: int, not_judged: int, min_rows: int | None) -> None:
    split = f" ({judged} judged, {not_judged} not judged)" if not_judged else ""
    out.print(f"  windows computed: {computed}{split}", highlight=False)
    if not_judged:
        rows = f"fewer than min_rows ({min_rows}) rows" if min_rows is not None else "too few rows"
        out.print(
            f"  [bold yellow]not judged:[/] {not_judged} window{'s' if not_judged > 1 else ''} with {rows}: "
            "no drift verdict (lower min_rows or widen the window)",
            highlight=False,
        )


def _print_drifting(drifting: dict[str, int], judged: int, not_judged: int) -> None:
    if drifting:
        listed = ", ".join(
            f"{escape(name)} ({count} window{'s' if count > 1 else ''})"
            for name, count in sorted(drifting.items())
        )
        out.print(f"  [bold yellow]features drifting:[/] {listed}", highlight=False)
    elif judged:
        out.print(
            f"  no feature drifting in the {judged} judged window{'s' if judged > 1 else ''}", highlight=False
        )
    elif not_judged:
        out.print("  no window could be judged: drift unknown, not absent", highlight=False)


def _print_performance(summary: Any) -> None:
    lab, perf = summary.labels, summary.performance
    if perf is None:
        return
    out.print(
        f"  labels: {lab.labels_new:,} new, {lab.labels_replaced:,} corrected from {lab.files_read} new file(s); "
        f"{lab.rows_quarantined:,} row(s) quarantined; {lab.without_prediction:,} labels without a prediction",
        highlight=False,
    )
    for path, reason in lab.failed_files:
        out.print(f"  [red]unreadable label file[/] {escape(path)}: {escape(reason)}", highlight=False)
    degraded = ""
    if perf.degraded:
        shown = ", ".join(f"{escape(metric)} {start[:10]}" for start, _seg, metric in perf.degraded[:5])
        more = f" and {len(perf.degraded) - 5} more" if len(perf.degraded) > 5 else ""
        degraded = f"; [bold red]degraded:[/] {shown}{more}"
    out.print(
        f"  performance: {perf.windows_computed} window(s) computed; {perf.insufficient} judged metric(s) with "
        f"insufficient labels{degraded}",
        highlight=False,
    )
    if perf.note:
        out.print(f"  performance note: {escape(perf.note)}", highlight=False)


def _print_retention(ret: Any) -> None:
    """One line when retention deleted something (or dropped late windows); nothing when it is off."""
    if ret is None or not (ret.rows_expired or ret.late_windows_dropped):
        return
    oldest = f"; oldest prediction kept {ret.oldest_kept:%Y-%m-%d %H:%M} UTC" if ret.oldest_kept else ""
    late = (
        f"; [bold yellow]{ret.late_windows_dropped} queued window(s) already expired were not computed[/]"
        if ret.late_windows_dropped
        else ""
    )
    out.print(
        f"  retention: {ret.rows_expired:,} row(s) expired ({ret.predictions_expired:,} predictions, "
        f"{ret.quarantine_expired:,} quarantined, {ret.labels_expired:,} labels){oldest}{late}",
        highlight=False,
    )


def _print_quality(quality: Any) -> None:
    """How many data-quality checks failed (docs/quality.md), naming the most frequent; nothing when none ran."""
    if quality is None or not quality.checked:
        return
    failing = quality.failing()
    named = ", ".join(
        f"{check}{f' on {escape(feature)}' if feature else ''} ({n}×)" for (check, feature), n in failing[:3]
    )
    more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
    colour = "bold red" if quality.failed else "bold yellow" if quality.warned else "green"
    out.print(
        f"  data quality: [{colour}]{quality.failed} check(s) failed[/], {quality.warned} warned of "
        f"{quality.checked}{': ' + named + more if named else ''}",
        highlight=False,
    )


def _print_multivariate(mv: Any) -> None:
    """One line when the monitor's `multivariate:` is on and windows were judged: how many drift, and which."""
    if mv is None or not mv.windows:
        return
    shown = ", ".join(f"{start:%Y-%m-%d}" for start in mv.drifted_windows[:8])
    more = f" and {len(mv.drifted_windows) - 8} more" if len(mv.drifted_windows) > 8 else ""
    which = f" ({shown}{more})" if shown else ""
    out.print(
        f"  multivariate: {mv.drifted} of {mv.windows} window(s) at drift{which}; features judged together",
        highlight=False,
    )
