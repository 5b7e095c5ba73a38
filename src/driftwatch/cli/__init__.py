"""The `driftwatch` command line. Every command that works on a project takes --config (default ./driftwatch.yml).

Errors that a user can fix print one line and exit with code 2; drift found by `compare --fail-on-drift` exits 1.

One module per command group (run.py, results.py, runs.py, compare.py, demo.py, report.py, serve.py, alerts.py,
rules.py, silence.py, snapshot.py, compact.py), sharing console.py (the consoles and `fail`), options.py (--config, --format,
--monitor, reading the config once, opening the database) and tables.py. A new command goes in its own module
and is registered below. Only typer is imported up front: each command imports what it needs, so
`driftwatch compare` does not pay for the config, storage and alerting modules (and their numpy, scipy, YAML,
DuckDB, rich) that it never uses (tests/test_compare.py checks).
"""

from __future__ import annotations

import sys

import typer

from driftwatch.cli.alerts import alerts_command
from driftwatch.cli.compact import compact
from driftwatch.cli.compare import compare, compare_process
from driftwatch.cli.demo import demo
from driftwatch.cli.process import ended_quickly
from driftwatch.cli.report import report
from driftwatch.cli.results import results
from driftwatch.cli.rules import rules_app
from driftwatch.cli.run import run
from driftwatch.cli.runs import runs
from driftwatch.cli.serve import serve
from driftwatch.cli.silence import silence_app
from driftwatch.cli.snapshot import snapshot
from driftwatch.cli.validate import validate

__all__ = ["app", "main"]

app = typer.Typer(
    name="driftwatch",
    help="Drift and model-quality monitoring: exact PSI/KS per window, against the model's training reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# The order --help lists them in.
app.command("alerts")(alerts_command)
app.command()(run)
app.command()(results)
app.command()(runs)
app.command()(compare)
app.command()(validate)
app.command()(demo)
app.command()(report)
app.command()(serve)
app.command()(snapshot)
app.command()(compact)
app.add_typer(rules_app, name="rules")
app.add_typer(silence_app, name="silence")


def main() -> None:
    """The `driftwatch` script (pyproject's `driftwatch = "driftwatch.cli:main"`) and `python -m driftwatch.cli`."""
    helped = {"--help", "-h"} & set(sys.argv[2:])
    if sys.argv[1:2] == ["compare"] and not helped:
        compare_process(app)
    if sys.argv[1:2] == ["run"] and not helped:
        ended_quickly(app)  # its database closed and reports written before the command returns
    app()
