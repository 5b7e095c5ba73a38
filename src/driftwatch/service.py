"""`driftwatch serve`: the API, the scheduler and the reports in one process that owns the DuckDB file.

This module is the composition: it sits above both `api` (the app) and `worker` (the APScheduler schedule),
which do not know each other; the app sees the worker only through the `api.state.Scheduler` protocol.

Start: open the Database once (a second server or a CLI write command then fails with a one-line message),
build the app, start the Worker (its catch-up cycles run on the scheduler's threads, so /health answers at
once), and run uvicorn (no forking: one process, threads only).

Stop (SIGTERM or Ctrl-C): uvicorn stops accepting connections and lets requests in flight finish (a
"run now" cycle included); then the scheduler shuts down, waiting for a cycle in progress to finish; then
the database is checkpointed and closed. A cycle cut short by a harder kill loses nothing that committed:
every window's writes are one transaction.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType
from typing import Any

import uvicorn

from driftwatch.api.app import create_app
from driftwatch.config.settings import Settings
from driftwatch.errors import InputError
from driftwatch.pipeline.warmup import warm_kernels
from driftwatch.storage.database import Database
from driftwatch.storage.runs import mark_interrupted_runs
from driftwatch.worker import Worker

log = logging.getLogger("driftwatch.server")


class _Signals:
    """Records SIGTERM/SIGINT so that the signal uvicorn re-raises after its graceful shutdown does not kill
    the process before the scheduler and the database are closed."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            # A second signal while we wait for a cycle to finish: the operator wants out now. Committed
            # transactions are safe on disk (the WAL); the cycle in progress is simply redone next time.
            log.warning("second signal: exiting without waiting for the cycle in progress")
            os._exit(128 + signum)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._record)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _configure_logging() -> None:
    root = logging.getLogger("driftwatch")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before anything starts, so a busy port is one clear error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run until SIGTERM/SIGINT; returns after a clean shutdown."""
    _configure_logging()
    server_settings = settings.server
    first = next(iter(settings.monitors))
    hint = f"Another `driftwatch serve` may hold it; its API runs cycles: POST /api/monitors/{first}/runs"
    db = Database(settings.storage, settings.database, lock_hint=hint)
    try:
        sock = bind(host, port)
    except BaseException:
        db.close()
        raise
    worker: Worker | None = None
    signals = _Signals()
    try:
        mark_interrupted_runs(db, log=log)  # before the worker starts any cycle of ours
        log.info("numba kernels ready in %.2fs", warm_kernels())
        worker = Worker(settings, db, server_settings)
        app = create_app(settings, db, server_settings, scheduler=worker)
        if not app.state.driftwatch.auth.configured:
            log.warning(
                "no API token: %s is not set, so write endpoints answer 401%s",
                server_settings.token_env,
                "" if server_settings.public_reads else " and so do reads (public_reads: false)",
            )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info",
            lifespan="off",
            workers=None,
            timeout_graceful_shutdown=None,
            server_header=False,
        )
        server = uvicorn.Server(config)
        signals.install()
        worker.start()
        for spec in worker.job_specs():
            log.info("scheduled %s: %s UTC (misfire grace %s)", spec.monitor, spec.cron, spec.misfire_grace)
        log.info(
            "serving %d monitor(s) on http://%s:%d (database %s)", len(settings.monitors), host, port, db.path
        )
        server.run(sockets=[sock])
    finally:
        sock.close()
        if worker is not None:
            log.info("stopping the scheduler (a cycle in progress finishes first)")
            worker.shutdown(wait=True)
        try:
            db.checkpoint()
        finally:
            db.close()
            signals.restore()
        log.info("stopped cleanly")
