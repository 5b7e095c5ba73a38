"""Pulling N rows of the default log schema into the store, from PostgreSQL and from an S3 server, against the
bare client read of the same data in the same run (docs/benchmarks.md, "Sources").

    .venv/bin/python benchmarks/sources_pull.py [--rows 1000000] [--only pg|s3]

Starts its own PostgreSQL (initdb + pg_ctl in a temporary folder, tests/sources/postgres.py) and moto S3 server
on loopback, as the tests do. Floors:
- PostgreSQL: the ADBC driver's `fetch_arrow_table()` of the query the source runs (same ORDER BY).
- S3: pyarrow's S3FileSystem reading the same Parquet objects into one Arrow table.
Each driftwatch figure is a whole `ingest_predictions` into a fresh DuckDB file: pull/list+fetch, normalise,
quarantine checks, insert, window queue. Best of `--repeat` runs each.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sources"))

from postgres import PostgresServer, find_or_install  # noqa: E402

from conftest import S3_ENV, S3Server, free_port  # noqa: E402
from driftwatch.config.loading import load_settings  # noqa: E402
from driftwatch.config.monitors import FeatureSpec  # noqa: E402
from driftwatch.config.sources import ObjectStoreOptions  # noqa: E402
from driftwatch.pipeline.ingest import ingest_predictions  # noqa: E402
from driftwatch.pipeline.spilled import Pulled  # noqa: E402
from driftwatch.sources.database import connect, pull  # noqa: E402
from driftwatch.sources.objectstore import download, list_objects, open_store, parse_pattern  # noqa: E402
from driftwatch.storage.database import Database  # noqa: E402

FEATURES = FeatureSpec(
    numeric=("age", "income", "debt_ratio", "credit_score", "num_accounts", "employment_years"),
    categorical=("region", "loan_purpose"),
)


def log_table(n: int, seed: int = 7) -> pa.Table:
    """n rows of the default log schema, features as a JSON object per row, in timestamp order."""
    rng = np.random.default_rng(seed)
    import polars as pl

    feats = pl.DataFrame(
        {
            "age": rng.integers(21, 70, n).astype(np.float64),
            "income": np.round(rng.lognormal(10.8, 0.45, n), 2),
            "debt_ratio": np.round(rng.beta(2.0, 5.0, n), 4),
            "credit_score": np.clip(np.round(rng.normal(680, 60, n) / 5) * 5, 300, 850),
            "num_accounts": rng.poisson(4, n).astype(np.float64),
            "employment_years": np.round(rng.gamma(2.0, 3.0, n), 1),
            "region": rng.choice(np.array(["north", "south", "east", "west"]), n),
            "loan_purpose": rng.choice(np.array(["car", "home", "education", "other"]), n),
        }
    )
    start = np.datetime64("2026-03-01T00:00:00", "us")
    ts = start + np.sort(rng.integers(0, 7 * 86400 * 1_000_000, n)).astype("timedelta64[us]")
    frame = pl.DataFrame(
        {
            "request_id": [f"r-{i:08d}" for i in range(n)],
            "timestamp": pl.Series(ts).dt.replace_time_zone("UTC"),
            "model_version": ["v1"] * n,
            "input_features": feats.select(pl.struct(pl.all()).struct.json_encode())[:, 0],
            "raw_prediction": np.round(rng.random(n), 5),
            "business_output": rng.choice(np.array(["approve_loan", "decline_loan"]), n),
            "environment": rng.choice(np.array(["prod-us-west1", "prod-eu-central1"]), n),
        }
    )
    return frame.to_arrow()


def project(root: Path, predictions_yaml: str) -> Path:
    import polars as pl

    rng = np.random.default_rng(1)
    pl.DataFrame(
        {
            "age": rng.integers(21, 70, 5000).astype(np.float64),
            "income": rng.lognormal(10.8, 0.45, 5000),
            "debt_ratio": rng.beta(2.0, 5.0, 5000),
            "credit_score": rng.normal(680, 60, 5000),
            "num_accounts": rng.poisson(4, 5000).astype(np.float64),
            "employment_years": rng.gamma(2.0, 3.0, 5000),
            "region": rng.choice(["north", "south", "east", "west"], 5000),
            "loan_purpose": rng.choice(["car", "home", "education", "other"], 5000),
        }
    ).write_parquet(root / "train.parquet")
    (root / "driftwatch.yml").write_text(
        "storage: dw.duckdb\nmonitors:\n  m:\n    predictions:\n"
        + predictions_yaml
        + "      model_version: model_version\n    reference:\n      path: train.parquet\n"
        "    features:\n      numeric: [age, income, debt_ratio, credit_score, num_accounts, employment_years]\n"
        "      categorical: [region, loan_purpose]\n"
    )
    return root / "driftwatch.yml"


def timed_ingest(config: Path) -> tuple[float, int]:
    db_path = config.parent / "dw.duckdb"
    for p in config.parent.glob("dw.duckdb*"):
        p.unlink()
    monitor = load_settings(config).monitor("m")
    db = Database(db_path)
    try:
        t = time.perf_counter()
        summary = ingest_predictions(db, monitor, FEATURES)
        elapsed = time.perf_counter() - t
    finally:
        db.close()
    assert not summary.failed_files, summary.failed_files
    return elapsed, summary.rows_inserted


def bench_pg(table: pa.Table, repeat: int) -> dict[str, float]:
    import adbc_driver_postgresql.dbapi as adbc

    bindir, why = find_or_install()
    if bindir is None:
        raise SystemExit(why)
    server = PostgresServer(bindir, free_port())
    try:
        with adbc.connect(server.uri) as conn:
            cur = conn.cursor()
            cur.adbc_ingest("logs_stage", table, mode="create")  # binary COPY; text features
            cur.execute(
                "CREATE TABLE logs AS SELECT request_id, timestamp, model_version, input_features::jsonb AS "
                "input_features, raw_prediction, business_output, environment FROM logs_stage"
            )
            cur.execute("CREATE INDEX ON logs (timestamp, request_id)")
            cur.execute("ANALYZE logs")
            conn.commit()
        query = 'SELECT * FROM (SELECT * FROM "logs") AS dw_rows ORDER BY "timestamp", "request_id" LIMIT 1000000000'
        floor = []
        for _ in range(repeat):
            t = time.perf_counter()
            with adbc.connect(server.uri) as conn:
                cur = conn.cursor()
                cur.execute(query)
                got = cur.fetch_arrow_table()
            floor.append(time.perf_counter() - t)
            assert got.num_rows == table.num_rows
        with tempfile.TemporaryDirectory() as tmp:
            config = project(
                Path(tmp),
                "      database:\n        driver: postgresql\n"
                f"        uri: {server.uri}\n        table: logs\n        batch_rows: 1000000000\n",
            )
            options = load_settings(config).monitor("m").predictions.database
            assert options is not None
            part = []
            with Database(Path(tmp) / "pull-check.duckdb") as check:
                for _ in range(repeat):
                    t = time.perf_counter()
                    conn = connect(options)
                    got = pull(conn, options, "timestamp", "request_id", None)
                    conn.close()
                    Pulled.of(check, got, "bench").remove()  # kept in memory (the usual case), or spilled
                    part.append(time.perf_counter() - t)
                    assert got.num_rows == table.num_rows
        with tempfile.TemporaryDirectory() as tmp:
            config = project(
                Path(tmp),
                "      database:\n        driver: postgresql\n"
                f"        uri: {server.uri}\n        table: logs\n        batch_rows: 1000000000\n",
            )
            runs = [timed_ingest(config) for _ in range(repeat)]
        assert all(n == table.num_rows for _, n in runs)
        return {"floor": min(floor), "source": min(part), "driftwatch": min(t for t, _ in runs)}
    finally:
        server.stop()


def bench_s3(table: pa.Table, repeat: int, objects: int) -> dict[str, float]:
    os.environ.update(S3_ENV)
    server = S3Server()
    try:
        bucket = server.new_bucket()
        s3 = server.client()
        step = -(-table.num_rows // objects)
        for i in range(objects):
            buf = io.BytesIO()
            pq.write_table(table.slice(i * step, step), buf)
            s3.put_object(Bucket=bucket, Key=f"logs/part-{i:04d}.parquet", Body=buf.getvalue())
        from pyarrow import fs

        s3fs = fs.S3FileSystem(endpoint_override=server.url, scheme="http", region="us-east-1")
        floor = []
        for _ in range(repeat):
            t = time.perf_counter()
            infos = s3fs.get_file_info(fs.FileSelector(f"{bucket}/logs"))
            got = pa.concat_tables(
                pq.read_table(i.path, filesystem=s3fs) for i in sorted(infos, key=lambda i: i.path)
            )
            floor.append(time.perf_counter() - t)
            assert got.num_rows == table.num_rows
        part = []
        for _ in range(repeat):
            t = time.perf_counter()
            pattern = parse_pattern(f"s3://{bucket}/logs/*.parquet")
            store = open_store(pattern, ObjectStoreOptions(endpoint_url=server.url))
            for obj in list_objects(store, pattern):
                download(store, pattern, obj).remove()
            part.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            config = project(
                Path(tmp),
                f"      path: s3://{bucket}/logs/*.parquet\n      object_store:\n        endpoint_url: {server.url}\n",
            )
            runs = [timed_ingest(config) for _ in range(repeat)]
        assert all(n == table.num_rows for _, n in runs)
        return {"floor": min(floor), "source": min(part), "driftwatch": min(t for t, _ in runs)}
    finally:
        server.stop()


def bench_local(table: pa.Table, repeat: int, objects: int) -> float:
    """The store's own cost: the same rows ingested from local Parquet files (no source in between)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "logs").mkdir()
        step = -(-table.num_rows // objects)
        for i in range(objects):
            pq.write_table(table.slice(i * step, step), Path(tmp) / "logs" / f"part-{i:04d}.parquet")
        config = project(Path(tmp), "      path: logs/*.parquet\n")
        return min(timed_ingest(config)[0] for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--objects", type=int, default=8, help="S3: the rows split over this many objects")
    parser.add_argument("--only", choices=("pg", "s3"))
    args = parser.parse_args()
    table = log_table(args.rows)
    print(f"{args.rows:,} rows of the default log schema")
    local = bench_local(table, args.repeat, args.objects)
    print(f"store alone (the same rows from local Parquet files): {local:.2f}s")
    if args.only in (None, "pg"):
        r = bench_pg(table, args.repeat)
        print(
            f"PostgreSQL: ADBC fetch_arrow_table {r['floor']:.2f}s, driftwatch pull+store {r['driftwatch']:.2f}s "
            f"({r['driftwatch'] / r['floor']:.2f}x); the source's own part (pull + the check that keeps it in memory) "
            f"{r['source']:.2f}s ({r['source'] / r['floor']:.2f}x the floor)"
        )
    if args.only in (None, "s3"):
        r = bench_s3(table, args.repeat, args.objects)
        print(
            f"S3 (moto): pyarrow S3FileSystem read {r['floor']:.2f}s, driftwatch list+fetch+store "
            f"{r['driftwatch']:.2f}s ({r['driftwatch'] / r['floor']:.2f}x); the source's own part (list + "
            f"fetch to temporary files) {r['source']:.2f}s ({r['source'] / r['floor']:.2f}x the floor)"
        )


if __name__ == "__main__":
    main()
