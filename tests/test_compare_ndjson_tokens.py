"""`driftwatch compare` reads NDJSON with the bare `NaN`/`Infinity`/`-Infinity` tokens Python's json writes by
default, as the scheduled ingest does: NaN is missing, ±inf leaves its row out as not finite
(docs/values.md). Until now polars refused the whole file ("cannot read as ndjson: … TapeError")."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import driftwatch
from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.sources.json_tokens import standard_json
from driftwatch.storage.database import Database

START = datetime(2026, 3, 1, tzinfo=UTC)
FEATURES = {"numeric": ["x", "y"], "categorical": ["c"]}


def records(n: int, seed: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        x: float = rng.gauss(shift, 1.0)
        if i % 17 == 0:
            x = math.nan
        elif i % 23 == 0:
            x = math.inf if i % 2 else -math.inf
        c: object = rng.choice(["a", "b", "NaN is text", 1.5])
        if i % 19 == 0:
            c = math.nan
        elif i % 29 == 0:
            c = math.inf
        out.append(
            {
                "request_id": f"r{seed}-{i}",
                "timestamp": (START + timedelta(minutes=i)).isoformat(),
                "x": x,
                "y": rng.random() + shift,
                "c": c,
            }
        )
    return out


def write_ndjson(path: Path, rows: list[dict[str, object]]) -> Path:
    text = "\n".join(json.dumps(r) for r in rows) + "\n"  # allow_nan: bare NaN / Infinity / -Infinity
    assert "NaN" in text and "-Infinity" in text and "Infinity," in text
    path.write_text(text)
    return path


def write_parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    """The same values natively typed: floats (NaN, ±inf) and categories as texts/numbers per row."""
    frame = pl.DataFrame(
        {
            "request_id": [r["request_id"] for r in rows],
            "timestamp": [r["timestamp"] for r in rows],
            "x": pl.Series([r["x"] for r in rows], dtype=pl.Float64),
            "y": pl.Series([r["y"] for r in rows], dtype=pl.Float64),
            # a JSON column mixing texts and numbers reads as text: the value model identifies 1.5 and "1.5"
            "c": pl.Series(
                [None if isinstance(r["c"], float) and math.isnan(r["c"]) else str(r["c"]) for r in rows]
            ),
        }
    )
    frame.write_parquet(path)
    return path


def stats(result: driftwatch.CompareResult) -> list[tuple[str, int, list[tuple[str, float]]]]:
    return [
        (f.name, f.rows, sorted((k, v) for k, v in f.stats.items() if v is not None and not math.isnan(v)))
        for f in result.features
    ]


def no_value(v: float | None) -> float | None:
    """A statistic not computed is None or NaN depending on the path; both mean "no value"."""
    return None if v is None or math.isnan(v) else v


def test_standard_json_rewrites_only_tokens_outside_strings() -> None:
    line = b'{"a": NaN, "b": -Infinity, "c": Infinity, "d": "NaN Infinity", "e": -nan, "f": 1e999, "g": 1e30}'
    assert standard_json(line) == (
        b'{"a": null, "b": "-Infinity", "c": "Infinity", "d": "NaN Infinity", "e": null, "f": "1e999", '
        b'"g": 1e30}'
    )
    escaped = b'{"k": "say \\"NaN\\"", "v": NaN}'
    assert standard_json(escaped) == b'{"k": "say \\"NaN\\"", "v": null}'


def test_compare_reads_bare_nan_and_infinity_as_the_value_model_says(tmp_path: Path) -> None:
    ref_rows, cur_rows = records(400, 1), records(400, 2, shift=0.5)
    ref = write_ndjson(tmp_path / "ref.ndjson", ref_rows)
    cur = write_ndjson(tmp_path / "cur.ndjson", cur_rows)
    from_json = driftwatch.compare(ref, cur, **FEATURES)
    from_parquet = driftwatch.compare(
        write_parquet(tmp_path / "ref.parquet", ref_rows),
        write_parquet(tmp_path / "cur.parquet", cur_rows),
        **FEATURES,
    )
    assert stats(from_json) == stats(from_parquet)
    assert from_json.rows_current == from_parquet.rows_current
    # the ±inf rows are left out (as the ingest quarantines them), counted by reason; NaN is only missing
    infinite_x = sum(1 for r in cur_rows if isinstance(r["x"], float) and math.isinf(r["x"]))
    assert from_json.excluded_current == from_parquet.excluded_current
    assert sum(from_json.excluded_current.values()) == infinite_x
    assert from_json.rows_current == 400 - infinite_x


def test_compare_and_the_ingest_agree_on_the_same_ndjson_file(tmp_path: Path) -> None:
    """The pipeline reads the file with DuckDB; compare now reads it too, and both see the same values."""
    ref = write_ndjson(tmp_path / "ref.ndjson", records(300, 3))
    (tmp_path / "logs").mkdir()
    cur_rows = records(300, 4, shift=0.3)
    cur = write_ndjson(tmp_path / "logs" / "cur.ndjson", cur_rows)
    (tmp_path / "driftwatch.yml").write_text(
        "storage: dw.duckdb\nmonitors:\n  m:\n    predictions:\n      path: logs/*\n      features: [x, y, c]\n"
        "    reference:\n      path: ref.ndjson\n    features:\n      numeric: [x, y]\n      categorical: [c]\n"
        "    window: 1d\n    min_rows: 1\n"
    )
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=START + timedelta(days=3))
        quarantined = db.cursor().execute("SELECT count(*) FROM quarantine").fetchone()
    [window] = summary.windows
    result = driftwatch.compare(ref, cur, **FEATURES)
    piped = {f.name: (f.rows, dict(f.stats)) for f in window.overall.features}
    for f in result.features:
        rows, values = piped[f.name]
        assert f.rows == rows, f.name
        for key, value in f.stats.items():
            mine, theirs = no_value(value), no_value(values[key])
            if mine is None or theirs is None:
                assert mine is theirs, (f.name, key)
            else:
                assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-12), (f.name, key)
    assert quarantined is not None and sum(result.excluded_current.values()) == quarantined[0]


def test_compare_cli_on_a_python_json_file(tmp_path: Path) -> None:
    ref = write_ndjson(tmp_path / "ref.ndjson", records(200, 5))
    cur = write_ndjson(tmp_path / "cur.jsonl", records(200, 6))
    done = subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "compare", str(ref), str(cur), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr  # 1 would be drift, not an unreadable file
    assert "cannot read" not in done.stderr
    doc = json.loads(done.stdout)
    assert {f["name"] for f in doc["features"]} >= {"x", "c"}  # (y is excluded: "label/target by name")
