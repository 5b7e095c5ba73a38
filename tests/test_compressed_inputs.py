"""gzip- and zstd-compressed CSV and NDJSON, the format from the suffix and the compression from the content, for
predictions, labels and the reference (and `compare`, alike); a bad line inside a compressed file is quarantined like any other; a broken archive is named."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.errors import SourceError
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.pipeline.labels import ingest_labels
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.sources.formats import file_kind
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age",), categorical=("region",))

CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      features: [age, region]
      prediction: score
    reference:
      path: {reference}
    features:
      numeric: [age]
      categorical: [region]
    min_rows: 1
    task: binary_classification
    labels:
      path: labels/*
"""


def compress(data: bytes, path: Path) -> None:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(data)


def csv_logs(ids: range) -> bytes:
    rows = "".join(f"r{i},2026-03-02T10:{i:02d}:00Z,{20 + i},north,0.{i}\n" for i in ids)
    return b"request_id,timestamp,age,region,score\n" + rows.encode()


def ndjson_logs(ids: range) -> bytes:
    return b"".join(
        json.dumps(
            {
                "request_id": f"r{i}",
                "timestamp": f"2026-03-02T10:{i:02d}:00Z",
                "age": 20 + i,
                "region": "north",
                "score": 0.5,
            }
        ).encode()
        + b"\n"
        for i in ids
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/day.csv.gz", ("csv", "gzip")),
        ("day.CSV.GZ", ("csv", "gzip")),
        ("day.ndjson.gz", ("ndjson", "gzip")),
        ("day.jsonl.zst", ("ndjson", "zstd")),
        ("day.csv.zstd", ("csv", "zstd")),
        ("day.parquet", ("parquet", None)),
        ("day.csv", ("csv", None)),
    ],
)
def test_file_kind_reads_format_and_compression_from_the_suffixes(path: str, expected: tuple) -> None:
    assert file_kind(path) == expected


def test_file_kind_with_a_configured_format_keeps_the_compression() -> None:
    assert file_kind("export.log.gz", "ndjson") == ("ndjson", "gzip")
    with pytest.raises(SourceError, match="unknown file type '.log.gz'"):
        file_kind("export.log.gz")
    with pytest.raises(SourceError, match="cannot be read gzip-compressed"):
        file_kind("day.parquet.gz")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "labels").mkdir()
    return tmp_path


@pytest.mark.parametrize("name", ["day.csv.gz", "day.csv.zst", "day.ndjson.gz", "day.jsonl.zst"])
def test_compressed_logs_labels_and_reference_without_a_format(project: Path, name: str) -> None:
    is_csv = ".csv" in name
    suffix = name.removeprefix("day")
    compress((csv_logs if is_csv else ndjson_logs)(range(1, 41)), project / f"train{suffix}")
    compress((csv_logs if is_csv else ndjson_logs)(range(1, 6)), project / "logs" / name)
    labels = (
        b"request_id,label\nr1,1\nr2,0\n"
        if is_csv
        else b'{"request_id": "r1", "label": 1}\n{"request_id": "r2", "label": 0}\n'
    )
    compress(labels, project / "labels" / f"l{suffix}")
    (project / "driftwatch.yml").write_text(CONFIG.format(reference=f"train{suffix}"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        outcome = ensure_reference(db, settings.monitor("m"))
        ingest = ingest_predictions(db, settings.monitor("m"), FEATURES)
        label_summary = ingest_labels(db, settings.monitor("m"))
    assert (outcome.profile.rows, outcome.rows_rejected) == (40, 0)
    assert (ingest.failed_files, ingest.rows_inserted) == ([], 5)
    assert (label_summary.failed_files, label_summary.labels_new) == ([], 2)


@pytest.mark.parametrize("name", ["day.csv.gz", "day.jsonl.zst"])
def test_a_bad_line_inside_a_compressed_file_is_quarantined(project: Path, name: str) -> None:
    data = csv_logs(range(1, 6)) if ".csv" in name else ndjson_logs(range(1, 6))
    lines = data.split(b"\n")
    lines[2] = lines[2] + b",extra" if ".csv" in name else lines[2].replace(b"north", b"no\x1erth")
    compress(b"\n".join(lines), project / "logs" / name)
    (project / "driftwatch.yml").write_text(CONFIG.format(reference="unused.csv"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        quarantined = db.cursor().execute("SELECT row_number FROM quarantine").fetchall()
    assert (summary.failed_files, summary.rows_inserted, quarantined) == (
        [],
        4,
        [(2,)] if ".csv" in name else [(3,)],
    )


def test_a_broken_archive_is_named_with_the_reason(project: Path) -> None:
    good = gzip.compress(ndjson_logs(range(1, 100)))
    (project / "logs" / "cut.ndjson.gz").write_bytes(good[: len(good) // 2])
    (project / "logs" / "fake.csv.gz").write_bytes(b"not gzip at all\n")
    (project / "driftwatch.yml").write_text(CONFIG.format(reference="unused.csv"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
    failed = {Path(p).name: reason for p, reason in summary.failed_files}
    assert set(failed) == {"cut.ndjson.gz", "fake.csv.gz"}
    assert failed["fake.csv.gz"].startswith("cannot be decompressed as gzip: ")
    assert failed["cut.ndjson.gz"] == (
        "cannot be decompressed as gzip: Compressed file ended before the end-of-stream marker was reached"
    )


@pytest.mark.parametrize(
    ("name", "codec"),
    [("day.csv.gzip", "gzip"), ("day.ndjson.zstd", "zstd"), ("day.csv", "gzip"), ("day.jsonl", "zstd")],
)
def test_run_and_compare_read_a_compressed_file_alike_and_duckdb_decompresses_it(
    project: Path, name: str, codec: str
) -> None:
    """Compression is told by the content for both `run` and `compare` (one detection, `sources.formats`): a
    gzip file named `.csv` used to be read by `compare` and refused by `run`. `.gzip`/`.zstd`, which DuckDB
    does not recognise by name, used to send every such file through the slow Python repair."""
    import duckdb

    import driftwatch
    from driftwatch.sources.files import read_source, source_file

    data = csv_logs(range(1, 6)) if ".csv" in name else ndjson_logs(range(1, 6))
    path = project / "logs" / name
    if codec == "gzip":
        path.write_bytes(gzip.compress(data))
    else:
        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(data)
    with duckdb.connect() as con:
        seen = read_source(con, source_file(str(path)), lambda r: (r.fmt, r.path, r.compression))
    assert seen == (("csv" if ".csv" in name else "ndjson"), str(path), codec)  # DuckDB's reader: no repair
    (project / "driftwatch.yml").write_text(CONFIG.format(reference="ref.csv"))
    (project / "ref.csv").write_bytes(csv_logs(range(1, 6)))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
    assert (summary.failed_files, summary.rows_inserted, summary.rows_quarantined) == ([], 5, 0)
    result = driftwatch.compare(str(project / "ref.csv"), str(path), features=["age", "region"])
    assert {f.name for f in result.features} == {"age", "region"}


def test_a_compressed_parquet_file_is_refused_by_run_and_compare_alike(project: Path) -> None:
    import polars as pl

    import driftwatch

    frame = pl.DataFrame({"request_id": ["r1"], "timestamp": ["2026-03-02T10:00:00Z"], "age": [1.0]})
    frame.write_parquet(project / "plain.parquet")
    for name in ("day.parquet.gz", "packed.parquet"):
        (project / "logs" / name).write_bytes(gzip.compress((project / "plain.parquet").read_bytes()))
    (project / "driftwatch.yml").write_text(CONFIG.format(reference="plain.parquet"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
    failed = {Path(p).name: reason for p, reason in summary.failed_files}
    assert "cannot be read gzip-compressed" in failed["day.parquet.gz"]
    assert (
        failed["packed.parquet"] == "is gzip-compressed, and a parquet file cannot be read so: decompress it"
    )
    for name in ("day.parquet.gz", "packed.parquet"):
        with pytest.raises(SourceError, match="compressed") as caught:
            driftwatch.compare(str(project / "plain.parquet"), str(project / "logs" / name))
        assert caught.value.message.split(":")[0] in failed[name]
