"""Small projects for the report tests: chosen feature names, category values, versions and segments.

(Named reports_support, not conftest/helpers, so it never collides with another test folder's module.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from driftwatch.config.loading import load_settings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database

END = datetime(2026, 11, 1, tzinfo=UTC)
XSS_FEATURE = "<script>alert(1)</script>"
XSS_CATEGORY = '</script><img src=x onerror="alert(2)">&amp;'


@dataclass(frozen=True)
class ProjectSpec:
    monitor: str = "shop"
    numeric: tuple[str, ...] = ("amount", "age")
    categorical: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"country": ("de", "fr", "it")})
    versions: tuple[str, ...] = ("v1",)
    segment_values: tuple[str, ...] = ("eu", "us")
    days: int = 3
    rows_per_day: int = 600
    reference_rows: int = 3000
    seed: int = 3


def write_project(folder: Path, spec: ProjectSpec) -> Path:
    """Reference parquet, daily prediction logs (the last day drifted) and driftwatch.yml; returns the config."""
    rng = np.random.default_rng(spec.seed)
    data = folder / "data"
    (data / "predictions").mkdir(parents=True, exist_ok=True)

    def features(n: int, drifted: bool) -> dict[str, list[object]]:
        out: dict[str, list[object]] = {}
        for i, name in enumerate(spec.numeric):
            shift = 0.8 if drifted and i % 2 == 0 else 0.0
            out[name] = np.round(rng.normal(10 + i + shift * (1 + i), 1 + i / 10, n), 3).tolist()
        for name, values in spec.categorical.items():
            p = np.full(len(values), 1 / len(values))
            if drifted:
                p = np.linspace(1, 3, len(values))
                p /= p.sum()
            out[name] = rng.choice(np.array(values, dtype=object), size=n, p=p).tolist()
        return out

    pl.DataFrame(features(spec.reference_rows, False)).write_parquet(data / "train.parquet")
    start = END - timedelta(days=spec.days)
    for day in range(spec.days):
        n = spec.rows_per_day
        feats = features(n, drifted=day == spec.days - 1)
        day_start = start + timedelta(days=day)
        seconds = np.sort(rng.integers(0, 86400, n))
        pl.DataFrame(
            {
                "request_id": [f"r-{day}-{i}" for i in range(n)],
                "timestamp": [(day_start + timedelta(seconds=int(s))).isoformat() for s in seconds],
                "model_version": rng.choice(np.array(spec.versions, dtype=object), size=n).tolist(),
                "input_features": [json.dumps({k: v[i] for k, v in feats.items()}) for i in range(n)],
                "raw_prediction": rng.random(n).round(4).tolist(),
                "environment": rng.choice(np.array(spec.segment_values, dtype=object), size=n).tolist(),
            }
        ).write_parquet(data / "predictions" / f"{day_start:%Y-%m-%d}.parquet")
    config = {
        "storage": ".driftwatch/db.duckdb",
        "reports_dir": "reports",
        "monitors": {
            spec.monitor: {
                "predictions": {
                    "path": "data/predictions/*.parquet",
                    "model_version": "model_version",
                    "features": "input_features",
                    "prediction": "raw_prediction",
                    "segments": ["environment"],
                },
                "reference": {"path": "data/train.parquet"},
                "features": {"numeric": list(spec.numeric), "categorical": list(spec.categorical)},
                "window": "1d",
                "min_rows": 100,
            }
        },
    }
    path = folder / "driftwatch.yml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def build_project(folder: Path, spec: ProjectSpec) -> Settings:
    """Write the project and run one cycle, so its database holds every window's results."""
    settings = load_settings(write_project(folder, spec))
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(spec.monitor), now=END)
    return settings
