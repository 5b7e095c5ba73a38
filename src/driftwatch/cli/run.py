"""`driftwatch run`: one full cycle per monitor, then one delivery pass over the alert outbox."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftwatch.cli.console import err, errors, escape, out
from driftwatch.cli.options import DEFAULT_CONFIG_NAME, ConfigOption, cycle_hint, load, open_database
from driftwatch.cli.summary import print_summary

if TYPE_CHECKING:
    from rich.progress import Progress

    from driftwatch.config.settings import Settings
    from driftwatch.pipeline.alerts import AlertingRun
    from driftwatch.storage.database import Database


def run(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: Annotated[
        str | None, typer.Option("--monitor", "-m", help="Only this monitor (default: all).")
    ] = None,
) -> None:
    """Run one full cycle: ingest new log rows, refresh the reference profile, compute every closed window."""
    start_warming()
    with errors():
        settings = load(config, monitor)
        names = [monitor] if monitor else list(settings.monitors)
        alerting = prepare_alerting(settings)
        with open_database(settings, cycle_hint(settings, names[0])) as db:
            note_interrupted(db)
            statuses = [run_one(db, settings, name, "cli", alerting).status for name in names]
            deliver(db, alerting)
    if DEGRADED_STATUS in statuses:
        # every monitor ran and the alerts went out; a script or cron still learns a source was not read
        raise typer.Exit(DEGRADED_EXIT)


# `driftwatch run`'s exit code when a monitor's cycle ran to its end without reading one of its sources
# (runs.status `degraded`, pipeline/run_status.py); 2 is a config or usage error, 1 a crash.
DEGRADED_EXIT = 3
DEGRADED_STATUS = "degraded"


def start_warming() -> None:
    """Import the statistics and load their numba kernels on a daemon thread, now: the cycle first reads the
    config and the reference and ingests (mostly inside DuckDB, without the GIL), and its windows then find
    the kernels loaded (a 1M-row day: ~0.3 s of the process). A failure here is met again, and reported,
    where the cycle itself uses the statistics."""

    def warm() -> None:
        try:
            from driftwatch.stats.warm import warm_statistics

            warm_statistics()
        except Exception:  # noqa: S110  (the cycle's own call raises it where it is reported)
            pass

    threading.Thread(target=warm, name="driftwatch-warm-statistics", daemon=True).start()


def note_interrupted(db: Database) -> None:
    """Runs left `running` by a killed process are marked `interrupted` before this run starts its own."""
    from driftwatch.storage.runs import mark_interrupted_runs

    for run_id, monitor in mark_interrupted_runs(db):
        err.print(f"note: run {run_id[:8]} of {escape(monitor)} was cut short earlier; marked interrupted")


def prepare_alerting(settings: Settings) -> AlertingRun | None:
    """The validated alert rules (None: alerting off). Invalid rules raise RuleError, which lists every
    problem with file and line, before any work is done. Uses the `alerting:` section parsed with the rest
    of the config (the file is not read again)."""
    from driftwatch.pipeline.alerts import prepare_alerting as prepare
    from driftwatch.pipeline.alerts.settings import check_rule_lookback

    run = prepare(settings.alerting)
    check_rule_lookback(settings, run)
    return run


def deliver(db: Database, alerting: AlertingRun | None) -> None:
    """One delivery pass over the outbox; what fails transiently is retried by a later run (or the server)."""
    if alerting is None:
        return
    from driftwatch.pipeline.alerts import deliver_with_settings

    report, problems = deliver_with_settings(db, alerting)
    for problem in problems:
        err.print(f"[yellow]warning:[/] {escape(problem)}; its notifications stay pending", highlight=False)
    if report.delivered or report.retried or report.failed:
        out.print(
            f"notifications: {report.delivered} delivered, {report.retried} to retry, {report.failed} failed",
            highlight=False,
        )
    for channel in report.unhealthy_channels:
        out.print(f"  [bold red]channel {escape(channel)} is unhealthy[/]: see `driftwatch alerts --outbox`")
    _print_pending(db)


def _print_pending(db: Database) -> None:
    """Every due row was attempted; what is left waits for its retry time (or a channel not set up here)."""
    from driftwatch.storage.alerts import pending_outlook

    remaining, next_at = pending_outlook(db.cursor())
    if remaining:
        when = f"the next is due at {next_at:%Y-%m-%d %H:%M:%S} UTC" if next_at is not None else ""
        out.print(
            f"notifications: {remaining} still pending, {when}; `driftwatch run` again or a running "
            "`driftwatch serve` sends them",
            highlight=False,
        )


def run_one(
    db: Database, settings: Settings, name: str, trigger: str, alerting: AlertingRun | None = None
) -> Any:
    """One monitor's cycle with a progress display (on a terminal), then its summary."""
    from driftwatch.pipeline.cycle import CycleHooks, run_monitor

    with _progress() as progress:
        files = progress.add_task(f"{name}: ingest", total=None)
        windows = progress.add_task(f"{name}: windows", total=None, visible=False)

        def on_file(path: str) -> None:
            progress.advance(files)

        def on_window(_w: Any, i: int, total: int) -> None:
            progress.update(windows, total=total, completed=i, visible=True)

        summary = run_monitor(
            db,
            settings,
            name,
            trigger=trigger,
            hooks=CycleHooks(on_file=on_file, on_window=on_window),
            alerting=alerting,
        )
    print_summary(summary, settings.monitor(name).drift.min_rows)
    return summary


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err.get(),
        transient=True,
        disable=not err.is_terminal,
    )
