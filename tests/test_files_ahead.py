"""The next file is opened, and its first batch read, while the file before it is stored
(`pipeline.files_ahead`): what is stored, counted and quarantined is what file-after-file ingest gave."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from _configs import MONITOR_TAIL
from _opened_ahead import spy_opened_ahead, spy_reads_and_stores
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline import files_ahead, ingest
from driftwatch.pipeline.ingest import IngestSummary, ingest_predictions
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))

CONFIG = (
    """\
storage: {db}
monitors:
  m:
    predictions:
      path: logs/*
      features: [age, income, region]
"""
    + MONITOR_TAIL
)


def rows(prefix: str, n: int, bad_every: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        age: Any = 20 + i % 50
        if bad_every and i % bad_every == 3:
            age = "abc"  # quarantined: not a number
        out.append(
            {
                "request_id": f"{prefix}{i}",
                "timestamp": f"2026-03-02T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "age": age,
                "income": 1000.0 + i,
                "region": ["n", "s"][i % 2],
            }
        )
    return out


def write_logs(root: Path) -> None:
    """Files of every kind in path order: Parquet, a repeated request id across files, a CSV DuckDB's reader
    refuses (read from a repaired copy), an empty file, a file that is not Parquet at all, gzip NDJSON."""
    logs = root / "logs"
    logs.mkdir()
    pl.DataFrame(rows("a", 3_000)).with_columns(pl.col("age").cast(pl.Float64)).write_parquet(
        logs / "01.parquet"
    )
    pl.DataFrame(rows("b", 2_000) + rows("a", 10)).with_columns(pl.col("age").cast(pl.Float64)).write_parquet(
        logs / "02.parquet"
    )
    csv = ["request_id,timestamp,age,income,region"]
    csv += [
        f"{r['request_id']},{r['timestamp']},{r['age']},{r['income']},{r['region']}"
        for r in rows("c", 500, 7)
    ]
    csv.insert(200, 'c-broken,"2026-03-02T00:00:00Z,1,2')  # an unterminated quote: DuckDB refuses the file
    (logs / "03.csv").write_text("\n".join(csv) + "\n")
    (logs / "04.ndjson").write_text("")
    (logs / "05.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    with gzip.open(logs / "06.ndjson.gz", "wt") as out:
        for r in rows("d", 800, 11):
            out.write(json.dumps(r) + "\n")
    pl.DataFrame({"age": [1.0, 2.0], "income": [1.0, 2.0], "region": ["n", "s"]}).write_parquet(
        root / "train.parquet"
    )


def ingest_all(root: Path, db_name: str) -> tuple[IngestSummary, list[tuple], list[tuple], list[tuple]]:
    (root / "driftwatch.yml").write_text(CONFIG.format(db=db_name))
    settings = load_settings(root / "driftwatch.yml")
    with Database(root / db_name) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        cur = db.cursor()
        stored = cur.execute('SELECT * FROM "predictions:m" ORDER BY request_id').fetchall()
        quarantined = cur.execute(
            "SELECT source, row_number, request_id, reason, raw FROM quarantine ORDER BY source, row_number"
        ).fetchall()
        files = cur.execute(
            "SELECT path, rows_read, rows_inserted, rows_duplicate, rows_quarantined FROM ingested_files "
            "ORDER BY path"
        ).fetchall()
    return summary, stored, quarantined, files


def test_files_read_ahead_store_what_file_after_file_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_logs(tmp_path)
    opened = spy_opened_ahead(monkeypatch)

    ahead = ingest_all(tmp_path, "ahead.duckdb")
    # Opened ahead: every file after the first that DuckDB reads as it is (not the empty one, not the one
    # that needs a repaired copy, not the broken one).
    assert opened == ["02.parquet", "06.ndjson.gz"]
    monkeypatch.setattr(files_ahead.FilesAhead, "start", lambda self, f, after: None)  # nothing opened ahead
    one_by_one = ingest_all(tmp_path, "one.duckdb")
    assert ahead[1:] == one_by_one[1:]
    s, t = ahead[0], one_by_one[0]
    assert (
        s.files_seen,
        s.files_read,
        s.rows_read,
        s.rows_inserted,
        s.rows_duplicate,
        s.rows_quarantined,
    ) == (
        t.files_seen,
        t.files_read,
        t.rows_read,
        t.rows_inserted,
        t.rows_duplicate,
        t.rows_quarantined,
    )
    assert s.failed_files == t.failed_files and [Path(p).name for p, _ in s.failed_files] == ["05.parquet"]
    assert s.rows_duplicate == 10  # the `a` ids of 02.parquet, stored from 01.parquet first
    assert s.rows_quarantined > 0 and len(ahead[2]) == s.rows_quarantined


def test_the_next_files_first_batch_is_read_while_this_ones_last_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for k in range(3):
        pl.DataFrame(rows(f"f{k}-", 500)).with_columns(pl.col("age").cast(pl.Float64)).write_parquet(
            logs / f"{k}.parquet"
        )
    pl.DataFrame({"age": [1.0], "income": [1.0], "region": ["n"]}).write_parquet(tmp_path / "train.parquet")
    events: list[str] = []
    lock = threading.Lock()
    # the next file has time to be read meanwhile, if it is read ahead
    spy_reads_and_stores(monkeypatch, events, lock, lambda first: time.sleep(0.3))
    summary, stored, _, _ = ingest_all(tmp_path, "dw.duckdb")
    assert summary.rows_inserted == len(stored) == 1_500
    for k in (1, 2):
        before = events.index(f"store f{k - 1}-0 begins")
        read = events.index(f"read f{k}-0")
        after = events.index(f"store f{k - 1}-0 ends")
        assert before < read < after, events


def test_a_file_read_ahead_lets_go_of_its_first_batch_once_handed_over() -> None:
    """Memory holds two batches at most: the one being stored and the one read ahead, not the first batch of a
    file read ahead for as long as that file is stored."""
    from contextlib import ExitStack

    import pyarrow as pa

    first = files_ahead.Prepared(pa.table({"request_id": ["a"]}), False)
    rest = iter([files_ahead.Prepared(pa.table({"request_id": ["b"]}), False)])
    opened = files_ahead.Opened(None, None, rest, first, ExitStack())  # type: ignore[arg-type]
    batches = opened.all_batches()
    assert next(batches) is first
    assert opened.first is None  # handed over: only the consumer holds it now
    assert [b.rows.column(0)[0].as_py() for b in batches] == ["b"]


def test_a_store_failing_mid_file_leaves_no_reader_to_clean_up_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batches' generator is closed before its cursors: closed after them, its `finally` (unregistering a
    Parquet file's Arrow view) ran at garbage collection on a closed cursor ("Exception ignored in ...")."""
    import gc
    import sys

    import pyarrow.parquet as pq

    from driftwatch.sources import parquet_rows

    logs = tmp_path / "logs"
    logs.mkdir()
    rows_n = parquet_rows.MIN_ROWS + 100
    table = pl.DataFrame(rows("p", rows_n)).with_columns(pl.col("age").cast(pl.Float64)).to_arrow()
    pq.write_table(table, logs / "one.parquet")  # one row group: read through pyarrow
    pl.DataFrame({"age": [1.0], "income": [1.0], "region": ["n"]}).write_parquet(tmp_path / "train.parquet")
    monkeypatch.setattr(ingest, "BATCH_ROWS", 20_000)
    stores = []
    real_store = ingest.store_prediction_batch

    def failing(*args: Any) -> Any:
        stores.append(1)
        if len(stores) == 2:
            raise duckdb.IOException("IO Error: disk full (test)")
        return real_store(*args)

    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setattr(ingest, "store_prediction_batch", failing)
    summary, stored, _, _ = ingest_all(tmp_path, "dw.duckdb")
    gc.collect()
    assert [Path(p).name for p, _ in summary.failed_files] == ["one.parquet"]
    assert len(stored) == 20_000  # the first batch's transaction committed; the file is read again next run
    assert unraisable == []
