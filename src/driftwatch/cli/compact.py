"""`driftwatch compact`: rewrite the database file so the space freed by deleted rows goes back to the disk."""

from __future__ import annotations

from pathlib import Path

from driftwatch.cli.console import errors, escape, fail, out
from driftwatch.cli.options import DEFAULT_CONFIG_NAME, ConfigOption, load

LOCK_HINT = "Stop `driftwatch serve` first: compact rewrites the whole file."


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def compact(config: ConfigOption = Path(DEFAULT_CONFIG_NAME)) -> None:
    """Rewrite the database into a new file (every table, key and the schema version), check that every table
    has the same rows, and swap it in atomically; prints the size before and after.

    Needs the file to itself (stop `serve` first). A crash leaves the original intact.
    """
    from driftwatch.storage.compact import compact as compact_file

    with errors():
        settings = load(config)
        path = Path(settings.storage)
        if not path.is_file():
            fail(f"{path}: no database file to compact")
        done = compact_file(path, settings.database, lock_hint=LOCK_HINT)
    out.print(
        f"{escape(str(done.path))}: {_mb(done.bytes_before)} -> {_mb(done.bytes_after)} "
        f"({len(done.tables)} tables, {sum(done.tables.values()):,} rows)",
        highlight=False,
    )
