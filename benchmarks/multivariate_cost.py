"""Cost of the multivariate drift check per window (issue 18, item 1): docs/benchmarks.md, "Multivariate drift".

22 features (18 numeric, 4 categorical with 6-30 categories), a 20,000-row reference sample (the default
`reference_rows`). Measured with the pipeline's own functions on a real DuckDB file:

* the profile fit (once per reference): `stats.multivariate.fit_profile`;
* per window of 1k, 100k and 1M rows: the joint read (`storage.multivariate.window_joint_rows`, a reservoir
  sample of `max_rows` = 5,000 rows above that), the reconstruction error with its learned bars (first window
  of a size: bars learned; later windows: cached), and the domain classifier (5 folds, 2,000 rows a side).

CPU seconds, best of `--repeat` (the classifier: one run): thread CPU time for the statistics
(BLAS/OpenMP held to one thread), process CPU time for the read. Usage: uv run python benchmarks/multivariate_cost.py [--sizes 1000,100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from driftwatch.config.multivariate import MultivariateSettings
from driftwatch.pipeline.multivariate import domain_classifier
from driftwatch.stats import multivariate as mv
from driftwatch.storage.database import Database
from driftwatch.storage.multivariate import JudgeWindow, window_joint_rows
from driftwatch.storage.predictions import ensure_prediction_table

NUMERIC = tuple(f"n{i}" for i in range(18))
CATEGORICAL = (("c0", 6), ("c1", 10), ("c2", 20), ("c3", 30))
START = datetime(2026, 1, 1)


def columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    latent = rng.standard_normal((n, 4))
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):  # correlated through 4 latent factors, some skewed, 2 % missing
        values = latent @ rng.normal(size=4) * 0.5 + rng.standard_normal(n)
        values = np.exp(values / 2) if i % 3 == 0 else values
        values[rng.random(n) < 0.02] = np.nan
        out[name] = values
    for name, k in CATEGORICAL:
        p = 1.0 / np.arange(1, k + 1)
        out[name] = rng.choice(np.array([f"v{j}" for j in range(k)]), size=n, p=p / p.sum())
    return out


def best(fn, repeat: int, clock=time.thread_time) -> float:  # type: ignore[no-untyped-def]
    """Least CPU seconds over `repeat` calls: on a shared machine the wall time measures the neighbours, the
    CPU time what a window costs. Thread CPU time with BLAS/OpenMP held to one thread (the statistics), or
    process CPU time (the read, on DuckDB's threads)."""
    times = []
    for _ in range(repeat):
        started = clock()
        fn()
        times.append(clock() - started)
    return min(times)


def main() -> None:
    with threadpool_limits(limits=1):
        run()


def run() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    settings = MultivariateSettings(enabled=True)
    ref = columns(settings.reference_rows, rng)
    rows = mv.Rows({n: ref[n] for n in NUMERIC}, {n: [str(v) for v in ref[n]] for n, _ in CATEGORICAL})
    fit = best(lambda: mv.fit_profile(rows), args.repeat)
    profile = mv.fit_profile(rows)
    print(
        f"profile fit on {settings.reference_rows:,} rows: {fit:.3f} s; {profile.components.shape[0]} of "
        f"{profile.components.shape[1]} components"
    )
    with tempfile.TemporaryDirectory() as folder, Database(Path(folder) / "bench.duckdb") as db:
        cur = db.cursor()
        ensure_prediction_table(cur, "bench", NUMERIC, tuple(n for n, _ in CATEGORICAL))
        for size in (int(s) for s in args.sizes.split(",")):
            day = START + timedelta(days=size % 997)
            data = columns(size, rng)
            table = pa.table(
                {
                    "request_id": [f"{size}-{i}" for i in range(size)],
                    "ts": pa.array([day] * size, type=pa.timestamp("us")),
                    "model_version": ["v1"] * size,
                    **{f"f:{n}": data[n] for n in NUMERIC},
                    **{f"f:{n}": data[n] for n, _ in CATEGORICAL},
                }
            )
            cur.register("_bench", table)
            cur.execute('INSERT INTO "predictions:bench" BY NAME SELECT * FROM _bench')
            cur.unregister("_bench")
            window = JudgeWindow("*", day, day + timedelta(days=1))
            cap = min(settings.max_rows, mv.max_window_rows(profile))
            names = tuple(n for n, _ in CATEGORICAL)
            db.checkpoint()  # so the read does not share the CPU with the insert's background checkpoint
            read = best(
                lambda: window_joint_rows(cur, "bench", window, NUMERIC, names, cap),  # noqa: B023
                args.repeat,
                time.process_time,
            )
            joint = window_joint_rows(cur, "bench", window, NUMERIC, names, cap)
            sample = mv.Rows(joint.numeric, joint.categorical)
            encode = best(lambda: mv.encode(profile.encoding, sample), args.repeat)  # noqa: B023
            matrix = mv.encode(profile.encoding, sample)
            mv._BAR_CACHE.clear()
            started = time.thread_time()
            mv.reconstruction_result(profile, matrix, 100)
            first = time.thread_time() - started
            recon = best(lambda: mv.reconstruction_result(profile, matrix, 100), args.repeat)  # noqa: B023
            clf = best(lambda: domain_classifier(profile, matrix, settings, 100), 1)  # noqa: B023
            print(
                f"window {size:>9,} rows (judged on {len(sample):,}): read {read:.3f} s, encode {encode:.3f} s, "
                f"reconstruction {recon * 1000:.1f} ms (+{(first - recon):.3f} s learning the bars once per "
                f"size), classifier {clf:.2f} s"
            )


if __name__ == "__main__":
    main()
