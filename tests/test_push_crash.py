"""kill -9 of `driftwatch serve` while clients push and a cycle runs: nothing accepted is lost, nothing is
doubled, and every pushed window is computed after the restart.

A real server process on loopback. A cycle is started over a 150k-row prediction file; while it runs, a client
pushes 1k-row batches (the pushes no longer wait for the cycle); after a few of them have been answered 200
the server is killed with SIGKILL. After a restart, the client sends every batch again (what a client does
after a lost connection): a batch answered 200 before the kill must come back all duplicate (it was committed
before its answer), and the totals, the windows and their row counts must be exactly those of a clean run.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest

from _service import END, MONITOR, make_project
from test_server_process import AUTH, Server, free_port

pytestmark = pytest.mark.slow  # two server starts and a 150k-row cycle: about a minute

FILE_DAY = END + timedelta(days=1)  # the big file's rows: window 2026-11-02
PUSH_DAY = END + timedelta(days=2)  # pushed rows: window 2026-11-03
FILE_ROWS = 150_000
BATCHES, BATCH_ROWS = 30, 1000


def _frame(n: int, prefix: str, day: Any, seed: int) -> pl.DataFrame:
    """Rows in the demo's log schema (features as a JSON object per row)."""
    rng = np.random.default_rng(seed)
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
    seconds = np.sort(rng.integers(0, 86400, n))
    return pl.DataFrame(
        {
            "request_id": [f"{prefix}-{i:07d}" for i in range(n)],
            "timestamp": [(day + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds],
            "model_version": ["v3.2"] * n,
            "input_features": feats.select(pl.struct(pl.all()).struct.json_encode())[:, 0],
            "raw_prediction": np.round(rng.random(n), 5),
            "business_output": rng.choice(np.array(["approve_loan", "decline_loan"]), n),
            "environment": rng.choice(np.array(["prod-us-west1", "prod-eu-central1"]), n),
        }
    )


def _bodies() -> list[bytes]:
    frame = _frame(BATCHES * BATCH_ROWS, "push", PUSH_DAY, 11)
    bodies = []
    for b in range(BATCHES):
        records = frame.slice(b * BATCH_ROWS, BATCH_ROWS).to_dicts()
        for record in records:
            record["input_features"] = json.loads(record["input_features"])
        bodies.append(json.dumps({"records": records}).encode())
    return bodies


def _post(http: httpx.Client, body: bytes) -> httpx.Response:
    return http.post(
        f"/api/monitors/{MONITOR}/predictions",
        headers={**AUTH, "Content-Type": "application/json"},
        content=body,
    )


def _window_rows(http: httpx.Client, day: Any) -> int:
    """Rows of the overall segment's window starting at `day` (every model version)."""
    start, end = (d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in (day, day + timedelta(days=1)))
    items = http.get(f"/api/monitors/{MONITOR}/windows", params={"from": start, "to": end}).json()["items"]
    return sum(int(w["rows"]) for w in items if w["window_start"] == start)


def test_kill_9_during_pushes_and_a_cycle_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config = make_project(tmp_path / "demo")
    predictions = tmp_path / "demo" / "data" / "predictions"
    bodies = _bodies()
    big = tmp_path / "big.parquet"
    _frame(FILE_ROWS, "file", FILE_DAY, 12).write_parquet(big)
    server = Server(config, tmp_path / "server.log")
    acked: list[int] = []
    try:
        server.start()
        server.wait_ready()
        with server.client() as http:
            base = http.get(f"/api/monitors/{MONITOR}").json()["predictions_stored"]
        big.rename(predictions / f"{FILE_DAY:%Y-%m-%d}.parquet")

        def run() -> None:
            with server.client() as http, _swallow():
                http.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)

        cycle = threading.Thread(target=run, daemon=True)
        cycle.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if httpx.get(f"{server.url}/health", timeout=10).json()["monitors"][0]["cycle_running"]:
                break
            time.sleep(0.01)
        stop = threading.Event()

        def push() -> None:
            with server.client() as http:
                for i, body in enumerate(bodies):
                    if stop.is_set():
                        return
                    with _swallow():
                        if _post(http, body).status_code == 200:
                            acked.append(i)

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        deadline = time.monotonic() + 120
        while len(acked) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(acked) >= 3, server.log.read_text()[-3000:]
        assert cycle.is_alive(), "the cycle was over before the pushes were answered"
        server.kill()  # SIGKILL: mid-cycle and, most likely, mid-push
        stop.set()
        pusher.join(30)
        cycle.join(30)

        server.port = free_port()
        server.start()
        server.wait_ready(
            timeout=300
        )  # the catch-up cycle ingests the file again and computes what is queued
        with server.client() as http:
            again = [_post(http, body) for body in bodies]
            assert [r.status_code for r in again] == [200] * BATCHES
            for i in acked:  # answered 200 before the kill: committed, so all duplicate now
                assert again[i].json()["inserted"] == 0, (i, again[i].json())
            # A batch is all or nothing: one cut by the kill either committed whole (then its re-send is all
            # duplicate, though its answer was lost) or not at all; at most one such batch was in flight.
            unanswered = [r.json()["duplicate"] for i, r in enumerate(again) if i not in acked]
            assert set(unanswered) <= {0, BATCH_ROWS} and unanswered.count(BATCH_ROWS) <= 1, unanswered
            run = http.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
            assert run.status_code == 200, run.text
            detail = http.get(f"/api/monitors/{MONITOR}").json()
            assert detail["predictions_stored"] == base + FILE_ROWS + BATCHES * BATCH_ROWS
            assert detail["windows_queued"] == 0
            assert _window_rows(http, FILE_DAY) == FILE_ROWS
            assert _window_rows(http, PUSH_DAY) == BATCHES * BATCH_ROWS
            statuses = {r["status"] for r in http.get("/api/runs").json()["items"]}
        assert statuses <= {"ok", "running", "failed", "interrupted"}
        assert server.stop() == 0
    finally:
        server.kill()


class _swallow:
    """Connection errors of requests cut by the kill are expected."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, httpx.TransportError)
