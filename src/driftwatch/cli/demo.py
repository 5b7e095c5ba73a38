"""`driftwatch demo`: write a demo credit-model project with real drift and run the full cycle on it."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from driftwatch.cli.console import err, errors, escape, out
from driftwatch.cli.options import cycle_hint, load, open_database
from driftwatch.cli.run import deliver, prepare_alerting, run_one


def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where to write the demo project.")] = Path(
        "driftwatch-demo"
    ),
    days: Annotated[int, typer.Option(min=2, help="Days of prediction logs.")] = 30,
    rows_per_day: Annotated[int, typer.Option(min=100, help="Predictions per day.")] = 4000,
    challenger_days: Annotated[
        int, typer.Option(min=0, help="Last days also scored by the shadow challenger v3.3 (0: none).")
    ] = 7,
) -> None:
    """Write a demo credit-model project with real drift, run the full cycle on it and say what drifted."""
    from driftwatch.demo import DemoSpec, write_demo_project

    started = time.perf_counter()
    with errors():
        folder = folder.resolve()
        err.print(f"writing the demo project to {escape(str(folder))} …", highlight=False)
        config = write_demo_project(
            folder, DemoSpec(days=days, rows_per_day=rows_per_day, challenger_days=min(challenger_days, days))
        )
        settings = load(config)
        alerting = prepare_alerting(settings)
        summaries = []
        with open_database(settings, cycle_hint(settings)) as db:
            for name in settings.monitors:
                summaries.append(run_one(db, settings, name, "demo", alerting))
            deliver(db, alerting)
    cmd, cfg = escape(_invocation()), escape(_shown(config))
    lines = [
        f"\ndone in {time.perf_counter() - started:.1f}s. Everything is in {escape(_shown(folder))}/",
        f"  reports:        open {escape(_shown(settings.reports_dir / 'index.html'))} in a browser",
        f"  drift results:  {cmd} results --config {cfg} [--format json] [--rollup 7d]",
        f"  performance:    {cmd} results --config {cfg} --performance",
        f"  alerts:         {cmd} alerts --config {cfg}",
        f"  run it again:   {cmd} run --config {cfg}   (new files only; nothing is counted twice)",
    ]
    lines += [line for summary in summaries for line in _version_lines(summary, settings.reports_dir)]
    for line in lines:
        out.print(line, highlight=False)


def _version_lines(summary: Any, reports: Path) -> list[str]:
    """The shadow challenger's comparison in the demo's summary: verdicts, the latest reasons, the report."""
    from driftwatch.reports.versions import version_page

    versions = summary.versions
    if versions is None or not versions.windows:
        return []
    counts: dict[str, int] = {}
    for w in versions.windows:
        counts[w.status] = counts.get(w.status, 0) + 1
    latest = versions.windows[-1]
    page = reports / version_page(summary.monitor, versions.baseline, versions.candidate)
    verdicts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return [
        f"  versions:       {escape(versions.baseline)} vs {escape(versions.candidate)} ({latest.mode}): "
        f"{len(versions.windows)} windows compared: {escape(verdicts)}",
        *(f"                  latest: {escape(reason)}" for reason in latest.reasons),
        f"                  open {escape(_shown(page))}",
    ]


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
