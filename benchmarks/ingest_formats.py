#!/usr/bin/env python
"""Ingest speed of text formats: `ingest_predictions` on one 1M-row CSV and one 1M-line NDJSON file.

The workload is perf_drift.py's (request id, timestamp, 20 numeric + 2 categorical features). The CSV has plain
feature columns; the NDJSON is in the default log schema (features in an `input_features` object). Each file is
ingested into a fresh database `--repeats` times; wall and process CPU seconds are reported per run, the best
of the repeats beside them. Optional variants: `--gzip` also measures the same files gzip-compressed, and
`--bad` one copy of each with one malformed line in the middle (the path that quarantines by line; for NDJSON
also a copy with one line that is no JSON but that the line reader takes, quarantined without the repair).

    .venv/bin/python benchmarks/ingest_formats.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_drift import CATEGORICAL, NUMERIC, log_frame  # noqa: E402

DAY = datetime(2026, 1, 5, tzinfo=UTC)


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    import polars as pl

    frame = log_frame(rows, 7, DAY, "r").with_columns(
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
    csv = folder / "day.csv"
    frame.write_csv(csv)
    nd = folder / "day.ndjson"
    feats = list(NUMERIC + CATEGORICAL)
    frame.select("request_id", "timestamp", pl.struct(feats).alias("input_features")).write_ndjson(nd)
    return {"csv": csv, "ndjson": nd}


def write_config(project: Path, path: Path, json_features: bool) -> Path:
    """A one-monitor project over `path`; `json_features`: the rows carry their features as one JSON object
    (`input_features`), otherwise as plain columns. Also used by ingest_scaling.py."""
    features = (
        "features: input_features" if json_features else f"features: [{', '.join(NUMERIC + CATEGORICAL)}]"
    )
    text = f"""\
storage: {project / "dw.duckdb"}
monitors:
  bench:
    predictions:
      path: {path}
      {features}
    reference:
      path: {path}
    features:
      numeric: [{", ".join(NUMERIC)}]
      categorical: [{", ".join(CATEGORICAL)}]
    min_rows: 1
"""
    config = project / "driftwatch.yml"
    config.write_text(text)
    return config


def one_ingest(work: Path, name: str, path: Path) -> tuple[float, float, int, int]:
    from driftwatch.config.loading import load_settings
    from driftwatch.config.monitors import FeatureSpec
    from driftwatch.pipeline.ingest import ingest_predictions
    from driftwatch.storage.database import Database

    project = work / f"p-{name}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    fmt = "csv" if ".csv" in path.name else "ndjson"
    settings = load_settings(write_config(project, path, json_features=fmt != "csv"))
    monitor = settings.monitor("bench")
    with Database(settings.storage, settings.database) as db:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = ingest_predictions(db, monitor, FeatureSpec(numeric=NUMERIC, categorical=CATEGORICAL))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert not summary.failed_files, summary.failed_files
    return wall, cpu, summary.rows_inserted, summary.rows_quarantined


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="also the gzip-compressed files")
    parser.add_argument("--bad", action="store_true", help="also a copy of each file with one malformed line")
    parser.add_argument("--only", choices=["csv", "ndjson"], default=None)
    parser.add_argument(
        "--files", type=Path, default=None, help="keep the generated files here and reuse them"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dw-ingest-bench-"))
    try:
        t0 = time.perf_counter()
        if args.files and (args.files / "day.ndjson").exists():
            files = {"csv": args.files / "day.csv", "ndjson": args.files / "day.ndjson"}
        else:
            if args.files:
                args.files.mkdir(parents=True, exist_ok=True)
            files = write_files(args.files or work, args.rows)
        print(f"{args.rows:,} rows ready in {time.perf_counter() - t0:.1f} s", flush=True)
        cases: dict[str, Path] = {}
        for fmt, path in files.items():
            if args.only and fmt != args.only:
                continue
            cases[fmt] = path
            if args.gzip:
                gz = path.with_name(path.name + ".gz")
                with path.open("rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                cases[fmt + ".gz"] = gz
            if args.bad:
                bad = path.with_name("bad-" + path.name)
                data = path.read_bytes()
                middle = data.index(b"\n", len(data) // 2) + 1
                broken = b'"unterminated,1\n' if fmt == "csv" else b'{"request_id": "x\x1e"\r\n'
                bad.write_bytes(data[:middle] + broken + data[middle:])
                cases[fmt + " (1 bad line)"] = bad
                if fmt == "ndjson":  # a line the reader takes but is no JSON: quarantined without the repair
                    not_json = path.with_name("notjson-" + path.name)
                    not_json.write_bytes(data[:middle] + b'{"request_id": "x", broken\n' + data[middle:])
                    cases[fmt + " (1 line not JSON)"] = not_json
        print(f"{'case':<22} {'best wall s':>11} {'best CPU s':>10}  runs (wall/CPU)", flush=True)
        results = {}
        for name, path in cases.items():
            runs = [one_ingest(work, name.split()[0], path) for _ in range(args.repeats)]
            best_wall = min(r[0] for r in runs)
            best_cpu = min(r[1] for r in runs)
            results[name] = {"runs": runs}
            text = ", ".join(f"{w:.2f}/{c:.2f}" for w, c, _, _ in runs)
            print(
                f"{name:<22} {best_wall:>11.2f} {best_cpu:>10.2f}  {text}  "
                f"(inserted {runs[0][2]:,}, quarantined {runs[0][3]:,})",
                flush=True,
            )
        print(json.dumps({"rows": args.rows, "cases": {k: v["runs"] for k, v in results.items()}}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
