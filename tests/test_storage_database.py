"""The Database's DuckDB settings: a checkpoint's work stays bounded however fragmented a table is."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from driftwatch.storage.database import MAX_VACUUM_TASKS, Database

ROW_GROUP = 122_880  # DuckDB's row group size


def _row_groups(cur: duckdb.DuckDBPyConnection) -> int:
    row = cur.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')").fetchall()
    return int(row[0][0])


def _fragmented_table(path: Path, appends: int) -> int:
    """A table whose row groups alternate full / 1,000 rows, as appends between checkpoints leave them.

    Built with vacuuming off, so the partial row groups are all still there; returns the row group count.
    """
    con = duckdb.connect(str(path), config={"max_vacuum_tasks": "0"})
    con.execute("CREATE TABLE t (id VARCHAR PRIMARY KEY, v DOUBLE)")
    for k in range(appends):
        con.execute(
            "INSERT INTO t SELECT 'k' || $k || '-' || i, i FROM range($n) r(i)",
            {"k": k, "n": ROW_GROUP + 1000},
        )
        con.execute("CHECKPOINT")
    groups = _row_groups(con)
    con.close()
    return groups


def test_a_checkpoint_merges_few_partial_row_groups_but_still_merges(tmp_path: Path) -> None:
    """Hot spot 4 of docs/benchmarks.md: DuckDB's default lets each checkpoint merge up to 100 row groups of a
    fragmented table, which made every cycle on a large predictions table pay for rewriting millions of rows."""
    path = tmp_path / "dw.duckdb"
    before = _fragmented_table(path, appends=4)
    assert before == 8
    default_copy = tmp_path / "default.duckdb"
    shutil.copyfile(path, default_copy)

    with Database(path) as db:
        cur = db.cursor()
        setting = cur.execute("SELECT current_setting('max_vacuum_tasks')").fetchall()
        assert int(setting[0][0]) == MAX_VACUUM_TASKS
        # One new row at the end (its own row group), and a checkpoint to run.
        cur.execute("INSERT INTO t VALUES ('late', 0)")
        db.checkpoint()
        bounded = _row_groups(cur)
        assert cur.execute("SELECT count(*) FROM t").fetchall() == [(4 * (ROW_GROUP + 1000) + 1,)]
    # The backlog shrinks (at least one merge), but by a bounded amount (at most two merges).
    assert before + 1 - 2 <= bounded <= before

    # The same checkpoint with DuckDB's default merges more in one go: the setting is what bounds it.
    con = duckdb.connect(str(default_copy))
    con.execute("INSERT INTO t VALUES ('late', 0)")
    con.execute("CHECKPOINT")
    unbounded = _row_groups(con)
    con.close()
    assert unbounded < bounded
