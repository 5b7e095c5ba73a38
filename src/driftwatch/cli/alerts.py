"""`driftwatch alerts`: alert instances (firing and pending by default) or, with --outbox, the notifications."""

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
)

STATE_CHOICES = {
    "active": ("pending", "firing"),
    "firing": ("firing",),
    "pending": ("pending",),
    "inactive": ("inactive",),
    "all": None,
}
LOCK_HINT = "Stop `driftwatch serve` first, or use the server's API."
ALERT_COLUMNS = (
    "state",
    "rule",
    "monitor",
    "model_version",
    "segment",
    "feature",
    "value",
    "firing_since",
    "last_window",
)
OUTBOX_COLUMNS = (
    "id",
    "status",
    "channel",
    "rule",
    "monitor",
    "transition",
    "window_start",
    "alerts",
    "attempts",
    "last_error",
)


def cell(value: Any) -> str:
    """A table cell: "-" for nothing, 4 significant digits, text shown as written (never as markup)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def alerts_command(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    state: Annotated[
        str, typer.Option("--state", "-s", help="firing, pending, active (both), inactive or all.")
    ] = "active",
    monitor: MonitorOption = None,
    outbox: Annotated[
        bool,
        typer.Option(
            "--outbox", help="List notifications (pending, delivered, failed, suppressed) instead of alerts."
        ),
    ] = False,
    status: Annotated[
        str | None, typer.Option(help="With --outbox: only pending, delivered, failed or suppressed rows.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="With --outbox: at most this many rows, newest first.")
    ] = 50,
    fmt: FormatOption = "table",
) -> None:
    """Show alert instances (firing and pending by default) and, with --outbox, the notifications owed."""
    from driftwatch.storage import alerts as store

    check_format(fmt)
    if state not in STATE_CHOICES:
        fail(f"--state must be one of {', '.join(STATE_CHOICES)}, got {state!r}")
    if status is not None and status not in store.OUTBOX_STATUSES:
        fail(f"--status must be one of {', '.join(store.OUTBOX_STATUSES)}, got {status!r}")
    with errors():
        settings = load(config, monitor)
        with open_database(settings, LOCK_HINT) as db:
            cur = db.cursor()
            if outbox:
                rows = [store.message_dict(m) for m in store.messages(cur, status, monitor, limit)]
            else:
                rows = store.alert_instances(cur, STATE_CHOICES[state], monitor)
            health = store.channel_health(cur)
    if fmt == "json":
        print_json(rows)
        return
    if outbox:
        _outbox_table(rows)
    else:
        _alerts_table(rows, state)
    for channel in health:
        if not channel["healthy"]:
            out.print(
                f"[bold red]channel {escape(channel['channel'])} unhealthy[/] since {channel['changed_at']}: "
                f"{escape(channel['reason'] or '')}",
                highlight=False,
            )


def _alerts_table(rows: list[dict[str, Any]], state: str) -> None:
    from rich.table import Table

    if not rows:
        out.print(f"no {state} alerts" if state != "all" else "no alerts evaluated yet", highlight=False)
        return
    table = Table()
    for col in ALERT_COLUMNS:
        table.add_column(col)
    for row in rows:
        cells = []
        for col in ALERT_COLUMNS:
            value = row.get(col)
            if col in ("firing_since", "last_window") and isinstance(value, str):
                value = value[:16]
            cells.append(cell(value))
        table.add_row(*cells)
    out.print(table)


def _outbox_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        out.print("no notifications", highlight=False)
        return
    table = Table()
    for col in OUTBOX_COLUMNS:
        table.add_column(col)
    for row in rows:
        table.add_row(*[cell(row[c][:16] if c == "window_start" else row[c]) for c in OUTBOX_COLUMNS])
    out.print(table)
