"""The `driftwatch` command line. Every command that works on a project takes --config (default ./driftwatch.yml).

Errors that a user can fix print one line and exit with code 2; drift found by `compare --fail-on-drift` exits 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from driftwatch.errors import DriftwatchError

if TYPE_CHECKING:
    import click
    from rich.console import Console
    from rich.progress import Progress

    from driftwatch.config.settings import Settings

# Only typer is imported up front: each command imports what it needs, so `driftwatch compare` does not pay
# for the config, storage and alerting modules (and their numpy, scipy, YAML, DuckDB) that it never uses.

DEFAULT_CONFIG_NAME = "driftwatch.yml"
"""The same as `driftwatch.config.DEFAULT_CONFIG_NAME` (a test checks), kept here to leave config unimported."""

LAZY_COMMANDS = ("alerts", "rules", "silence")
"""Commands defined in `driftwatch.commands.alerts`, built only when named or listed (--help)."""


class _Commands(TyperGroup):
    """The top-level command group; the alert commands are added from their module on first use, in the
    places their registration order gives them (`alerts` first, the `rules` and `silence` groups last)."""

    def _add_lazy(self) -> None:
        if all(name in self.commands for name in LAZY_COMMANDS):
            return
        from driftwatch.commands.alerts import alerts_command, rules_app, silence_app

        extra = typer.Typer()
        extra.command("alerts")(alerts_command)
        extra.add_typer(rules_app, name="rules")
        extra.add_typer(silence_app, name="silence")
        built = typer.main.get_group(extra).commands
        self.commands = {
            "alerts": built["alerts"],
            **self.commands,
            "rules": built["rules"],
            "silence": built["silence"],
        }

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._add_lazy()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_lazy()
        return super().list_commands(ctx)


app = typer.Typer(
    name="driftwatch",
    help="Drift and model-quality monitoring: exact PSI/KS per window, against the model's training reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Commands,
)


class _LazyConsole:
    """A rich Console made on first use (rich's import is a noticeable part of a short command's start-up)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out = _LazyConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = _LazyConsole(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="Project config file; relative paths in it resolve against its folder."
    ),
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except DriftwatchError as exc:
        _fail(_escape(str(exc)))


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _open_database(settings: Settings, monitor: str | None = None, read: str | None = None) -> Any:
    """The project's database; `read` names the API endpoint that serves the same data (e.g. "results"),
    for a read-only command, so the refusal while `serve` owns the file points there and not to a cycle."""
    from driftwatch.storage.database import Database

    name = monitor or next(iter(settings.monitors))
    hint = (
        f"Read them from the server instead: GET /api/monitors/{name}/{read}"
        if read
        else f"Trigger the cycle through the server instead: POST /api/monitors/{name}/runs"
    )
    return Database(settings.storage, settings.database, lock_hint=hint)


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


@app.command()
def run(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: Annotated[
        str | None, typer.Option("--monitor", "-m", help="Only this monitor (default: all).")
    ] = None,
) -> None:
    """Run one full cycle: ingest new log rows, refresh the reference profile, compute every closed window."""
    from driftwatch.config.loading import load_settings

    with _errors():
        settings = load_settings(config)
        names = [monitor] if monitor else list(settings.monitors)
        for name in names:
            settings.monitor(name)
        alerting = _alerting(settings)
        with _open_database(settings, names[0]) as db:
            _note_interrupted(db)
            for name in names:
                _run_one(db, settings, name, "cli", alerting)
            _deliver(db, alerting)


def _note_interrupted(db: Any) -> None:
    """Runs left `running` by a killed process are marked `interrupted` before this run starts its own."""
    from driftwatch.storage.runs import mark_interrupted_runs

    for run_id, monitor in mark_interrupted_runs(db):
        err.print(f"note: run {run_id[:8]} of {_escape(monitor)} was cut short earlier; marked interrupted")


def _alerting(settings: Settings) -> Any:
    """The validated alert rules (None: alerting off). Invalid rules raise RuleError, which lists every
    problem with file and line, before any work is done."""
    from driftwatch.pipeline.alerts import alerting_settings, prepare_alerting

    return prepare_alerting(alerting_settings(settings))


def _deliver(db: Any, alerting: Any) -> None:
    """One delivery pass over the outbox; what fails transiently is retried by a later run (or the server)."""
    if alerting is None:
        return
    from driftwatch.pipeline.alerts import deliver_with_settings

    report, problems = deliver_with_settings(db, alerting)
    for problem in problems:
        err.print(f"[yellow]warning:[/] {_escape(problem)}; its notifications stay pending", highlight=False)
    if report.delivered or report.retried or report.failed:
        out.print(
            f"notifications: {report.delivered} delivered, {report.retried} to retry, {report.failed} failed",
            highlight=False,
        )
    for channel in report.unhealthy_channels:
        out.print(f"  [bold red]channel {_escape(channel)} is unhealthy[/]: see `driftwatch alerts --outbox`")
    # Every due row was attempted; what is left waits for its retry time (or a channel not set up here).
    from driftwatch.storage.alerts import pending_outlook

    remaining, next_at = pending_outlook(db.cursor())
    if remaining:
        when = f"the next is due at {next_at:%Y-%m-%d %H:%M:%S} UTC" if next_at is not None else ""
        out.print(
            f"notifications: {remaining} still pending, {when}; `driftwatch run` again or a running "
            "`driftwatch serve` sends them",
            highlight=False,
        )


def _run_one(db: Any, settings: Settings, name: str, trigger: str, alerting: Any = None) -> Any:
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
    _print_summary(summary, settings.monitor(name).drift.min_rows)
    return summary


def judged_windows(summary: Any) -> tuple[int, int]:
    """(judged, not judged) among the run's computed windows (overall segment): a window whose every feature
    is insufficient_data has no verdict, which must not read as "no drift"."""
    not_judged = sum(1 for w in summary.windows if w.overall.decision.status == "insufficient_data")
    return len(summary.windows) - not_judged, not_judged


def _print_summary(summary: Any, min_rows: int | None = None) -> None:
    ing = summary.ingest
    out.print(
        f"[bold]{summary.monitor}[/] run {summary.run_id[:8]} in {summary.seconds:.1f}s", highlight=False
    )
    out.print(
        f"  ingested {ing.rows_inserted:,} rows from {ing.files_read} new file(s) "
        f"({ing.files_seen} seen); {ing.rows_duplicate:,} duplicate(s) skipped; "
        f"{ing.rows_quarantined:,} row(s) quarantined",
        highlight=False,
    )
    for path, reason in ing.failed_files:
        out.print(f"  [red]unreadable file[/] {_escape(path)}: {_escape(reason)}", highlight=False)
    for warning in getattr(summary, "warnings", []):
        out.print(f"  [bold yellow]warning:[/] {_escape(warning)}", highlight=False)
    if summary.profile_rebuilt:
        watched = f" and the model output ({', '.join(summary.outputs)})" if summary.outputs else ""
        out.print(
            f"  reference profile built for {len(summary.features)} feature(s){watched}", highlight=False
        )
        excluded = getattr(summary, "excluded", ())
        if excluded:
            listed = ", ".join(str(e) for e in excluded)
            out.print(f"  excluded from the features: {_escape(listed)}", highlight=False)
        for name, note in getattr(summary, "capped", ()):
            out.print(f"  {_escape(name)}: {_escape(note)}", highlight=False)
    judged, not_judged = judged_windows(summary)
    split = f" ({judged} judged, {not_judged} not judged)" if not_judged else ""
    out.print(f"  windows computed: {summary.windows_computed}{split}", highlight=False)
    if not_judged:
        rows = f"fewer than min_rows ({min_rows}) rows" if min_rows is not None else "too few rows"
        out.print(
            f"  [bold yellow]not judged:[/] {not_judged} window{'s' if not_judged > 1 else ''} with {rows}: "
            "no drift verdict (lower min_rows or widen the window)",
            highlight=False,
        )
    _print_performance_summary(summary)
    drifting = summary.drifting_features()
    if drifting:
        listed = ", ".join(
            f"{_escape(name)} ({count} window{'s' if count > 1 else ''})"
            for name, count in sorted(drifting.items())
        )
        out.print(f"  [bold yellow]features drifting:[/] {listed}", highlight=False)
    elif judged:
        out.print(
            f"  no feature drifting in the {judged} judged window{'s' if judged > 1 else ''}", highlight=False
        )
    elif not_judged:
        out.print("  no window could be judged: drift unknown, not absent", highlight=False)
    alerts = getattr(summary, "alerts", None)
    if alerts is not None:
        out.print(
            f"  alerts: {alerts.firing} firing; {alerts.enqueued} notification(s) enqueued, "
            f"{alerts.suppressed} silenced",
            highlight=False,
        )


def _print_performance_summary(summary: Any) -> None:
    lab, perf = summary.labels, summary.performance
    if perf is None:
        return
    out.print(
        f"  labels: {lab.labels_new:,} new, {lab.labels_replaced:,} corrected from {lab.files_read} new file(s); "
        f"{lab.rows_quarantined:,} row(s) quarantined; {lab.without_prediction:,} labels without a prediction",
        highlight=False,
    )
    for path, reason in lab.failed_files:
        out.print(f"  [red]unreadable label file[/] {_escape(path)}: {_escape(reason)}", highlight=False)
    degraded = ""
    if perf.degraded:
        shown = ", ".join(f"{_escape(metric)} {start[:10]}" for start, _seg, metric in perf.degraded[:5])
        more = f" and {len(perf.degraded) - 5} more" if len(perf.degraded) > 5 else ""
        degraded = f"; [bold red]degraded:[/] {shown}{more}"
    out.print(
        f"  performance: {perf.windows_computed} window(s) computed; {perf.insufficient} judged metric(s) with "
        f"insufficient labels{degraded}",
        highlight=False,
    )
    if perf.note:
        out.print(f"  performance note: {_escape(perf.note)}", highlight=False)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.3f}"
    return str(value)


@app.command()
def results(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: Annotated[str | None, typer.Option("--monitor", "-m", help="Only this monitor.")] = None,
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
    from rich.table import Table

    from driftwatch.config.loading import load_settings
    from driftwatch.durations import parse_duration
    from driftwatch.pipeline.rollup import rollup_results
    from driftwatch.storage.results import feature_results

    if performance:
        _performance_results(config, monitor, segment, fmt)
        return
    with _errors():
        if fmt not in ("table", "json"):
            _fail(f"--format must be table or json, got {fmt!r}")
        settings = load_settings(config)
        if monitor:
            settings.monitor(monitor)
        with _open_database(settings, monitor, read="results") as db:
            if rollup is None:
                rows = feature_results(db.cursor(), monitor=monitor, segment=segment, feature=feature)
            else:
                try:
                    width = parse_duration(rollup)
                    rows = []
                    for name in [monitor] if monitor else list(settings.monitors):
                        rows += rollup_results(db, settings.monitor(name), width, segment)
                except ValueError as exc:
                    _fail(f"--rollup: {exc}")
                if feature:
                    rows = [r for r in rows if r["feature"] == feature]
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, default=_json_default, allow_nan=False) + "\n")
        return
    if not rows:
        out.print("no results stored yet: run `driftwatch run` first")
        return
    table = Table(show_lines=False)
    head = ["window_start", "model_version", "feature", *(["windows"] if rollup else []), "rows"]
    cols = [*head, *STATISTIC_COLUMNS, "missing", "status"]
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_escape(cell) for cell in _statistic_cells(row, cols)])
    out.print(table)


# The statistics a table shows, one column each; "test" is KS D or chi², "p" its p-value (adjusted when the
# window's correction applied), "w/σ" the Wasserstein distance in reference standard deviations. JSON output
# has every statistic under its own name.
STATISTIC_COLUMNS = ("psi", "test", "p", "js", "hellinger", "w/σ")


def _statistic_cells(row: dict[str, Any], cols: list[str]) -> list[str]:
    """A result row (stored window, roll-up or compare) as table cells in the order of `cols`."""
    numeric = row.get("kind") == "numeric"
    cells: dict[str, object] = {
        "test": f"D {_fmt(row.get('ks_statistic'))}" if numeric else f"χ² {_fmt(row.get('chi2_statistic'))}",
        "p": row.get("pvalue_adjusted", row.get("ks_pvalue" if numeric else "chi2_pvalue")),
        "js": row.get("js_distance"),
        "w/σ": row.get("wasserstein_norm"),
        "missing": f"{_fmt(row.get('missing_share_reference'))} → {_fmt(row.get('missing_share_current'))}"
        if "missing_share_reference" in row
        else row.get("missing_share_current"),
    }
    out_cells = []
    for c in cols:
        if c == "window_start":
            out_cells.append(str(row[c])[:16])
        elif c in cells and isinstance(cells[c], str):
            out_cells.append(str(cells[c]))
        else:
            out_cells.append(_fmt(cells[c] if c in cells else row.get(c)))
    return out_cells


def _performance_results(config: Path, monitor: str | None, segment: str, fmt: str) -> None:
    from rich.table import Table

    from driftwatch.config.loading import load_settings
    from driftwatch.storage.performance_results import performance_results

    with _errors():
        if fmt not in ("table", "json"):
            _fail(f"--format must be table or json, got {fmt!r}")
        settings = load_settings(config)
        if monitor:
            settings.monitor(monitor)
        with _open_database(settings, monitor, read="performance") as db:
            rows = performance_results(db.cursor(), monitor=monitor, segment=segment)
    if fmt == "json":
        sys.stdout.write(json.dumps(_clean_json(rows), default=_json_default, allow_nan=False) + "\n")
        return
    if not rows:
        out.print("no performance results stored yet: configure `task` and `labels`, then `driftwatch run`")
        return
    table = Table(show_lines=False)
    cols = ["window", "version", "metric", "value", "interval", "n_labels", "coverage", "delay days p50/p90"]
    for col in [*cols, "baseline", "status", "reason"]:
        table.add_column(col)
    for row in rows:
        estimate = row["status"] == "estimate"
        delays = "/".join(
            "-" if v is None else f"{v / 86400:.1f}" for v in (row["delay_median_s"], row["delay_p90_s"])
        )
        interval = "-" if row["low"] is None else f"{_fmt(row['low'])}–{_fmt(row['high'])}"
        status = row["status"]
        style = {"degraded": "bold red", "insufficient_labels": "yellow", "estimate": "cyan"}.get(status)
        table.add_row(
            row["window_start"][:16],
            _escape(str(row["model_version"])),
            _escape(row["metric"]) + (" (estimate)" if estimate else ""),
            _fmt(row["value"]),
            interval,
            # an estimate uses no label, although its stored row carries the window's label count
            "none used" if estimate else f"{row['n_labels']:,}",
            "-" if estimate else _fmt(row["coverage"]),
            delays,
            _fmt(row["baseline"]),
            f"[{style}]{status}[/]" if style else status,
            _escape(row["reason"]),
        )
    out.print(table)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def _clean_json(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


@app.command()
def compare(
    reference: Annotated[
        Path, typer.Argument(help="Reference file (.parquet, .csv, .ndjson/.jsonl; .gz/.zst compressed too).")
    ],
    current: Annotated[Path, typer.Argument(help="Current file to compare with the reference.")],
    numeric: Annotated[
        str | None, typer.Option(help="Comma-separated numeric features (default: inferred).")
    ] = None,
    categorical: Annotated[str | None, typer.Option(help="Comma-separated categorical features.")] = None,
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Comma-separated features, numeric or categorical by the reference's type (default: inferred, "
            "leaving out identifiers, timestamps, labels and outputs).",
        ),
    ] = None,
    input_format: Annotated[
        str,
        typer.Option(
            "--input-format",
            help="How to read the files: auto (by suffix), csv, parquet or ndjson; or REF,CUR for each its own. "
            "(--format is the output format.)",
        ),
    ] = "auto",
    features_column: Annotated[
        str,
        typer.Option(
            "--features-column",
            help="A prediction log's column of JSON feature objects, flattened into one column per key.",
        ),
    ] = "input_features",
    prediction: Annotated[
        str | None,
        typer.Option(
            help="Column with the model's score, judged as the model's output (default: raw_prediction if "
            "both files have it)."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="Column with the model's decision, judged as its decision mix (default: business_output if "
            "both files have it)."
        ),
    ] = None,
    fmt: FormatOption = "table",
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with code 1 when any feature drifts.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report (works offline).")
    ] = None,
) -> None:
    """Compare two files feature by feature (PSI, exact KS, missing/unseen shares) — e.g. as a CI gate."""
    from driftwatch.comparison import as_polars, load_pair
    from driftwatch.comparison import compare as run_compare

    if fmt not in ("table", "json"):
        _fail(f"--format must be table or json, got {fmt!r}")
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None  # noqa: E731
    formats = split(input_format) or ["auto"]
    if len(formats) > 2:
        _fail(f"--input-format takes one format or REF,CUR, got {input_format!r}")
    with _errors():
        # Parquet arrives as Arrow tables, CSV/NDJSON as polars frames; the statistics load meanwhile.
        ref_frame, cur_frame = load_pair(
            str(reference), str(current), (formats[0], formats[-1]), features_column
        )
        result = run_compare(
            ref_frame,
            cur_frame,
            numeric=split(numeric),
            categorical=split(categorical),
            features=split(features),
            prediction=prediction,
            output=output,
            features_column=features_column,
        )
        if html is not None:
            from driftwatch.reports.comparison import render_comparison, write_comparison

            page = render_comparison(
                result,
                str(reference),
                str(current),
                reference=as_polars(ref_frame, "reference"),
                current=as_polars(cur_frame, "current"),
            )
            written = write_comparison(html, page)
            err.print(f"report written to {written}", highlight=False)
    if fmt == "json":
        sys.stdout.write(json.dumps(_clean_json(result.to_dict()), allow_nan=False) + "\n")
    else:
        from rich.table import Table

        table = Table()
        cols = ["name", "kind", *STATISTIC_COLUMNS, "missing", "status", "reason"]
        for col in cols:
            table.add_column(col)
        for row in result.to_dict()["features"]:
            table.add_row(*[_escape(cell) for cell in _statistic_cells(row, cols)])
        out.print(table)
        verdict = "[bold red]drift[/]" if result.drift else "[green]no drift[/]"
        inputs = [f for f in result.decision.features if f.role == "input"]
        out.print(
            f"{verdict}: {sum(f.status == 'drift' for f in inputs)} of {len(inputs)} feature(s) drifting; "
            f"dataset {result.decision.status}",
            highlight=False,
        )
        for f in result.decision.features:
            if f.role == "output":
                out.print(f"model output {f.name}: {f.status}", highlight=False)
        if result.excluded:
            listed = ", ".join(str(e) for e in result.excluded)
            out.print(f"excluded: {_escape(listed)}", highlight=False)
        for side, excluded in (
            ("reference", result.excluded_reference),
            ("current", result.excluded_current),
        ):
            if excluded:  # rows ingest would quarantine (docs/values.md)
                why = "; ".join(f"{reason} ({rows:,})" for reason, rows in excluded.items())
                out.print(
                    _escape(f"{side}: {sum(excluded.values()):,} row(s) left out: {why}"), highlight=False
                )
    if fail_on_drift and result.drift:
        raise typer.Exit(1)


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where to write the demo project.")] = Path(
        "driftwatch-demo"
    ),
    days: Annotated[int, typer.Option(min=2, help="Days of prediction logs.")] = 30,
    rows_per_day: Annotated[int, typer.Option(min=100, help="Predictions per day.")] = 4000,
) -> None:
    """Write a demo credit-model project with real drift, run the full cycle on it and say what drifted."""
    from driftwatch.config.loading import load_settings
    from driftwatch.demo import DemoSpec, write_demo_project

    started = time.perf_counter()
    with _errors():
        folder = folder.resolve()
        err.print(f"writing the demo project to {folder} …", highlight=False)
        config = write_demo_project(folder, DemoSpec(days=days, rows_per_day=rows_per_day))
        settings = load_settings(config)
        alerting = _alerting(settings)
        with _open_database(settings) as db:
            for name in settings.monitors:
                _run_one(db, settings, name, "demo", alerting)
            _deliver(db, alerting)
    cmd, cfg = _invocation(), _shown(config)
    out.print(
        f"\ndone in {time.perf_counter() - started:.1f}s. Everything is in {_shown(folder)}/", highlight=False
    )
    out.print(
        f"  reports:        open {_shown(settings.reports_dir / 'index.html')} in a browser", highlight=False
    )
    out.print(
        f"  drift results:  {cmd} results --config {cfg} [--format json] [--rollup 7d]", highlight=False
    )
    out.print(f"  performance:    {cmd} results --config {cfg} --performance", highlight=False)
    out.print(f"  alerts:         {cmd} alerts --config {cfg}", highlight=False)
    out.print(
        f"  run it again:   {cmd} run --config {cfg}   (new files only; nothing is counted twice)",
        highlight=False,
    )


def _shown(path: Path) -> str:
    """A path as short as it can be: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _invocation() -> str:
    """How the user can call driftwatch again: the project-local script they ran, else the plain name."""
    script = Path(sys.argv[0]).resolve()
    if script.name == "driftwatch" and script.is_relative_to(Path.cwd()):
        return _shown(script)  # e.g. .venv/bin/driftwatch, which `uv run` puts on PATH only while it runs
    return "driftwatch"


@app.command()
def report(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: Annotated[str | None, typer.Option("--monitor", "-m", help="Only this monitor.")] = None,
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
    import dataclasses

    from driftwatch.config.loading import load_settings
    from driftwatch.reports.site import render_reports
    from driftwatch.storage.report_queries import all_windows

    with _errors():
        settings = load_settings(config)
        if out_dir is not None:
            settings = dataclasses.replace(settings, reports_dir=out_dir.resolve())
        start: datetime | None = None
        if window is not None:
            try:
                start = datetime.fromisoformat(window.replace("Z", "+00:00")).replace(tzinfo=None)
            except ValueError:
                _fail(f"--window: not a date or date-time: {window!r} (use e.g. 2026-11-20)")
        names = [monitor] if monitor else list(settings.monitors)
        for name in names:
            settings.monitor(name)
        with _open_database(settings, names[0]) as db:
            written = []
            for name in names:
                windows = all_windows(db.cursor(), name) if everything or start is not None else None
                if start is not None:
                    windows = [w for w in windows or [] if w[1] == start]
                    if not windows:
                        _fail(f"--window: no computed window of {name} starts at {start.isoformat()}")
                written += render_reports(db, settings, monitor=name, windows=windows)
    out.print(
        f"{len(written)} report file(s) written; open {settings.reports_dir / 'index.html'}", highlight=False
    )


@app.command()
def serve(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
) -> None:
    """Run the service: the API, the scheduler and the reports in one process that owns the database."""
    from driftwatch.api.server import serve as run_server
    from driftwatch.config.loading import load_settings

    with _errors():
        settings = load_settings(config)
        run_server(settings, host=host, port=port)


def main() -> None:
    if sys.argv[1:2] == ["compare"] and not {"--help", "-h"} & set(sys.argv[2:]):
        _compare_process()
    app()


def _compare_process() -> NoReturn:
    """`driftwatch compare` as a process: most of its time is start-up and tear-down, so it shortens both.

    The statistics (numba and its cached kernels, about 0.6 s) start loading before typer parses the
    arguments, and the process ends with `os._exit` once its output is flushed: tearing down the
    interpreter would free the two datasets object by object and unload numba and pyarrow (about 0.25 s at
    1M rows), work the OS does at once. Nothing is left unwritten: compare holds no database or open file by
    then (an --html report is closed when written). Only for the real process; `app()` in tests is unchanged.
    """
    from driftwatch.comparison import start_loading_statistics

    start_loading_statistics()
    try:
        app()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: let the interpreter do it the usual way
        code = exc.code or 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
