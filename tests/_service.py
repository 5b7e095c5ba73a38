"""Shared by the API and server tests: a small demo project, one more day of its logs as push records, and
the TestClient import (starlette warns that it prefers `httpx2`, which is not installed here)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
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


@contextmanager
def served(config: Path, log: Path, timeout: float = 180, env: dict[str, str] | None = None) -> Iterator[str]:
    """`driftwatch serve` of `config` in a child process on a free loopback port (with `env` as its
    environment, default this one's); yields its URL once every monitor's first cycle finished ok (the log is
    shown if it dies or times out); SIGTERM at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    command = [
        str(Path(sys.executable).parent / "driftwatch"),
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                health = httpx.get(f"{url}/health", timeout=5).json()
                if all(m["last_run_status"] == "ok" and not m["cycle_running"] for m in health["monitors"]):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
