"""Nothing waits on a cycle (issue 13, items 4 and 5), in-process over a real DuckDB file and a real webhook
receiver on loopback that hangs:

- a cycle answers while the webhook still holds the notification it sent (delivery runs on the channel's own
  lane, not inside the cycle under the monitor's lock), a push answers meanwhile, and other channels deliver;
- a push answers (committed) while a cycle holds the monitor's lock, and the next cycle computes its window.

Every wait below is bounded, and what is asserted is an order of events, never a duration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from _hanging import HangingReceiver
from _service import MONITOR, TOKEN, TestClient, make_project, next_day_records
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database
from driftwatch.worker import Worker

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOOK_ENV = "DRIFTWATCH_TEST_HANGING_HOOK"


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _wait_for(predicate: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def hanging() -> Iterator[HangingReceiver]:
    receiver = HangingReceiver()
    yield receiver
    receiver.close()


def _project_with_a_hook(root: Path) -> Settings:
    """The demo project with its alerts routed to the log channel and to a webhook (URL from HOOK_ENV)."""
    config = make_project(root)
    rules = root / "alert_rules" / "demo.yml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("route: {channels: [log]", "route: {channels: [log, hook]", 1), "utf-8")
    with config.open("a", encoding="utf-8") as out:
        out.write(f"  channels:\n    hook: {{type: webhook, url_env: {HOOK_ENV}, timeout: 60s}}\n")
    return load_settings(config)


def _statuses(db: Database, channel: str) -> list[str]:
    return [m.status for m in store.messages(db.cursor(), limit=10_000) if m.channel == channel]


@pytest.mark.slow  # two cycles with alerting and a delivery thread per channel: about 20 s
def test_a_hanging_webhook_holds_neither_the_cycle_nor_a_push(
    tmp_path: Path, hanging: HangingReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOOK_ENV, hanging.url)
    monkeypatch.setenv("DRIFTWATCH_TOKEN", TOKEN)
    settings = _project_with_a_hook(tmp_path / "demo")
    records = next_day_records(tmp_path / "extra")
    from driftwatch.api.app import create_app

    with Database(settings.storage, settings.database) as db:
        server = ServerSettings(catch_up=False)
        worker = Worker(settings, db, server)
        worker.start()
        client = TestClient(create_app(settings, db, server, scheduler=worker), raise_server_exceptions=False)
        try:
            run, answer = _in_thread(lambda: client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH))
            assert hanging.arrived.wait(120), "the cycle's alerts never reached the webhook"
            # The webhook holds its request open (timeout 60 s); the cycle has answered all the same.
            run.join(30)
            assert not run.is_alive(), "the cycle waited for the hanging webhook"
            assert answer["value"].status_code == 200, answer
            assert not worker.runner.busy(MONITOR) and not hanging.released.is_set()

            pushed = client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json=records)
            assert pushed.status_code == 200 and pushed.json()["inserted"] == len(records)
            again = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
            assert again.status_code == 200 and again.json()["windows_computed"] == 1
            assert _wait_for(lambda: "pending" not in _statuses(db, "log"))
            assert set(_statuses(db, "log")) == {"delivered"}
            assert not hanging.released.is_set() and hanging.requests == 1

            hanging.release()  # the receiver answers: the hook's rows go out, once each
            assert _wait_for(lambda: set(_statuses(db, "hook")) == {"delivered"})
            assert hanging.requests == len(_statuses(db, "hook"))
        finally:
            hanging.release()
            worker.shutdown(wait=True)


def test_a_push_is_committed_while_a_cycle_holds_the_monitor(tmp_path: Path) -> None:
    settings = load_settings(make_project(tmp_path / "demo"))
    records = next_day_records(tmp_path / "extra")
    from driftwatch.api.app import create_app

    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        assert client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH).status_code == 200
        before = client.get(f"/api/monitors/{MONITOR}").json()["predictions_stored"]
        runner = client.app.state.driftwatch.runner  # type: ignore[attr-defined]
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with runner.holding(MONITOR):
                held.set()
                release.wait(60)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        try:
            assert held.wait(10)
            push, answer = _in_thread(
                lambda: client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json=records)
            )
            push.join(60)
            assert not push.is_alive(), "the push waited for the cycle"
            assert answer["value"].status_code == 200 and answer["value"].json()["inserted"] == len(records)
            assert runner.busy(MONITOR)  # the "cycle" was still running when the push was accepted
            stored = client.get(f"/api/monitors/{MONITOR}").json()["predictions_stored"]
            assert stored == before + len(records)
        finally:
            release.set()
            holder.join(10)
        run = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH).json()
        (window,) = run["windows"]
        assert window["window_start"] == "2026-11-01T00:00:00Z" and window["rows"] == len(records)


def test_pushes_from_many_clients_side_by_side_lose_and_double_nothing(tmp_path: Path) -> None:
    """Eight threads push overlapping batches at once (the same request ids from two of them): every row is
    stored once, and duplicates are counted, whichever commit DuckDB refused and had run again."""
    settings = load_settings(make_project(tmp_path / "demo"))
    records = next_day_records(tmp_path / "extra")
    from driftwatch.api.app import create_app

    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        assert client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH).status_code == 200
        before = client.get(f"/api/monitors/{MONITOR}").json()["predictions_stored"]
        shares = [records[i * 150 : (i + 1) * 150] for i in range(4)]
        start = threading.Barrier(8)
        answers: list[httpx.Response] = []

        def push(share: list[dict[str, Any]]) -> None:
            start.wait(30)
            answers.append(client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json=share))

        threads = [threading.Thread(target=push, args=(share,)) for share in shares * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        assert sum(a.json()["inserted"] for a in answers) == len(records)
        assert sum(a.json()["duplicate"] for a in answers) == len(records)
        assert client.get(f"/api/monitors/{MONITOR}").json()["predictions_stored"] == before + len(records)


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(503)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"down")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return None


@pytest.mark.slow  # `driftwatch run` as a process: about 20 s
def test_run_delivers_what_is_due_and_says_what_is_left_and_when(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`driftwatch run` used to stop at 100 notifications and report nothing pending."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    receiver.daemon_threads = True
    thread = threading.Thread(target=receiver.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        host, port = receiver.server_address[:2]
        settings = _project_with_a_hook(tmp_path / "demo")
        env = {**os.environ, HOOK_ENV: f"http://{host}:{port}/hook"}
        exe = Path(sys.executable).parent / "driftwatch"
        done = subprocess.run(
            [str(exe), "run", "--config", str(settings.config_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert done.returncode == 0, done.stderr
    with Database(settings.storage, settings.database) as db:
        log_rows, hook_rows = _statuses(db, "log"), _statuses(db, "hook")
    assert log_rows and set(log_rows) == {"delivered"}
    assert hook_rows and set(hook_rows) == {"pending"}
    summary = f"notifications: {len(log_rows)} delivered, {len(hook_rows)} to retry, 0 failed"
    assert summary in done.stdout, done.stdout
    assert f"notifications: {len(hook_rows)} still pending, the next is due at " in done.stdout, done.stdout


@pytest.mark.parametrize(
    "body", [b"[" * 50_000 + b"]" * 50_000, b'{"records": [{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]}"]
)
def test_a_deeply_nested_body_is_refused_not_a_500(body: bytes) -> None:
    from driftwatch.api.errors import Invalid
    from driftwatch.api.push import parse_batch

    with pytest.raises(Invalid, match="nested too deeply"):
        parse_batch(body)


def test_values_that_read_as_infinite_refuse_the_batch_and_pretty_bodies_are_accepted(tmp_path: Path) -> None:
    """`1e999` (too large for a double) and the string "Infinity" used to be stored as inf, which stops every
    later cycle of a monitor with a `task`; records are now read from their raw JSON text, so a body spanning
    lines (pretty-printed) must still come out as one record a line."""
    import json

    settings = load_settings(make_project(tmp_path / "demo"))
    records = next_day_records(tmp_path / "extra")[:5]
    from driftwatch.api.app import create_app

    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        url = f"/api/monitors/{MONITOR}/predictions"
        headers = {**AUTH, "Content-Type": "application/json"}
        big = json.dumps(records).replace(
            f'"raw_prediction": {records[1]["raw_prediction"]}', '"raw_prediction": 1e999'
        )
        text = json.dumps(records).replace('"income": ', '"income": "Infinity", "x": ', 1)
        for body, index, reason in (
            (big, 1, "prediction: '1e999' is not a finite number"),
            (text, 0, "feature 'income': 'Infinity' is not a finite number"),
        ):
            response = client.post(url, headers=headers, content=body.encode())
            assert response.status_code == 422, response.text
            (error,) = response.json()["errors"]
            assert (error["index"], error["reason"]) == (index, reason)
        assert client.get(f"/api/monitors/{MONITOR}").json()["predictions_stored"] == 0
        pretty = client.post(
            url, headers=headers, content=json.dumps({"records": records}, indent=2).encode()
        )
        assert pretty.status_code == 200 and pretty.json()["inserted"] == 5
