"""What `driftwatch compare` reads: compressed files, files without a telling suffix, and prediction logs in
the default schema (features in a JSON `input_features` column), against each other or a plain reference."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import driftwatch
from driftwatch.cli import app
from driftwatch.errors import InputError, SourceError


def plain(seed: int, n: int = 3000, shift: float = 0.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000 + shift * 10_000, 10_000, n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )


def log(seed: int, n: int = 3000, shift: float = 0.0) -> pl.DataFrame:
    """The same features as `plain`, as prediction logs in the default schema."""
    features = plain(seed, n, shift)
    rng = np.random.default_rng(seed + 100)
    start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=seed)
    score = rng.random(n)
    return pl.DataFrame(
        {
            "request_id": [f"r{seed}-{i}" for i in range(n)],
            "timestamp": [(start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)],
            "model_version": ["v1"] * n,
            "input_features": features.to_dicts(),
            "raw_prediction": score,
            "business_output": np.where(score > 0.5, "decline", "approve"),
            "environment": ["prod"] * n,
        }
    )


def write_log(frame: pl.DataFrame, path: Path, as_text: bool) -> None:
    """NDJSON nests the object; Parquet keeps it as a struct or as JSON text; CSV as JSON text."""
    if as_text:
        frame = frame.with_columns(pl.col("input_features").struct.json_encode())
    if path.suffix == ".ndjson":
        frame.write_ndjson(path)
    elif path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)


def zstd(data: bytes, path: Path) -> None:
    with pa.CompressedOutputStream(str(path), "zstd") as stream:
        stream.write(data)


def feature_rows(result: driftwatch.CompareResult) -> list[dict]:
    return result.to_dict()["features"]


@pytest.fixture
def plain_pair(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """One reference/current pair written in every readable way."""
    ref, cur = plain(1), plain(2, shift=0.3)
    out: dict[str, tuple[Path, Path]] = {}
    for name, frame in (("ref", ref), ("cur", cur)):
        csv = tmp_path / f"{name}.csv"
        frame.write_csv(csv)
        ndjson = tmp_path / f"{name}.ndjson"
        frame.write_ndjson(ndjson)
        (tmp_path / f"{name}.csv.gz").write_bytes(gzip.compress(csv.read_bytes()))
        (tmp_path / f"{name}.ndjson.gz").write_bytes(gzip.compress(ndjson.read_bytes()))
        zstd(csv.read_bytes(), tmp_path / f"{name}.csv.zst")
        zstd(ndjson.read_bytes(), tmp_path / f"{name}.jsonl.zst")
        (tmp_path / f"{name}.data").write_bytes(gzip.compress(csv.read_bytes()))  # no telling suffix
        (tmp_path / f"{name}-export").write_bytes(ndjson.read_bytes())
    for kind in ("csv", "ndjson", "csv.gz", "ndjson.gz", "csv.zst", "jsonl.zst", "data", "export"):
        if kind == "export":
            out[kind] = (tmp_path / "ref-export", tmp_path / "cur-export")
        else:
            out[kind] = (tmp_path / f"ref.{kind}", tmp_path / f"cur.{kind}")
    return out


def test_compressed_and_suffixless_files_give_the_same_result(
    plain_pair: dict[str, tuple[Path, Path]],
) -> None:
    """Issue 12, found 5: `compare` could not read a `.csv.gz` at all (its `--format` is the output format)."""
    expected = feature_rows(driftwatch.compare(*plain_pair["csv"]))
    assert [r["name"] for r in expected] == ["age", "income", "region"]
    assert expected == feature_rows(driftwatch.compare(*plain_pair["ndjson"]))
    for kind in ("csv.gz", "ndjson.gz", "csv.zst", "jsonl.zst"):
        assert feature_rows(driftwatch.compare(*plain_pair[kind])) == expected, kind
    assert feature_rows(driftwatch.compare(*plain_pair["data"], input_format="csv")) == expected
    mixed = driftwatch.compare(plain_pair["data"][0], plain_pair["export"][1], input_format=("csv", "ndjson"))
    assert feature_rows(mixed) == expected
    with pytest.raises(SourceError, match="--input-format"):
        driftwatch.compare(*plain_pair["data"])
    with pytest.raises(SourceError, match="cannot read as parquet"):
        driftwatch.compare(*plain_pair["csv"], input_format="parquet")
    with pytest.raises(InputError, match="unknown input format 'xlsx'"):
        driftwatch.compare(*plain_pair["csv"], input_format="xlsx")


def test_cli_reads_compressed_files_and_takes_an_input_format(
    plain_pair: dict[str, tuple[Path, Path]],
) -> None:
    expected = feature_rows(driftwatch.compare(*plain_pair["csv"]))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "driftwatch.cli", "compare", *args, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=120,
        )

    gz = run(*map(str, plain_pair["csv.gz"]))
    assert gz.returncode == 0, gz.stderr
    assert json.loads(gz.stdout)["features"] == expected
    both = run(str(plain_pair["data"][0]), str(plain_pair["export"][1]), "--input-format", "csv,ndjson")
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout)["features"] == expected
    unknown = run(*map(str, plain_pair["data"]))
    assert unknown.returncode == 2 and "--input-format" in unknown.stderr


@pytest.mark.parametrize(
    ("suffix", "as_text"),
    [(".ndjson", False), (".parquet", True), (".parquet", False), (".csv", True)],
    ids=["ndjson", "parquet-json-text", "parquet-struct", "csv-json-text"],
)
def test_two_days_of_logs_compare_directly(tmp_path: Path, suffix: str, as_text: bool) -> None:
    """Issue 12, found 5: `compare` on logs in the default schema failed with "no columns in common". The
    features object is flattened; the log's own fields are not features; score and decision are outputs."""
    day1, day2 = tmp_path / f"day1{suffix}", tmp_path / f"day2{suffix}"
    write_log(log(1), day1, as_text)
    write_log(log(2, shift=0.3), day2, as_text)
    result = driftwatch.compare(day1, day2)
    plain_result = driftwatch.compare(plain(1), plain(2, shift=0.3))
    inputs = [r for r in feature_rows(result) if r["role"] == "input"]
    assert inputs == feature_rows(plain_result)  # the very same numbers as the plain columns give
    assert [(f.name, f.role) for f in result.features if f.role == "output"] == [
        ("raw_prediction", "output"),
        ("business_output", "output"),
    ]
    assert {e.name: e.reason for e in result.excluded} == {
        "request_id": "identifier: 100 % unique",
        "timestamp": "timestamp",
        "model_version": "log schema field",
        "environment": "log schema field",
    }


def test_a_log_file_against_a_plain_reference(tmp_path: Path) -> None:
    reference, day = tmp_path / "reference.csv.gz", tmp_path / "day.ndjson.gz"
    reference.write_bytes(gzip.compress(plain(1).write_csv().encode()))
    buffer = tmp_path / "day.ndjson"
    log(2, shift=0.3).write_ndjson(buffer)
    day.write_bytes(gzip.compress(buffer.read_bytes()))
    result = driftwatch.compare(reference, day)
    assert feature_rows(result) == feature_rows(driftwatch.compare(plain(1), plain(2, shift=0.3)))
    done = CliRunner().invoke(app, ["compare", str(reference), str(day)])
    assert done.exit_code == 0, done.output
    assert "income" in done.output and "3 feature(s)" in done.output


def test_features_in_another_column_and_the_hint_when_nothing_matches(tmp_path: Path) -> None:
    frame = log(1).rename({"input_features": "inputs"})
    day = tmp_path / "day.ndjson"
    frame.write_ndjson(day)
    reference = tmp_path / "reference.parquet"
    plain(2).write_parquet(reference)
    with pytest.raises(InputError) as caught:
        driftwatch.compare(reference, day)
    message = str(caught.value)
    # Names what each side has and what to do.
    assert "no columns in common" in message and "reference: age, income, region" in message
    assert "--features-column" in message
    result = driftwatch.compare(reference, day, features_column="inputs")
    assert [f.name for f in result.features if f.role == "input"] == ["age", "income", "region"]
    done = CliRunner().invoke(app, ["compare", str(reference), str(day), "--features-column", "inputs"])
    assert done.exit_code == 0, done.output


def test_a_log_with_a_key_that_is_also_a_column_is_refused(tmp_path: Path) -> None:
    frame = log(1).with_columns(pl.lit(1).alias("age"))
    day = tmp_path / "day.parquet"
    write_log(frame, day, as_text=True)
    with pytest.raises(SourceError, match="feature 'age' in 'input_features' is also a column"):
        driftwatch.compare(day, day)


def test_frames_in_the_log_schema_are_flattened_too() -> None:
    """The library takes frames as well as paths: a polars, pandas or Arrow log frame reads as its file does."""
    day1, day2 = log(1), log(2, shift=0.3)
    expected = feature_rows(driftwatch.compare(plain(1), plain(2, shift=0.3)))
    for ref, cur in (
        (day1, day2),
        (day1.to_pandas(), day2.to_pandas()),
        (day1.to_arrow(), day2.to_arrow()),
        (day1.with_columns(pl.col("input_features").struct.json_encode()).to_arrow(), day2),
    ):
        result = driftwatch.compare(ref, cur)
        assert [r for r in feature_rows(result) if r["role"] == "input"] == expected, type(ref)
