"""`driftwatch report`: (re)render the HTML reports from stored results."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from driftwatch.cli.console import errors, escape, fail, out
from driftwatch.cli.options import (
    DEFAULT_CONFIG_NAME,
    ConfigOption,
    MonitorOption,
    cycle_hint,
    load,
    open_database,
)
from driftwatch.durations import to_naive_utc


def report(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: MonitorOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Re-render every window, not only those whose results changed.")
    ] = False,
    window: Annotated[
        str | None,
        typer.Option("--window", help="Only the window starting then (e.g. 2026-11-20), all versions."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write into this folder instead of the config's reports_dir.")
    ] = None,
) -> None:
    """(Re)render the HTML reports from stored results into `reports_dir` and print where the index is."""
    from driftwatch.reports.site import render_reports
    from driftwatch.storage.report_queries import all_windows

    with errors():
        settings = load(config, monitor)
        if out_dir is not None:
            settings = dataclasses.replace(settings, reports_dir=out_dir.resolve())
        start = _window_start(window)
        names = [monitor] if monitor else list(settings.monitors)
        with open_database(settings, cycle_hint(settings, names[0])) as db:
            written = []
            for name in names:
                windows = all_windows(db.cursor(), name) if everything or start is not None else None
                if start is not None:
                    windows = [w for w in windows or [] if w[1] == start]
                    if not windows:
                        fail(f"--window: no computed window of {name} starts at {start.isoformat()}")
                written += render_reports(db, settings, monitor=name, windows=windows)
    index = escape(str(settings.reports_dir / "index.html"))
    out.print(f"{len(written)} report file(s) written; open {index}", highlight=False)


def _window_start(window: str | None) -> datetime | None:
    """--window as the naive UTC start the database stores (None: every window)."""
    if window is None:
        return None
    try:
        return to_naive_utc(datetime.fromisoformat(window.replace("Z", "+00:00")))
    except ValueError:
        fail(f"--window: not a date or date-time: {window!r} (use e.g. 2026-11-20)")
