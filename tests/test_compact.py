"""`driftwatch compact` (issue 19, item 3): rewriting the DuckDB file gives the space of deleted rows back,
keeps every table, row, key and the schema version, and never leaves the original unusable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from _demo import DEMO_END, SMALL_DEMO, demo_project
from driftwatch.config.loading import load_settings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.compact import compact, tmp_path
from driftwatch.storage.database import Database

TABLE = '"predictions:credit-default"'


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", *args], capture_output=True, text=True, timeout=300
    )


def _dump(path: Path) -> dict[str, object]:
    """Everything a compact must keep: every table's full content (sorted), the catalog's definitions
    (columns, keys and constraints, sequences) and the schema version."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        dump: dict[str, object] = {
            # repr: a NaN equals itself only as text
            name: repr(con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall())
            for name in tables
        }
        dump["catalog:tables"] = con.execute(
            "SELECT table_name, sql FROM duckdb_tables() ORDER BY 1"
        ).fetchall()
        dump["catalog:constraints"] = con.execute(
            "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() ORDER BY ALL"
        ).fetchall()
        dump["catalog:sequences"] = con.execute(
            "SELECT sequence_name, last_value FROM duckdb_sequences() ORDER BY 1"
        ).fetchall()
        dump["catalog:indexes"] = con.execute(
            "SELECT index_name, sql FROM duckdb_indexes() ORDER BY 1"
        ).fetchall()
    return dump


@pytest.fixture(scope="module")
def cycled_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo project after one cycle, then most prediction rows deleted (as retention does) and checkpointed:
    the file keeps their blocks. The cycle runs once per module; (the project folder, a pristine copy of it)."""
    root = tmp_path_factory.mktemp("compact")
    settings = load_settings(demo_project(root / "demo", SMALL_DEMO))
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor("credit-default"), now=DEMO_END)
        cur = db.cursor()
        cur.execute(f"DELETE FROM {TABLE} WHERE ts < ?", [datetime(2026, 10, 28)])
        db.checkpoint()
    shutil.copytree(root / "demo", root / "pristine")  # copy2: sizes and modification times kept
    return root / "demo", root / "pristine"


@pytest.fixture
def cycled_settings(cycled_once: tuple[Path, Path]) -> Settings:
    """The cycled project, for each test exactly as the cycle left it and at the same path (`ingested_files`
    records each file's path, size and mtime, so a later `driftwatch run` finds them all read): the folder is
    put back from the pristine copy."""
    project, pristine = cycled_once
    shutil.rmtree(project)
    shutil.copytree(pristine, project)
    return load_settings(project / "driftwatch.yml")


@pytest.fixture
def cycled(cycled_settings: Settings) -> Path:
    return Path(cycled_settings.storage)


def test_compact_shrinks_the_file_and_keeps_every_table(cycled_settings: Settings, cycled: Path) -> None:
    before_size, before = cycled.stat().st_size, _dump(cycled)
    done = _cli("compact", "--config", str(cycled_settings.config_path))
    assert done.returncode == 0, done.stderr
    after_size = cycled.stat().st_size
    # The demo file is mostly reference data and results; the deleted rows' blocks are ~13 % of it (12.1 -> 10.5 MB).
    assert after_size < before_size * 0.95, (before_size, after_size)
    assert "MB ->" in done.stdout
    assert _dump(cycled) == before
    assert not tmp_path(cycled).exists()
    with duckdb.connect(str(cycled), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0] > 0

    # The compacted file is the project's database: a cycle runs on it, and its keys still hold.
    ran = _cli("run", "--config", str(cycled_settings.config_path))
    assert ran.returncode == 0, ran.stderr
    with Database(cycled_settings.storage, cycled_settings.database) as db:
        cur = db.cursor()
        row = cur.execute(f"SELECT * FROM {TABLE} LIMIT 1").fetchall()[0]
        # (The predictions table has no key since issue 16, prediction identity: `runs` has one.)
        with pytest.raises(duckdb.ConstraintException):
            cur.execute("INSERT INTO runs SELECT * FROM runs LIMIT 1")
        assert row  # the table was readable and non-empty


def test_a_leftover_tmp_file_breaks_nothing(cycled_settings: Settings, cycled: Path) -> None:
    """A compact stopped before its swap leaves `<file>.compact-tmp` (maybe half written): the database is
    used as before and the next compact removes it."""
    tmp = tmp_path(cycled)
    tmp.write_bytes(b"not a database" * 1000)
    tmp.with_name(tmp.name + ".wal").write_bytes(b"junk")
    before = _dump(cycled)
    ran = _cli("run", "--config", str(cycled_settings.config_path))
    assert ran.returncode == 0, ran.stderr
    before = _dump(cycled)
    result = compact(cycled, cycled_settings.database)
    assert result.bytes_after < result.bytes_before
    assert _dump(cycled) == before
    assert not tmp.exists() and not tmp.with_name(tmp.name + ".wal").exists()


def test_a_failure_before_the_swap_keeps_the_original(
    cycled_settings: Settings, cycled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_size, before = cycled.stat().st_size, _dump(cycled)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", broken_replace)  # the swap, the last step
    with pytest.raises(OSError, match="disk went away"):
        compact(cycled, cycled_settings.database)
    assert cycled.stat().st_size == before_size
    assert _dump(cycled) == before
    assert not tmp_path(cycled).exists()


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_a_usable_database(cycled_settings: Settings, cycled: Path) -> None:
    """A real `driftwatch compact` killed with SIGKILL at several moments: the file always opens with the same
    content (the original or the compacted copy), and the next compact succeeds."""
    before = _dump(cycled)
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        child = subprocess.Popen(
            [sys.executable, "-m", "driftwatch.cli", "compact", "--config", str(cycled_settings.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        assert _dump(cycled) == before, f"content changed after a kill at {delay}s"
    done = _cli("compact", "--config", str(cycled_settings.config_path))
    assert done.returncode == 0, done.stderr
    assert _dump(cycled) == before and not tmp_path(cycled).exists()


CRASH_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from driftwatch.storage import compact

    real_replace = os.replace

    def crash_at_the_swap(src, dst):
        if sys.argv[2] == "after":
            real_replace(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = crash_at_the_swap
    compact.compact(sys.argv[1])
    """
)


@pytest.mark.parametrize("moment", ["before", "after"])
def test_kill_9_at_the_swap(cycled_settings: Settings, cycled: Path, moment: str) -> None:
    """SIGKILL right before the rename (the copy complete and flushed) and right after it (the original's
    connection still open): the database opens with the same content either way, a cycle runs on it, and
    the next compact cleans up and succeeds."""
    size, before = cycled.stat().st_size, _dump(cycled)
    child = subprocess.run(
        [sys.executable, "-c", CRASH_CHILD, str(cycled), moment], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert _dump(cycled) == before
    if moment == "before":
        assert tmp_path(cycled).exists() and cycled.stat().st_size == size
    else:
        assert not tmp_path(cycled).exists() and cycled.stat().st_size < size
    ran = _cli("run", "--config", str(cycled_settings.config_path))
    assert ran.returncode == 0, ran.stderr
    after_run = _dump(cycled)
    done = _cli("compact", "--config", str(cycled_settings.config_path))
    assert done.returncode == 0, done.stderr
    assert _dump(cycled) == after_run and not tmp_path(cycled).exists()


def test_compact_refuses_while_the_database_is_in_use(cycled_settings: Settings, cycled: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from driftwatch.storage.database import Database
                with Database(sys.argv[1]):
                    print("ready", flush=True)
                    time.sleep(120)
                """
            ),
            str(cycled),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        size = cycled.stat().st_size
        done = _cli("compact", "--config", str(cycled_settings.config_path))
    finally:
        holder.kill()
        holder.wait(timeout=60)
        if holder.stdout is not None:
            holder.stdout.close()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "in use by another process" in lines[0] and "Stop `driftwatch serve` first" in lines[0]
    assert cycled.stat().st_size == size and not tmp_path(cycled).exists()


def test_compact_without_a_database_says_so_and_creates_nothing(demo_settings: Settings) -> None:
    done = _cli("compact", "--config", str(demo_settings.config_path))
    assert done.returncode == 2
    assert "no database file to compact" in done.stderr
    assert not Path(demo_settings.storage).exists()
