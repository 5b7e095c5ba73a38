"""Rewriting the database file to give freed space back to the file system (`driftwatch compact`).

DuckDB reuses the blocks a DELETE frees but never shrinks the file, and VACUUM + CHECKPOINT does not either
(docs/benchmarks.md, benchmarks/retention_space.py); only a rewrite does. `COPY FROM DATABASE` copies the whole
catalog (tables with their keys and constraints, views, sequences, macros) and every row, `schema_version`
included, into a fresh file that holds no free blocks.

Crash safety: the copy goes to `<file>.compact-tmp`; the original is not touched until the copy is complete,
its row counts match table by table, and it is flushed to disk; then `os.replace` swaps it in atomically. A
crash before the swap leaves the original as it was (and a tmp file that the next compact removes first); a
crash after it leaves the compacted file. The original's connection stays open (and so its lock held) until
after the swap, so no other process can open the old file and write to it in between.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from driftwatch.config.settings import DatabaseSettings
from driftwatch.errors import DriftwatchError
from driftwatch.storage.database import Database, first_row
from driftwatch.storage.schema import quote_identifier

TMP_SUFFIX = ".compact-tmp"
_TMP_ALIAS = "driftwatch_compact_tmp"


class CompactError(DriftwatchError):
    """The rewritten copy does not match the original (the original is left as it was)."""


@dataclass(frozen=True)
class CompactResult:
    path: Path
    bytes_before: int
    bytes_after: int
    tables: dict[str, int]
    """Rows per table (the same in the original and the copy)."""


def tmp_path(path: Path) -> Path:
    return path.with_name(path.name + TMP_SUFFIX)


def _remove_leftovers(tmp: Path) -> None:
    """A tmp file (and its WAL) left by a compact that stopped before the swap: never a database anyone uses."""
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _row_counts(db: Database, catalog: str) -> dict[str, int]:
    """Rows of every base table of `catalog`, keyed `schema.table`."""
    cur = db.cursor()
    names = cur.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1, 2",
        [catalog],
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in names:
        row = first_row(
            cur.execute(
                f"SELECT count(*) FROM {quote_identifier(catalog)}.{quote_identifier(schema)}.{quote_identifier(table)}"
            )
        )
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(db: Database, tmp: Path) -> dict[str, int]:
    """Copy the whole database into `tmp` and check every table's row count; returns the counts."""
    cur = db.cursor()
    row = first_row(cur.execute("SELECT current_database()"))
    catalog = str(row[0]) if row else ""
    cur.execute(f"ATTACH ? AS {quote_identifier(_TMP_ALIAS)}", [str(tmp)])
    try:
        cur.execute(f"COPY FROM DATABASE {quote_identifier(catalog)} TO {quote_identifier(_TMP_ALIAS)}")
        before, after = _row_counts(db, catalog), _row_counts(db, _TMP_ALIAS)
    finally:
        cur.execute(f"DETACH {quote_identifier(_TMP_ALIAS)}")  # checkpoints and closes the copy
    if before != after:
        differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        raise CompactError(f"compact: the copy differs from {db.path} in table(s) {', '.join(differ)}")
    return before


def compact(path: str | Path, settings: DatabaseSettings | None = None, lock_hint: str = "") -> CompactResult:
    """Rewrite the database at `path` in place (see the module doc). Raises DatabaseLockedError while another
    process holds the file, CompactError if the copy does not match (the original is kept)."""
    path = Path(path)
    tmp = tmp_path(path)
    _remove_leftovers(tmp)
    with Database(path, settings, lock_hint=lock_hint) as db:
        db.checkpoint()  # everything in the file itself, the WAL empty: the size measured is the data's
        bytes_before = path.stat().st_size
        try:
            tables = _copy(db, tmp)
            _fsync(tmp)
            os.replace(tmp, path)
        except BaseException:
            _remove_leftovers(tmp)
            raise
        _fsync(path.parent)  # the rename itself survives a power loss
    return CompactResult(path, bytes_before, path.stat().st_size, tables)
