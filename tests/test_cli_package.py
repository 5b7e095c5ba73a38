"""The cli/ package: every command registered in the order --help lists them, and listing or building them
loads none of the heavy libraries (each command imports what it needs when it runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

COMMANDS = [
    "alerts",
    "run",
    "results",
    "runs",
    "compare",
    "validate",
    "demo",
    "report",
    "serve",
    "snapshot",
    "compact",
    "rules",
    "silence",
]
HEAVY = ("numpy", "polars", "pandas", "pyarrow", "duckdb", "scipy", "numba", "yaml", "jinja2")


def test_help_lists_every_command_in_order_without_loading_the_heavy_libraries() -> None:
    script = (
        "import json, sys, typer\n"
        "from driftwatch.cli import app\n"
        "group = typer.main.get_command(app)\n"
        "names = group.list_commands(None)\n"
        f"print(json.dumps([names, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names, heavy = json.loads(done.stdout)
    assert names == COMMANDS
    assert heavy == []


def test_the_module_entry_point_is_the_script() -> None:
    """`python -m driftwatch.cli` (used by tests and docs) runs the same app as the `driftwatch` script."""
    done = subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    listed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("│ ") and "  " in line]
    assert [name for name in listed if name in COMMANDS] == COMMANDS
