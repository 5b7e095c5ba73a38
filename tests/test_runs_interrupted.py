"""A cycle killed with SIGKILL leaves its run `running`; the next `driftwatch run` or `driftwatch serve` on the
same database marks it `interrupted` (runs of the starting process itself are never touched)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from _service import MONITOR, TOKEN, make_project
from driftwatch.api.metrics import metrics_registry, render
from driftwatch.config.loading import load_settings
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.runs import INTERRUPTED, mark_interrupted_runs

EXE = Path(sys.executable).parent / "driftwatch"

# A real cycle in a child process, killed by SIGKILL from inside its first file callback: the run row is
# committed as `running` and nothing finishes it.
_KILLED_CYCLE = textwrap.dedent(
    """
    import os, signal, sys
    from driftwatch.config.loading import load_settings
    from driftwatch.pipeline.cycle import CycleHooks, run_cycle
    from driftwatch.storage.database import Database

    settings = load_settings(sys.argv[1])
    db = Database(settings.storage, settings.database)
    run_cycle(db, settings.monitor(sys.argv[2]), hooks=CycleHooks(on_file=lambda path: os.kill(os.getpid(), signal.SIGKILL)))
    """
)


def _kill_a_cycle(config: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_CYCLE, str(config), MONITOR], capture_output=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def _runs(config: Path) -> list[tuple[str, str, str | None]]:
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        rows = db.cursor().execute("SELECT run_id, status, error FROM runs ORDER BY started_at").fetchall()
    return [(str(r), str(s), e) for r, s, e in rows]


@pytest.fixture
def killed(tmp_path: Path) -> tuple[Path, str]:
    """A demo project whose only run was killed mid-cycle; returns (config, that run's id)."""
    config = make_project(tmp_path / "demo")
    _kill_a_cycle(config)
    ((run_id, status, _),) = _runs(config)
    assert status == "running"  # what today's main leaves forever
    return config, run_id


def test_cli_run_marks_a_killed_run_interrupted(killed: tuple[Path, str]) -> None:
    config, run_id = killed
    done = subprocess.run(
        [str(EXE), "run", "--config", str(config)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"run {run_id[:8]} of {MONITOR} was cut short earlier; marked interrupted" in done.stderr
    runs = _runs(config)
    assert [s for _, s, _ in runs] == [INTERRUPTED, "ok"]
    assert runs[0][0] == run_id and runs[0][2] is not None and runs[0][2].startswith("interrupted:")


def test_marking_leaves_runs_of_this_process_alone(tmp_path: Path) -> None:
    settings = load_settings(make_project(tmp_path / "demo"))
    with Database(settings.storage, settings.database) as db:
        cutoff = utcnow()
        with db.transaction() as tx:
            for run_id, started in (
                ("dead", cutoff - timedelta(hours=1)),
                ("ours", cutoff + timedelta(seconds=1)),
            ):
                tx.execute(
                    "INSERT INTO runs (run_id, monitor, trigger, started_at, status) VALUES (?, ?, 'cli', ?, 'running')",
                    [run_id, MONITOR, started],
                )
            tx.execute(
                "INSERT INTO runs (run_id, monitor, trigger, started_at, finished_at, status) "
                "VALUES ('done', ?, 'cli', ?, ?, 'ok')",
                [MONITOR, cutoff - timedelta(hours=2), cutoff - timedelta(hours=2)],
            )
        assert mark_interrupted_runs(db, before=cutoff) == [("dead", MONITOR)]
        rows = dict(db.cursor().execute("SELECT run_id, status FROM runs").fetchall())
        assert rows == {"dead": INTERRUPTED, "ours": "running", "done": "ok"}
        assert mark_interrupted_runs(db, before=cutoff) == []  # idempotent
        # An interrupted run reaches Prometheus (it has no finished_at, so it used to be left out).
        metrics = render(metrics_registry(settings, db, None, 10)).decode()
        assert f'driftwatch_cycles_total{{monitor="{MONITOR}",status="interrupted"}} 1.0' in metrics
        assert f'driftwatch_cycles_total{{monitor="{MONITOR}",status="ok"}} 1.0' in metrics
        assert 'status="running"' not in metrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # a server start (numba warm-up and a catch-up cycle): ~15-30 s
def test_serve_marks_a_killed_run_interrupted(killed: tuple[Path, str], tmp_path: Path) -> None:
    config, run_id = killed
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(EXE), "serve", "--config", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DRIFTWATCH_TOKEN": TOKEN},
        )
    try:
        deadline = time.monotonic() + 120
        runs: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                runs = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=5).json()["items"]
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if any(r["status"] == "ok" for r in runs):
                break
            time.sleep(0.2)
        statuses = {str(r["run_id"]): r["status"] for r in runs}
        assert statuses[run_id] == INTERRUPTED, statuses
        assert sorted(statuses.values()) == [INTERRUPTED, "ok"]  # the catch-up cycle was not marked
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    assert f"run {run_id} of monitor {MONITOR} was cut short" in log.read_text()
