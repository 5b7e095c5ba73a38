"""Ingest streams a file in bounded batches, one transaction each (`pipeline.ingest.BATCH_ROWS`).

What must hold at the batch boundaries, on real files and a real DuckDB file: a request id seen again in a later
batch (or later in the same batch) is never stored twice and its first row wins; a process killed between two
batches leaves the file unrecorded, and the next run stores exactly the rows a clean run stores; a file DuckDB's
reader refuses after some batches were committed is re-read from a repaired copy and still counted right.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from _configs import MONITOR_TAIL
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline import ingest
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.storage.database import Database
from driftwatch.storage.predictions import ROW_GROUP_ROWS, row_group_aligned

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))

CONFIG = (
    """\
storage: {db}
monitors:
  m:
    predictions:
      path: {logs}/*
"""
    + MONITOR_TAIL
)


def line(i: int, rid: str | None = None, age: float | None = None) -> str:
    record = {
        "request_id": rid or f"r{i}",
        "timestamp": f"2026-03-02T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "input_features": {
            "age": age if age is not None else 20 + i % 50,
            "income": 1000.0 + i,
            "region": "n",
        },
    }
    return json.dumps(record)


def make_project(root: Path, name: str = "logs") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).mkdir(exist_ok=True)
    pl.DataFrame({"age": [20.0, 40.0], "income": [1.0, 2.0], "region": ["n", "s"]}).write_parquet(
        root / "train.parquet"
    )
    (root / "driftwatch.yml").write_text(CONFIG.format(db=root / "dw.duckdb", logs=root / name))
    return root


def run_ingest(project: Path):  # type: ignore[no-untyped-def]
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        return ingest_predictions(db, settings.monitor("m"), FEATURES)


def stored(project: Path) -> list[tuple]:
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        return db.cursor().execute('SELECT * FROM "predictions:m" ORDER BY request_id').fetchall()


def recorded_files(project: Path) -> list[tuple]:
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        return db.cursor().execute("SELECT path, rows_read FROM ingested_files").fetchall()


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small batches (4 rows), and the size of each batch stored, in order."""
    seen: list[int] = []
    real = ingest.store_prediction_batch

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts = real(*args, **kwargs)
        seen.append(counts.rows)
        return counts

    monkeypatch.setattr(ingest, "BATCH_ROWS", 4)
    monkeypatch.setattr(ingest, "store_prediction_batch", spy)
    return seen


def test_a_request_id_repeated_in_a_later_batch_is_stored_once_from_its_first_row(
    tmp_path: Path, batches: list[int]
) -> None:
    project = make_project(tmp_path)
    lines = [line(i) for i in range(10)]
    lines[1] = line(1, rid="dup", age=11.0)  # batch 1
    lines[2] = line(2, rid="twice", age=12.0)  # batch 1, and again in batch 1 below
    lines[3] = line(3, rid="twice", age=13.0)
    lines[8] = line(8, rid="dup", age=88.0)  # batch 3
    (project / "logs" / "day.ndjson").write_text("\n".join(lines) + "\n")

    summary = run_ingest(project)
    assert batches == [4, 4, 2], "the file must really be read in several batches"
    assert (summary.rows_read, summary.rows_inserted, summary.rows_duplicate) == (10, 8, 2)
    rows = {r[0]: r for r in stored(project)}
    assert len(rows) == 8
    age = {rid: rows[rid][-3] for rid in ("dup", "twice")}  # columns: ..., f:age, f:income, f:region
    assert age == {"dup": 11.0, "twice": 12.0}
    assert recorded_files(project) == [(str(project / "logs" / "day.ndjson"), 10)]

    # Read again whole (touched): every row is a duplicate, nothing doubles.
    (project / "logs" / "day.ndjson").write_text("\n".join(lines) + "\n\n")
    again = run_ingest(project)
    assert (again.rows_inserted, again.rows_duplicate) == (0, 10)
    assert len(stored(project)) == 8


def test_a_file_with_only_blank_lines_is_recorded_with_no_rows(tmp_path: Path, batches: list[int]) -> None:
    project = make_project(tmp_path)
    (project / "logs" / "day.ndjson").write_text("\n \n\n")
    summary = run_ingest(project)
    assert (summary.files_read, summary.rows_read, batches) == (1, 0, [])
    assert recorded_files(project) == [(str(project / "logs" / "day.ndjson"), 0)]


KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from driftwatch.config.loading import load_settings
    from driftwatch.config.monitors import FeatureSpec
    from driftwatch.pipeline import ingest
    from driftwatch.storage.database import Database

    real = ingest.store_prediction_batch
    calls = []

    def store_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # batch 1 is committed, batch 2's transaction is open: die without a word
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    ingest.BATCH_ROWS = 4
    ingest.store_prediction_batch = store_then_die
    settings = load_settings(sys.argv[1])
    db = Database(settings.storage)
    ingest.ingest_predictions(db, settings.monitor("m"), FeatureSpec(("age", "income"), ("region",)))
    """
)


def test_a_process_killed_between_batches_leaves_the_file_unrecorded_and_the_rerun_stores_it_once(
    tmp_path: Path,
) -> None:
    lines = [line(i) for i in range(10)]
    lines[6] = line(6, rid="r1", age=99.0)  # a duplicate of batch 1's r1, in batch 2
    text = "\n".join(lines) + "\n"
    killed = make_project(tmp_path / "killed")
    clean = make_project(tmp_path / "clean")
    for project in (killed, clean):
        (project / "logs" / "day.ndjson").write_text(text)

    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(killed / "driftwatch.yml")], capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert recorded_files(killed) == []  # not recorded: the next run reads it again
    assert [r[0] for r in stored(killed)] == ["r0", "r1", "r2", "r3"]  # batch 1 only

    rerun = run_ingest(killed)
    # Duplicates: batch 1's 4 rows, stored before the kill, and r1 again in batch 2.
    counts = (rerun.rows_read, rerun.rows_inserted, rerun.rows_duplicate)
    assert counts == (10, 5, 5)
    run_ingest(clean)  # the same file, never interrupted
    assert stored(killed) == stored(clean)
    assert len(stored(killed)) == 9
    assert recorded_files(killed) == [(str(killed / "logs" / "day.ndjson"), 10)]


@pytest.mark.slow
def test_a_file_refused_after_committed_batches_is_counted_right_on_the_repaired_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's reader refuses a bad byte only when it reaches it: past its first buffers, batches before it
    are committed. The repaired copy's read finds those rows stored; they still count as inserted."""
    project = make_project(tmp_path)
    n = 400_000  # ~60 MB: the bad line lies far beyond the reader's first buffers
    lines = [line(i) for i in range(n)]
    lines[n - 10] = lines[n - 10].replace('"n"', '"n\udcff"')
    body = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    (project / "logs" / "day.ndjson").write_bytes(body)
    attempts: list[list[int]] = []
    real_readable = ingest._ingest_readable
    real_store = ingest.store_prediction_batch

    def readable_spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        attempts.append([])
        return real_readable(*args, **kwargs)

    def store_spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts = real_store(*args, **kwargs)
        attempts[-1].append(counts.inserted)
        return counts

    monkeypatch.setattr(ingest, "BATCH_ROWS", 50_000)
    monkeypatch.setattr(ingest, "_ingest_readable", readable_spy)
    monkeypatch.setattr(ingest, "store_prediction_batch", store_spy)
    summary = run_ingest(project)
    assert len(attempts) == 2 and sum(attempts[0]) > 0, "rows must be committed before the reader refused"
    assert summary.failed_files == []
    assert (summary.rows_read, summary.rows_inserted, summary.rows_duplicate, summary.rows_quarantined) == (
        n,
        n - 1,
        0,
        1,
    )
    assert len(stored(project)) == n - 1


def test_the_next_batch_is_read_on_another_thread_while_this_one_is_stored() -> None:
    """`_marked` reads batch k+1 on its read-ahead thread while the consumer stores batch k; `is_last()` says
    whether k is the last (a 10M-row Parquet file: 14.8 -> 11.7 s, docs/benchmarks.md); an empty file gives
    one (None, first, last); a reader's error comes out of `is_last()` of the batch before it."""
    import threading

    import pyarrow as pa

    from driftwatch.pipeline.ingest import _marked

    def batches(n: int, fail_at: int | None = None) -> Iterator[pa.Table]:
        for i in range(n):
            if i == fail_at:
                raise duckdb.ConversionException("row 7: not a number")
            readers.append(threading.current_thread().name)
            yield pa.table({"i": [i]})

    readers: list[str] = []
    seen = [
        (t["i"][0].as_py() if t is not None else None, first, is_last())
        for t, first, is_last in _marked(batches(3))
    ]
    assert seen == [(0, True, False), (1, False, False), (2, False, True)]
    assert readers[0] == threading.current_thread().name
    assert all(name.startswith("driftwatch-read-ahead") for name in readers[1:])
    assert [(t, first, is_last()) for t, first, is_last in _marked(batches(0))] == [(None, True, True)]
    stored = []
    with pytest.raises(duckdb.ConversionException):
        for t, _first, is_last in _marked(batches(3, fail_at=2)):
            if not is_last():
                stored.append(t["i"][0].as_py())
    assert stored == [0]  # batch 1's transaction is where the error of batch 2 surfaces: not committed


@pytest.mark.parametrize(
    ("chunks", "aligned"),
    [
        ([ROW_GROUP_ROWS] * 8 + [16_960], True),  # a 1M-row Parquet batch: 8 row groups and the rest
        (
            [ROW_GROUP_ROWS] * 4 + [16_960] + [ROW_GROUP_ROWS] * 4 + [16_960],
            True,
        ),  # two files' worth of rests
        ([2 * ROW_GROUP_ROWS, 5], True),
        ([50], True),  # a small batch: one chunk
        ([11_600] * 87, False),  # the NDJSON reader's chunks
        ([46_000] * 21, False),
    ],
)
def test_batches_of_whole_row_groups_may_skip_the_anti_join(chunks: list[int], aligned: bool) -> None:
    """Which Arrow batches `insert_batch` may insert without the anti-join (docs/benchmarks.md, "Parquet
    ingest"): chunks of whole row groups, up to one row group's worth of rows in odd chunks."""
    assert row_group_aligned(chunks) is aligned
