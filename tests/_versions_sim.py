"""Simulated baseline/candidate traffic with a known effect, for the version-comparison tests and evidence.

The truth is P(y = 1 | x) = sigmoid(1.5·x1 + x2 − 0.3). Both versions log that probability with their own
small noise on the logit (N(0, 0.05): two retrains of the same quality, whose decisions near the threshold
flip evenly across regions) — except (``effect=True``) on requests from region ``eu``, where the candidate
ignores x1: there it is worse (lower AUC) and its decisions flip for many requests.

Shadow: every request is scored by both versions (same request_id). Canary: each request goes to one version
(``canary_share`` to the candidate), so the request ids are disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

START = datetime(2026, 3, 2, tzinfo=UTC)
REGIONS = np.array(["us", "eu", "apac"], dtype=object)
REGION_SHARES = (0.5, 0.2, 0.3)
EFFECT_REGION = "eu"


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Traffic:
    """One window's simulated requests: inputs, both versions' scores and the labels."""

    ids: np.ndarray
    x1: np.ndarray
    x2: np.ndarray
    region: np.ndarray
    baseline: np.ndarray
    candidate: np.ndarray
    label: np.ndarray


def traffic(rng: np.random.Generator, n: int, *, effect: bool, prefix: str = "r") -> Traffic:
    x1, x2 = rng.normal(0, 1, n), rng.normal(0, 1, n)
    region = rng.choice(REGIONS, size=n, p=REGION_SHARES)
    truth = sigmoid(1.5 * x1 + x2 - 0.3)
    # Two retrains of the same model: each off the truth by its own small noise, so neither is better.
    baseline = sigmoid(1.5 * x1 + x2 - 0.3 + rng.normal(0, 0.05, n))
    candidate = sigmoid(1.5 * x1 + x2 - 0.3 + rng.normal(0, 0.05, n))
    if effect:
        eu = region == EFFECT_REGION
        candidate = np.where(eu, sigmoid(x2 - 0.3 + rng.normal(0, 0.05, n)), candidate)
    label = (rng.random(n) < truth).astype(np.int64)
    ids = np.array([f"{prefix}{i:06d}" for i in range(n)], dtype=object)
    return Traffic(ids, x1, x2, region, baseline, candidate, label)


CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.parquet
      model_version: version
      features: [x1, x2, region]
      prediction: score
      segments: [region]
    reference:
      path: ref.parquet
      prediction: score
      target: y
    features:
      numeric: [x1, x2]
      categorical: [region]
    window: 1d
    min_rows: 100
    task: binary_classification
    labels:
      path: labels/*.parquet
    versions:
      baseline: "1.4"
      candidate: "1.5"
      mode: {mode}
"""


def write_project(
    root: Path,
    *,
    days: int,
    rows: int,
    mode: str,
    effect: bool,
    seed: int,
    share: float = 0.3,
    biased: bool = False,
    config_mode: str | None = None,
) -> Path:
    """Reference, one prediction file per day holding both versions' rows, and the labels. ``biased``: the
    canary split sends requests with x1 > 0 to the candidate four times as often as the others. ``mode`` is
    the traffic (shadow or canary); ``config_mode`` the `versions.mode` configured (default: the same)."""
    rng = np.random.default_rng(seed)
    ref = traffic(rng, 5000, effect=False)
    pl.DataFrame(
        {"x1": ref.x1, "x2": ref.x2, "region": ref.region.astype(str), "score": ref.baseline, "y": ref.label}
    ).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir(parents=True)
    (root / "labels").mkdir()
    for day in range(days):
        t = traffic(rng, rows, effect=effect, prefix=f"d{day:02d}-")
        served = [START + timedelta(days=day, seconds=int(s)) for s in rng.integers(0, 86400, rows)]
        frame = pl.DataFrame(
            {
                "request_id": t.ids.astype(str),
                "timestamp": served,
                "x1": t.x1,
                "x2": t.x2,
                "region": t.region.astype(str),
            }
        )
        if mode == "shadow":
            b = frame.with_columns(score=pl.Series(t.baseline), version=pl.lit("1.4"))
            c = frame.with_columns(score=pl.Series(t.candidate), version=pl.lit("1.5"))
            out = pl.concat([b, c])
        else:
            odds = np.where(t.x1 > 0, 1.6 * share, 0.4 * share) if biased else np.full(rows, share)
            to_candidate = rng.random(rows) < odds
            out = frame.with_columns(
                score=pl.Series(np.where(to_candidate, t.candidate, t.baseline)),
                version=pl.Series(np.where(to_candidate, "1.5", "1.4")),
            )
        out.write_parquet(root / "preds" / f"{day:02d}.parquet")
        pl.DataFrame({"request_id": t.ids.astype(str), "label": t.label}).write_parquet(
            root / "labels" / f"{day:02d}.parquet"
        )
    config = root / "driftwatch.yml"
    config.write_text(CONFIG.format(mode=config_mode or mode))
    return config


def day_start(day: int) -> datetime:
    return START + timedelta(days=day)
