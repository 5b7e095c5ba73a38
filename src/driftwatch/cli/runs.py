"""`driftwatch runs`: the recorded cycles, newest first, with their status, counts, alerts and error text.

The same rows as `GET /api/runs` and `GET /api/monitors/{name}/runs` (storage/api_queries.py `runs_page`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
from driftwatch.cli.tables import json_default

# `runs.status` values (storage/runs.py STATUSES; not imported here: it would load DuckDB for --help).
STATUSES = ("running", "ok", "degraded", "failed", "interrupted")
# The keys of each JSON object, in this order (the API's RunInfo fields).
JSON_FIELDS = (
    "run_id",
    "monitor",
    "trigger",
    "started_at",
    "finished_at",
    "seconds",
    "status",
    "rows_ingested",
    "rows_duplicate",
    "rows_quarantined",
    "files_failed",
    "windows_computed",
    "rows_expired",
    "alerts_firing",
    "alerts_enqueued",
    "alerts_suppressed",
    "error",
)
TABLE_COLUMNS = (
    "monitor",
    "run",
    "started (UTC)",
    "duration",
    "status",
    "ingested",
    "quarantined",
    "windows",
    "alerts",
    "error / warnings",
)
_STATUS_STYLES = {
    "ok": "green",
    "degraded": "bold yellow",
    "failed": "bold red",
    "interrupted": "magenta",
    "running": "cyan",
}


def runs(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: MonitorOption = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help="Only runs with this status: running, ok, degraded, failed or interrupted. Repeat it "
            "(or separate with commas) for several: --status failed --status degraded.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many runs.")] = 20,
    fmt: FormatOption = "table",
) -> None:
    """List the most recent cycles, newest first: monitor, run id, start, duration, status, rows ingested and
    quarantined, windows computed, alerts (firing after the cycle; notifications enqueued) and the error or
    warnings, which name each source a degraded run could not read and why.

    Status: ok (every step ran, every source read), degraded (every step ran, but a file, object or source could not be read), failed (stopped with an error), interrupted (its process stopped before the end), running.

    The same runs as GET /api/runs; while `driftwatch serve` holds the database, read them there.
    """
    check_format(fmt)
    statuses = _statuses(status)
    with errors():
        settings = load(config, monitor)
        hint = (
            read_hint(settings, monitor, "runs")
            if monitor
            else "Read them from the server instead: GET /api/runs"
        )
        with open_database(settings, hint) as db:
            from driftwatch.storage.api_queries import runs_page

            rows, total = runs_page(db.cursor(), monitor, statuses, limit, 0)
    items = [{key: row.get(key) for key in JSON_FIELDS} for row in rows]
    if fmt == "json":
        print_json(items, default=json_default)
    else:
        _runs_table(items, total, monitor, statuses)


def _statuses(values: list[str] | None) -> list[str] | None:
    """The --status values (repeated or comma-separated), each checked; None: every status."""
    if not values:
        return None
    statuses = [s.strip() for value in values for s in value.split(",") if s.strip()]
    for value in statuses:
        if value not in STATUSES:
            fail(f"--status must be one of {', '.join(STATUSES)}, got {value!r}")
    return statuses or None


def duration(seconds: float | None) -> str:
    """A run's duration: 4.2s, 3m 05s, 1h 02m; "-" while it runs or when it never finished."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def alerts_cell(row: dict[str, Any]) -> str:
    """A run's alerts, e.g. "2 firing, 3 enqueued" (", 1 silenced" when a silence held a notification back);
    "-" when no evaluation followed the cycle (alerting off, the cycle failed, a run older than the columns)."""
    if row["alerts_firing"] is None:
        return "-"
    text = f"{row['alerts_firing']} firing, {row['alerts_enqueued']} enqueued"
    return text + (f", {row['alerts_suppressed']} silenced" if row["alerts_suppressed"] else "")


def error_cell(error: str | None) -> str:
    """The error, one warning a line (`runs.error` joins the degraded note and the warnings with "; ")."""
    return "-" if not error else error.replace("; warning: ", "\nwarning: ")


def _runs_table(
    rows: list[dict[str, Any]], total: int, monitor: str | None, statuses: list[str] | None
) -> None:
    from rich.table import Table

    if not rows:
        filters = ([f"monitor {monitor}"] if monitor else []) + (
            [f"status {' or '.join(statuses)}"] if statuses else []
        )
        if filters:
            out.print(f"no runs with {escape(' and '.join(filters))}", highlight=False)
        else:
            out.print("no runs recorded yet: run `driftwatch run` first", highlight=False)
        return
    table = Table()
    for col in TABLE_COLUMNS:
        if col in ("ingested", "quarantined", "windows"):
            table.add_column(col, justify="right")
        elif col in ("monitor", "error / warnings"):
            # a long path or URL in the error wraps instead of being cut: it is what names the source
            table.add_column(col, overflow="fold")
        else:
            table.add_column(col)
    for row in rows:
        style = _STATUS_STYLES.get(row["status"])
        status = escape(row["status"])
        table.add_row(
            escape(row["monitor"]),
            row["run_id"][:8],
            row["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
            duration(row["seconds"]),
            f"[{style}]{status}[/]" if style else status,
            f"{row['rows_ingested']:,}",
            f"{row['rows_quarantined']:,}",
            f"{row['windows_computed']:,}",
            alerts_cell(row),
            escape(error_cell(row["error"])),
        )
    out.print(table)
    if total > len(rows):
        out.print(f"{len(rows)} of {total:,} runs shown, newest first (--limit for more)", highlight=False)
    stuck = sum(1 for row in rows if row["status"] == "running")
    if stuck:
        # This process holds the database, so no cycle is running: the process that started these is gone.
        out.print(
            f"[yellow]{stuck} run(s) still `running`[/]: their process stopped before they finished (no cycle "
            "can run while this command holds the database); `driftwatch run` or `serve` marks them "
            "interrupted when it starts",
            highlight=False,
        )
