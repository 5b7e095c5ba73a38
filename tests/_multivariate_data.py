"""Shared data for the multivariate tests: two features with correlation +0.8 (reference) that may flip to
-0.8 (every marginal unchanged), plus independent numeric and categorical features."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwatch.stats.multivariate import Rows

CATEGORIES = ("north", "south", "east", "west")
CATEGORY_P = (0.4, 0.3, 0.2, 0.1)


def columns(n: int, rho: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """n rows: x, y standard normal with correlation rho; z normal, w exponential, region categorical."""
    x = rng.standard_normal(n)
    y = rho * x + np.sqrt(1.0 - rho * rho) * rng.standard_normal(n)
    return {
        "x": x,
        "y": y,
        "z": rng.normal(5.0, 2.0, n),
        "w": rng.exponential(1.0, n),
        "region": rng.choice(np.array(CATEGORIES), size=n, p=CATEGORY_P),
    }


def rows(n: int, rho: float, rng: np.random.Generator) -> Rows:
    c = columns(n, rho, rng)
    return Rows(
        {k: np.asarray(c[k], dtype=np.float64) for k in ("x", "y", "z", "w")},
        {"region": [str(v) for v in c["region"]]},
    )


def write_project(
    root: Path, days: int, rows_per_day: int, flipped_days: set[int], multivariate: str, seed: int = 0
) -> Path:
    """A project on real Parquet files: a 20,000-row reference and one prediction file per day from
    2026-01-01; the days in ``flipped_days`` have the correlation flipped. Returns the config path."""
    rng = np.random.default_rng(seed)
    (root / "logs").mkdir(parents=True)
    pq.write_table(pa.table(columns(20_000, 0.8, rng)), root / "train.parquet")
    start = datetime(2026, 1, 1)
    for day in range(days):
        data = columns(rows_per_day, -0.8 if day in flipped_days else 0.8, rng)
        ts = [start + timedelta(days=day, seconds=int(s)) for s in np.linspace(0, 86_000, rows_per_day)]
        table = pa.table(
            {
                "request_id": [f"d{day}-{i}" for i in range(rows_per_day)],
                "timestamp": pa.array(ts, type=pa.timestamp("us")),
                "model_version": ["v1"] * rows_per_day,
                **data,
            }
        )
        pq.write_table(table, root / "logs" / f"day{day:02d}.parquet")
    config = root / "driftwatch.yml"
    config.write_text(
        f"""\
storage: state/dw.duckdb
monitors:
  mv:
    predictions:
      path: logs/*.parquet
      features: [x, y, z, w, region]
    reference:
      path: train.parquet
    features:
      numeric: [x, y, z, w]
      categorical: [region]
    multivariate: {multivariate}
"""
    )
    return config
