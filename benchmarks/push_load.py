#!/usr/bin/env python
"""Load test of `POST /api/monitors/{name}/predictions` against a real `driftwatch serve` on loopback.

Measures, in one run (the machine is shared, so compare numbers inside a run):

- idle throughput and latency: one client pushing `--batches` batches of `--batch-rows` rows one after another;
- concurrency: `--clients` clients pushing the same number of batches between them at once;
- pushes during a cycle: a `--cycle-rows`-row Parquet file is dropped into the prediction folder and
  `POST /runs` starts a cycle that ingests it and computes its windows; one client pushes batches while it
  runs (bounded by `--batches`), and their latency is compared with the idle one.

Targets (issue 13): >= 100k rows/s with 10k-row batches, push p99 during the cycle within 2x of idle, and the
concurrent clients not lowering throughput. Everything (with the machine, the CPU, numpy's SIMD dispatch and the
load average) goes to benchmarks/results/push_load.json; see docs/benchmarks.md for recorded runs.

    .venv/bin/python benchmarks/push_load.py                      # about 2-4 minutes
    .venv/bin/python benchmarks/push_load.py --cycle-rows 200000  # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).parent / "driftwatch"
RESULTS = REPO / "benchmarks" / "results" / "push_load.json"
MONITOR = "credit-default"
TOKEN = "push-load-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
PUSH_DAY = DEMO_END + timedelta(days=3)  # pushed rows fall in windows of their own
CYCLE_DAY = DEMO_END + timedelta(days=10)  # the big file's rows too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _features(rng: np.random.Generator, n: int) -> dict[str, Any]:
    return {
        "age": rng.integers(21, 70, n).astype(np.float64),
        "income": np.round(rng.lognormal(10.8, 0.45, n), 2),
        "debt_ratio": np.round(rng.beta(2.0, 5.0, n), 4),
        "credit_score": np.clip(np.round(rng.normal(680, 60, n) / 5) * 5, 300, 850),
        "num_accounts": rng.poisson(4, n).astype(np.float64),
        "employment_years": np.round(rng.gamma(2.0, 3.0, n), 1),
        "region": rng.choice(np.array(["north", "south", "east", "west"]), n),
        "loan_purpose": rng.choice(np.array(["car", "home", "education", "other"]), n),
    }


def _frame(rng: np.random.Generator, n: int, prefix: str, day: datetime) -> pl.DataFrame:
    feats = pl.DataFrame(_features(rng, n))
    seconds = np.sort(rng.integers(0, 86400, n))
    return pl.DataFrame(
        {
            "request_id": [f"{prefix}-{i:08d}" for i in range(n)],
            "timestamp": [(day + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds],
            "model_version": ["v3.2"] * n,
            "input_features": feats.select(pl.struct(pl.all()).struct.json_encode())[:, 0],
            "raw_prediction": np.round(rng.random(n), 5),
            "business_output": rng.choice(np.array(["approve_loan", "decline_loan"]), n),
            "environment": rng.choice(np.array(["prod-us-west1", "prod-eu-central1"]), n),
        }
    )


def batch_bodies(count: int, rows: int, tag: str, seed: int) -> list[bytes]:
    """`count` request bodies of `rows` records each, encoded before the clock starts."""
    rng = np.random.default_rng(seed)
    bodies = []
    for b in range(count):
        frame = _frame(rng, rows, f"{tag}-{b:05d}", PUSH_DAY)
        records = frame.to_dicts()
        for record in records:
            record["input_features"] = json.loads(record["input_features"])
        bodies.append(json.dumps({"records": records}).encode())
    return bodies


class Server:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log, self.port = config, log, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300) -> None:
        env = {**os.environ, "DRIFTWATCH_TOKEN": TOKEN}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(EXE), "serve", "--config", str(self.config), "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                health = httpx.get(f"{self.url}/health", timeout=5).json()
                if all(m["last_run_status"] == "ok" and not m["cycle_running"] for m in health["monitors"]):
                    return
            time.sleep(0.25)
        raise RuntimeError("server not ready in time")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc: a figure the machine's load does
    not distort, unlike wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def push_all(url: str, bodies: list[bytes], stop: threading.Event | None = None) -> list[tuple[float, int]]:
    """Push the bodies one after another; [(seconds, rows inserted)] per batch. Stops early when `stop` is set."""
    out = []
    with httpx.Client(base_url=url, timeout=600) as http:
        for body in bodies:
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            response = http.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, content=body)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"push failed: {response.status_code} {response.text[:300]}")
            out.append((seconds, int(response.json()["inserted"])))
    return out


def summary(latencies: list[float], rows: int, elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {
        "batches": len(latencies),
        "rows": rows,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed) if elapsed > 0 else None,
        "latency_ms": {
            "p50": round(statistics.median(ordered) * 1000, 1),
            "p99": round(pct(0.99) * 1000, 1),
            "max": round(ordered[-1] * 1000, 1),
        },
    }


def concurrent(url: str, bodies: list[bytes], clients: int) -> dict[str, Any]:
    shares = [bodies[i::clients] for i in range(clients)]
    results: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = push_all(url, shares[i])
        except BaseException as exc:  # noqa: BLE001 - reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    flat = [r for rs in results for r in rs]
    return {"clients": clients, **summary([s for s, _ in flat], sum(n for _, n in flat), elapsed)}


def during_cycle(server: Server, project: Path, big: Path, bodies: list[bytes]) -> dict[str, Any]:
    """Drop the big file in, start a cycle through the API, push while it runs."""
    shutil.copy(big, project / "data" / "predictions" / big.name)
    answer: dict[str, Any] = {}

    def run() -> None:
        started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=1800) as http:
            response = http.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
        answer["seconds"] = time.perf_counter() - started
        answer["status"] = response.status_code
        answer["body"] = response.json() if response.status_code == 200 else response.text[:500]

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # push only once the cycle is really running
        if httpx.get(f"{server.url}/health", timeout=10).json()["monitors"][0]["cycle_running"]:
            break
        time.sleep(0.01)
    pushed: list[tuple[float, int]] = []
    timeline: list[
        tuple[float, int]
    ] = []  # (seconds into the phase, latency ms) per push, to see where it waits
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=600) as http:
        for body in bodies:
            if not thread.is_alive():
                break
            t0 = time.perf_counter()
            response = http.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, content=body)
            if response.status_code != 200:
                raise RuntimeError(f"push failed: {response.status_code} {response.text[:300]}")
            pushed.append((time.perf_counter() - t0, int(response.json()["inserted"])))
            timeline.append((round(t0 - started, 2), round(pushed[-1][0] * 1000)))
    elapsed = time.perf_counter() - started
    thread.join()
    body = answer.get("body")
    cycle = {
        "status": answer.get("status"),
        "seconds": round(answer.get("seconds", float("nan")), 2),
        "rows_ingested": body.get("rows_ingested") if isinstance(body, dict) else None,
        "windows_computed": body.get("windows_computed") if isinstance(body, dict) else None,
        "pushes_finished_before_the_cycle": len(pushed) < len(bodies),
    }
    if not pushed:
        return {"cycle": cycle, "pushes": None}
    pushes = summary([s for s, _ in pushed], sum(n for _, n in pushed), elapsed)
    return {"cycle": cycle, "pushes": pushes, "timeline": timeline}


def machine() -> dict[str, Any]:
    import duckdb

    model = ""
    with contextlib.suppress(OSError):
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    dispatch = io.StringIO()
    with contextlib.redirect_stdout(dispatch):
        np.show_runtime()
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "numpy": np.__version__,
        "numpy_runtime": dispatch.getvalue(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20, help="batches per phase (bounds every loop)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cycle-rows", type=int, default=1_000_000, help="0 skips the during-a-cycle phase")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the scratch project there")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from driftwatch.demo import DemoSpec, write_demo_project

    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="driftwatch-push-load-"))
    load_before = os.getloadavg()
    result: dict[str, Any] = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    server: Server | None = None
    try:
        project = scratch / "project"
        spec = DemoSpec(
            days=3, rows_per_day=2000, reference_rows=20_000, drift_day=2, missing_day=3, end=DEMO_END
        )
        config = write_demo_project(project, spec)
        print(f"preparing {3 * args.batches + 2} bodies of {args.batch_rows} rows ...", flush=True)
        warm = batch_bodies(2, args.batch_rows, "warm", 1)
        idle = batch_bodies(args.batches, args.batch_rows, "idle", 2)
        many = batch_bodies(args.batches, args.batch_rows, "many", 3)
        busy = batch_bodies(args.batches, args.batch_rows, "busy", 4)
        big = scratch / f"{CYCLE_DAY:%Y-%m-%d}-big.parquet"
        if args.cycle_rows:
            print(f"writing a {args.cycle_rows}-row prediction file for the cycle ...", flush=True)
            _frame(np.random.default_rng(5), args.cycle_rows, "big", CYCLE_DAY).write_parquet(big)
        server = Server(config, scratch / "server.log")
        print("starting driftwatch serve ...", flush=True)
        server.start()
        push_all(server.url, warm)
        assert server.process is not None
        pid = server.process.pid
        key = f"idle_{args.clients}_clients"
        for name, bodies, clients in (("idle_1_client", idle, 1), (key, many, args.clients)):
            cpu = cpu_seconds(pid)
            result[name] = concurrent(server.url, bodies, clients)
            used = cpu_seconds(pid) - cpu
            result[name]["server_cpu_s_per_10k_rows"] = round(used / result[name]["rows"] * 1e4, 3)
            print(f"idle, {clients} client(s):", json.dumps(result[name]), flush=True)
        if args.cycle_rows:
            cpu = cpu_seconds(pid)
            result["during_cycle"] = during_cycle(server, project, big, busy)
            result["during_cycle"]["server_cpu_s"] = round(cpu_seconds(pid) - cpu, 2)
            print("during a cycle:", json.dumps(result["during_cycle"]), flush=True)
            pushes = result["during_cycle"]["pushes"]
            if pushes:
                idle_p99 = result["idle_1_client"]["latency_ms"]["p99"]
                result["p99_during_cycle_over_idle"] = round(pushes["latency_ms"]["p99"] / idle_p99, 2)
        one = result["idle_1_client"]["rows_per_s"]
        result["targets"] = {
            "rows_per_s_at_least_100k": one >= 100_000,
            "clients_do_not_lower_throughput": result[f"idle_{args.clients}_clients"]["rows_per_s"]
            >= 0.9 * one,
            "p99_during_cycle_within_2x": result.get("p99_during_cycle_over_idle", float("inf")) <= 2.0,
        }
    finally:
        if server is not None:
            server.stop()
        result["load_average"] = {"before": list(load_before), "after": list(os.getloadavg())}
        if args.workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2, default=str))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
