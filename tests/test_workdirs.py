"""Temporary folders named by their process, swept when the process is gone (`driftwatch.workdirs`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database
from driftwatch.workdirs import _namespace, new_workdir, sweep_workdirs


def gone_pid() -> int:
    """The id of a process that ran and was reaped: not in use any more."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_killed_processs_folders_are_swept_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = Path(new_workdir("pull"))
    (mine / "batch.parquet").write_bytes(b"rows")
    ns, dead = _namespace(), gone_pid()
    gone = tmp_path / f"driftwatch-object-{ns}-{dead}-abc123"
    (gone / "sub").mkdir(parents=True)
    live = tmp_path / f"driftwatch-snapshot-read-{ns}-{os.getppid()}-xyz"  # a running process's (our parent)
    live.mkdir()
    other_ns = (
        tmp_path / f"driftwatch-pull-{ns + 1}-{dead}-q"
    )  # another container's: its ids mean nothing here
    other_ns.mkdir()
    unrelated = [
        tmp_path / "driftwatch-pull-abcdefgh",
        tmp_path / "dw-bench-1-2-3",
        tmp_path / "driftwatch-demo",
    ]
    for folder in unrelated:
        folder.mkdir()
    assert sweep_workdirs() == 1
    assert not gone.exists()
    assert mine.exists() and (mine / "batch.parquet").exists()
    assert live.exists() and other_ns.exists() and all(f.exists() for f in unrelated)
    assert mine.name.startswith(f"driftwatch-pull-{ns}-{os.getpid()}-")


def test_a_cycle_sweeps_what_a_killed_run_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    left = scratch / f"driftwatch-pull-{_namespace()}-{gone_pid()}-k9"
    left.mkdir()
    (left / "batch.parquet").write_bytes(b"500k rows, uncompressed")
    (tmp_path / "logs").mkdir()
    pl.DataFrame({"age": [1.0, 2.0]}).write_parquet(tmp_path / "train.parquet")
    (tmp_path / "driftwatch.yml").write_text(
        f"storage: {tmp_path / 'dw.duckdb'}\nmonitors:\n  m:\n    predictions:\n      path: {tmp_path}/logs/*.parquet\n"
        f"    reference:\n      path: {tmp_path / 'train.parquet'}\n    features:\n      numeric: [age]\n"
    )
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(settings.storage) as db:
        run_cycle(db, settings.monitor("m"))
    assert not left.exists()
