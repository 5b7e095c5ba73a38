"""A real S3 server on loopback for the object-storage tests: moto in server mode, started once per session.

Tests reach it directly, or through `FaultProxy`, a loopback HTTP proxy in front of it that can answer 503 or
stop listening (the server "going down"), so fault tests need no second server and never kill the shared one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import httpx
import pytest
from object_servers import (
    AZURE_ENV,
    AzuriteServer,
    GCSServer,
    find_or_install_azurite,
    restore_env,
    saved_env,
)

# Any key works against moto; set for the whole session so the library's provider chain finds them in the
# environment, as it would real ones. The config never holds them.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "driftwatch-test",
    "AWS_SECRET_ACCESS_KEY": "driftwatch-test-secret",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    """moto in server mode. `scheme`, `endpoint`, `store_options`, `new_bucket` and `put` are the interface the
    GCS and Azure servers share (object_servers.py), so one test runs against each."""

    scheme = "s3"
    store_options = ""  # credentials: S3_ENV, from the environment

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=2)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def client(self):  # type: ignore[no-untyped-def]
        import boto3  # moto's own dependency: used only to make buckets and upload fixtures

        return boto3.client("s3", endpoint_url=self.url)

    def new_bucket(self) -> str:
        name = f"dw-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def endpoint(self, root: str) -> str:
        return root

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=body)


ObjectServer = S3Server | GCSServer | AzuriteServer


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class FaultProxy:
    """Forwards HTTP to an object server; `mode` 'pass', '503' (every request answered 503 Slow Down), 'slow'
    (every answer `delay` seconds late), or `down()` (the port stops listening: connection refused)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode = "pass"
        self.delay = 3.0
        self.requests = 0
        self.bytes_sent = 0  # response bodies passed back to the client (byte-range reads are checked by it)
        # The server goes away (as `down`) at the first request whose path holds this text, e.g. an object's
        # name: "down mid-cycle" at a chosen request, whatever runs ahead on other threads.
        self.down_at: str | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadingHTTPServer | None = None
        self._down_lock = threading.Lock()
        self.up()

    def up(self) -> None:
        with self._down_lock:  # not while a `down` started by `down_at` is still closing the old server
            self._up()

    def _up(self) -> None:
        proxy = self
        self.down_at = None

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                proxy.requests += 1
                if proxy.down_at is not None and proxy.down_at in unquote(self.path):
                    # The server goes away at this request: no answer, and the port stops listening.
                    threading.Thread(target=proxy.down, daemon=True).start()
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.mode == "slow":
                    time.sleep(proxy.delay)  # longer than the client's timeout: it gives up first
                if proxy.mode == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                r = httpx.request(
                    self.command, proxy.target + self.path, headers=headers, content=body, timeout=30
                )
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in (
                        "transfer-encoding",
                        "connection",
                        "content-length",
                        "content-encoding",
                    ):
                        self.send_header(k, v)
                # A HEAD answer has no body but tells the object's size (pyarrow sizes an object by HEAD).
                head = self.command == "HEAD"
                self.send_header(
                    "Content-Length", r.headers.get("content-length", "0") if head else str(len(r.content))
                )
                self.end_headers()
                if self.command != "HEAD":
                    proxy.bytes_sent += len(r.content)
                    self.wfile.write(r.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        with self._down_lock:  # `down_at` may call it from several request threads at once
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None


def _proxy(target: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target)
    try:
        yield proxy
    finally:
        proxy.down()


@pytest.fixture
def fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    """A proxy in front of the S3 server."""
    yield from _proxy(s3_server.url)


@pytest.fixture
def store_proxy(object_server: ObjectServer) -> Iterator[FaultProxy]:
    """A proxy in front of the test's object server (`object_server`: each store in turn)."""
    yield from _proxy(object_server.url)


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GCSServer]:
    """A real GCS server (fake-gcs-server) on loopback for the session (object_servers.py)."""
    server = GCSServer(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    """A real Azure Blob server (Azurite) on loopback for the session; installed by .ci/install-azurite when
    missing, skipped with the reason when that is not possible (no Node.js/npm and no way to install them)."""
    bindir, why = find_or_install_azurite()
    if bindir is None:
        pytest.skip(why)
    saved = saved_env(AZURE_ENV)
    server = AzuriteServer(bindir, free_port())
    try:
        yield server
    finally:
        server.stop()
        restore_env(saved)


OBJECT_SERVER_FIXTURES = {"s3": "s3_server", "gs": "gcs_server", "az": "azurite_server"}


@pytest.fixture(params=list(OBJECT_SERVER_FIXTURES))
def object_server(request: pytest.FixtureRequest) -> ObjectServer:
    """Each object store in turn (s3://, gs://, az://), each a real server on loopback."""
    server: ObjectServer = request.getfixturevalue(OBJECT_SERVER_FIXTURES[request.param])
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL server on loopback for the session (tests/sources/postgres.py)."""
    from postgres import PostgresServer, find_or_install

    bindir, why = find_or_install()
    if bindir is None:
        pytest.skip(why)
    server = PostgresServer(bindir, free_port())
    try:
        yield server
    finally:
        server.stop()
