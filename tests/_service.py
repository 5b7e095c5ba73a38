"""Shared by the API and server tests: a small demo project, one more day of its logs as push records, and
the TestClient import (starlette warns that it prefers `httpx2`, which is not installed here)."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from _demo import demo_project
from driftwatch.demo import DemoSpec

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # StarletteDeprecationWarning: prefers httpx2
    from starlette.testclient import TestClient  # noqa: F401  (re-exported)

MONITOR = "credit-default"
TOKEN = "test-token-5f0c9e1d"
END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 4
ROWS_PER_DAY = 600


def spec(days: int = DAYS, end: datetime = END) -> DemoSpec:
    return DemoSpec(
        days=days, rows_per_day=ROWS_PER_DAY, reference_rows=5000, drift_day=2, missing_day=3, end=end
    )


def make_project(folder: Path) -> Path:
    """A 4-day demo project ending 2026-11-01; returns its config path."""
    return demo_project(folder, spec())


def next_day_records(folder: Path) -> list[dict[str, Any]]:
    """The 600 good prediction records of the day after the project ends (2026-11-01), as JSON objects in the
    default log schema, ready to push."""
    demo_project(folder, spec(days=DAYS + 1, end=END + timedelta(days=1)))
    frame = pl.read_parquet(folder / "data" / "predictions" / f"{END:%Y-%m-%d}.parquet")
    prefix = f"req-{DAYS:03d}-"
    records = []
    for row in frame.iter_rows(named=True):
        request_id = str(row["request_id"])
        if not request_id.startswith(prefix) or "bad" in request_id:
            continue
        row["input_features"] = json.loads(row["input_features"])
        records.append(row)
    assert len(records) == ROWS_PER_DAY
    return records


def labels_for(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A label for every other record, known the day after."""
    at = (END + timedelta(days=1, hours=12)).isoformat().replace("+00:00", "Z")
    return [
        {"request_id": r["request_id"], "label": int(r["raw_prediction"] > 0.3), "labelled_at": at}
        for r in records[::2]
    ]
