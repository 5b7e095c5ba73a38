"""`driftwatch results`: stored drift results (one row per window × feature) or, with --performance, the
model's performance per window × metric."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftwatch.cli.console import errors, escape, fail, out, print_json
from driftwatch.cli.options import (
    DEFAULT_CONFIG_NAME,
    ConfigOption,
    FormatOption,
    MonitorOption,
    check_format,
    load,
    open_database,
    read_hint,
)
from driftwatch.cli.tables import STATISTIC_COLUMNS, clean_json, fmt, json_default, statistic_cells

if TYPE_CHECKING:
    from driftwatch.config.settings import Settings
    from driftwatch.storage.database import Database


def results(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: MonitorOption = None,
    segment: Annotated[
        str, typer.Option(help="Segment: '*' for all rows, e.g. 'environment=prod-us-west1'.")
    ] = "*",
    feature: Annotated[str | None, typer.Option(help="Only this feature.")] = None,
    rollup: Annotated[
        str | None,
        typer.Option(
            help="Merge windows into periods, e.g. 7d: PSI, chi², JS, Hellinger, shares from stored counts."
        ),
    ] = None,
    fmt: FormatOption = "table",
    performance: Annotated[
        bool,
        typer.Option(
            "--performance",
            help="Model performance instead of drift: one row per window × metric (estimated_* rows are CBPE "
            "estimates, not measurements).",
        ),
    ] = False,
) -> None:
    """Show stored results: one row per window × feature with every statistic and its status."""
    check_format(fmt)
    if performance:
        _performance_results(config, monitor, segment, fmt)
        return
    with errors():
        settings = load(config, monitor)
        with open_database(settings, read_hint(settings, monitor, "results")) as db:
            rows = _drift_rows(db, settings, monitor, segment, feature, rollup)
    if fmt == "json":
        print_json(rows, default=json_default)
    else:
        _drift_table(rows, rollup is not None)


def _drift_rows(
    db: Database,
    settings: Settings,
    monitor: str | None,
    segment: str,
    feature: str | None,
    rollup: str | None,
) -> list[dict[str, Any]]:
    """The stored window results, or (with a roll-up width) the windows merged into periods."""
    from driftwatch.storage.results import feature_results

    if rollup is None:
        return feature_results(db.cursor(), monitor=monitor, segment=segment, feature=feature)
    from driftwatch.durations import parse_duration
    from driftwatch.pipeline.rollup import rollup_results

    rows: list[dict[str, Any]] = []
    try:
        width = parse_duration(rollup)
        for name in [monitor] if monitor else list(settings.monitors):
            rows += rollup_results(db, settings.monitor(name), width, segment)
    except ValueError as exc:
        fail(f"--rollup: {exc}")
    return [r for r in rows if r["feature"] == feature] if feature else rows


def _drift_table(rows: list[dict[str, Any]], rolled_up: bool) -> None:
    from rich.table import Table

    if not rows:
        out.print("no results stored yet: run `driftwatch run` first")
        return
    table = Table(show_lines=False)
    head = ["window_start", "model_version", "feature", *(["windows"] if rolled_up else []), "rows"]
    cols = [*head, *STATISTIC_COLUMNS, "missing", "status"]
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*[escape(cell) for cell in statistic_cells(row, cols)])
    out.print(table)


def _performance_results(config: Path, monitor: str | None, segment: str, fmt: str) -> None:
    from driftwatch.storage.performance_results import performance_results

    with errors():
        settings = load(config, monitor)
        with open_database(settings, read_hint(settings, monitor, "performance")) as db:
            rows = performance_results(db.cursor(), monitor=monitor, segment=segment)
    if fmt == "json":
        print_json(clean_json(rows), default=json_default)
    else:
        _performance_table(rows)


_STATUS_STYLES = {"degraded": "bold red", "insufficient_labels": "yellow", "estimate": "cyan"}


def _performance_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        out.print("no performance results stored yet: configure `task` and `labels`, then `driftwatch run`")
        return
    table = Table(show_lines=False)
    cols = ["window", "version", "metric", "value", "interval", "n_labels", "coverage", "delay days p50/p90"]
    for col in [*cols, "baseline", "status", "reason"]:
        table.add_column(col)
    for row in rows:
        table.add_row(*_performance_cells(row))
    out.print(table)


def _performance_cells(row: dict[str, Any]) -> list[str]:
    estimate = row["status"] == "estimate"
    delays = "/".join(
        "-" if v is None else f"{v / 86400:.1f}" for v in (row["delay_median_s"], row["delay_p90_s"])
    )
    interval = "-" if row["low"] is None else f"{fmt(row['low'])}–{fmt(row['high'])}"
    status = row["status"]
    style = _STATUS_STYLES.get(status)
    return [
        row["window_start"][:16],
        escape(str(row["model_version"])),
        escape(row["metric"]) + (" (estimate)" if estimate else ""),
        fmt(row["value"]),
        interval,
        # an estimate uses no label, although its stored row carries the window's label count
        "none used" if estimate else f"{row['n_labels']:,}",
        "-" if estimate else fmt(row["coverage"]),
        delays,
        fmt(row["baseline"]),
        f"[{style}]{status}[/]" if style else status,
        escape(row["reason"]),
    ]
