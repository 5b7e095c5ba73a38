"""Objects read ahead (`pipeline.object_sources`): the next object is downloaded, opened and its first batch
read while the one before it is stored. What is stored, counted, quarantined and recorded must be what object
after object gave, and no downloaded file may outlive the cycle, whatever happened to it."""

from __future__ import annotations

import gzip
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from test_objectstore_ingest import Project, record

from _opened_ahead import spy_opened_ahead, spy_reads_and_stores
from conftest import ObjectServer
from driftwatch.errors import SourceError
from driftwatch.pipeline import files_ahead, ingest, object_sources
from driftwatch.sources.objectstore import list_objects, open_store, parse_pattern
from driftwatch.workdirs import new_workdir

pytestmark = pytest.mark.parametrize("object_server", ["s3"], indirect=True)


def parquet(records: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    pl.DataFrame(records).write_parquet(out)
    return out.getvalue()


def upload_mixed(p: Project) -> None:
    """Objects of every kind in key order: NDJSON with a bad row, Parquet (JSON features in a string column)
    repeating ids of the first, an empty object, an object of no known type, a broken Parquet file, gzip
    NDJSON."""
    first = [record(f"a{i}", age=20.0 + i % 40) for i in range(400)]
    first[7]["input_features"]["age"] = "abc"  # quarantined: not a number
    p.put("logs/01.ndjson", b"".join(json.dumps(r).encode() + b"\n" for r in first))
    second = [record(f"b{i}") for i in range(300)] + [record(f"a{i}") for i in range(5)]
    p.put(
        "logs/02.parquet",
        parquet([{**r, "input_features": json.dumps(r["input_features"])} for r in second]),
    )
    p.put("logs/03.ndjson", b"")
    p.put("logs/04.txt", b"an object of no known type\n")
    p.put("logs/05.parquet", b"PAR1 this is not a parquet file PAR1")
    p.put(
        "logs/06.ndjson.gz",
        gzip.compress(b"".join(json.dumps(record(f"d{i}")).encode() + b"\n" for i in range(200))),
    )


def outcome(p: Project) -> tuple[Any, ...]:
    s = p.ingest()
    cur = p.db.cursor()
    return (
        (s.files_seen, s.files_read, s.rows_read, s.rows_inserted, s.rows_duplicate, s.rows_quarantined),
        [(u.rsplit("/", 1)[1], r.replace(p.bucket, "<bucket>")) for u, r in s.failed_files],
        cur.execute('SELECT * FROM "predictions:m" ORDER BY request_id').fetchall(),
        cur.execute(
            "SELECT row_number, request_id, reason, raw FROM quarantine ORDER BY source, row_number"
        ).fetchall(),
        cur.execute(
            "SELECT regexp_replace(path, '^.*/', ''), size, rows_read, rows_inserted, rows_duplicate, "
            "rows_quarantined FROM ingested_files ORDER BY path"
        ).fetchall(),
    )


def object_folders() -> set[str]:
    """This process's object download folders in the temporary directory."""
    probe = new_workdir("object")
    os.rmdir(probe)
    prefix = os.path.basename(probe).rsplit("-", 1)[0]
    parent = os.path.dirname(probe)
    return {name for name in os.listdir(parent) if name.startswith(prefix)}


def test_objects_read_ahead_store_what_object_after_object_stored(
    tmp_path: Path, object_server: ObjectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead_root, one_root = tmp_path / "ahead", tmp_path / "one"
    ahead_root.mkdir()
    one_root.mkdir()
    ahead_p = Project(ahead_root, object_server, glob="logs/*")
    one_p = Project(one_root, object_server, glob="logs/*")  # a bucket of its own
    upload_mixed(ahead_p)
    opened = spy_opened_ahead(monkeypatch)

    handed: list[str] = []
    real_ingest_file = ingest.ingest_file

    def ingest_spy(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("opened") is not None:
            handed.append(kwargs["source"].rsplit("/", 1)[1])
        return real_ingest_file(*args, **kwargs)

    monkeypatch.setattr(ingest, "ingest_file", ingest_spy)
    ahead = outcome(ahead_p)
    # Opened ahead: every object after the first that the reader reads (not the empty one, not the unknown
    # type, not the broken one), and what was opened is what the object's ingest was handed.
    assert opened == handed == ["02.parquet", "06.ndjson.gz"]
    assert object_folders() == set()

    # The same objects, one after the other: nothing downloaded or opened ahead.
    upload_mixed(one_p)
    monkeypatch.setattr(object_sources._Downloads, "prefetch", _only)
    monkeypatch.setattr(files_ahead.FilesAhead, "start", lambda self, f, after, key=None: None)
    one = outcome(one_p)
    assert ahead == one
    counts, failed, stored, quarantined, files = ahead
    assert counts == (6, 4, 905, 899, 5, 1)  # 400 + 305 + 200 read, 1 of them bad, the 5 `a` ids repeated
    assert [name for name, _ in failed] == ["04.txt", "05.parquet"]
    assert "unknown file type" in failed[0][1]
    # Named by its URL, not by the temporary file it was downloaded to.
    assert "s3://<bucket>/logs/05.parquet" in failed[1][1] and "/tmp" not in failed[1][1]
    assert (
        len(stored) == 899
        and len(quarantined) == 1
        and [f[0] for f in files]
        == [
            "01.ndjson",
            "02.parquet",
            "03.ndjson",
            "06.ndjson.gz",
        ]
    )


def _only(downloads: Any, k: int) -> None:
    """`_Downloads.prefetch` without the look-ahead: an object is downloaded when its turn comes (`take`), not
    when the loop asks for the next one ahead."""
    if k == len(downloads._started) < len(downloads._objects):
        downloads._started[k] = downloads._pool.submit(downloads._fetch, downloads._objects[k])


def test_the_next_object_is_fetched_and_read_while_this_one_is_stored(
    tmp_path: Path, object_server: ObjectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Project(tmp_path, object_server, glob="logs/*.parquet")
    for k in range(3):
        recs = [record(f"f{k}-{i}") for i in range(300)]
        p.put(
            f"logs/{k}.parquet",
            parquet([{**r, "input_features": json.dumps(r["input_features"])} for r in recs]),
        )
    events: list[str] = []
    lock = threading.Lock()
    read = {k: threading.Event() for k in range(3)}
    real_download = object_sources.download

    def download_spy(store: Any, pattern: Any, obj: Any, stop: Any = None) -> Any:
        got = real_download(store, pattern, obj, stop)
        with lock:
            events.append(f"fetched {obj.key.rsplit('/', 1)[1]}")
        return got

    def wait_for_the_next(first: str) -> None:
        k = int(first[1])
        if k < 2:  # the next object is fetched and its first batch read meanwhile, if that is done ahead
            read[k + 1].wait(timeout=10)

    monkeypatch.setattr(object_sources, "download", download_spy)
    spy_reads_and_stores(
        monkeypatch, events, lock, wait_for_the_next, on_read=lambda first: read[int(first[1])].set()
    )
    summary = p.ingest()
    assert (summary.files_read, summary.rows_inserted) == (3, 900)
    for k in (1, 2):
        fetched = events.index(f"fetched {k}.parquet")
        read_ahead = events.index(f"read f{k}-0")
        stored_before = events.index(f"store f{k - 1}-0 ends")
        assert fetched < read_ahead < stored_before, events
    assert object_folders() == set()


def test_aborted_downloads_never_begin_and_leave_nothing(tmp_path: Path, object_server: ObjectServer) -> None:
    p = Project(tmp_path, object_server)
    for k in range(3):
        p.put(f"logs/{k}.ndjson", json.dumps(record(f"x{k}")).encode() + b"\n")
    options = p.monitor.predictions.object_store
    pattern = parse_pattern(p.monitor.predictions.path)
    store = open_store(pattern, options)
    objects = list_objects(store, pattern)
    with object_sources._Downloads(store, pattern, objects, "auto") as downloads:
        first = downloads.take(0)
        assert Path(first.file.path).read_bytes().startswith(b'{"request_id": "x0"')
        downloads.abort()
        with pytest.raises(SourceError, match="download stopped"):
            downloads.take(2)  # not begun before the abort: never begins
        first.remove()
    assert object_folders() == set()


def test_an_interrupt_mid_cycle_leaves_no_download_behind(
    tmp_path: Path, object_server: ObjectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Project(tmp_path, object_server)
    for k in range(4):
        p.put(
            f"logs/{k}.ndjson", b"".join(json.dumps(record(f"i{k}-{i}")).encode() + b"\n" for i in range(50))
        )
    real_store = ingest.store_prediction_batch
    stores = 0

    def interrupted(*args: Any) -> Any:
        nonlocal stores
        stores += 1
        if stores == 2:
            time.sleep(0.2)  # the third object is fetched (and opened) ahead meanwhile
            raise KeyboardInterrupt
        return real_store(*args)

    monkeypatch.setattr(ingest, "store_prediction_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        p.ingest()
    assert object_folders() == set()
    monkeypatch.setattr(ingest, "store_prediction_batch", real_store)
    again = p.ingest()  # the interrupted object and the rest are read next time; nothing doubled
    assert (again.files_read, again.rows_inserted) == (3, 150)
    assert p.count() == 200
