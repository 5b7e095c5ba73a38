"""Fixtures of the alerting tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alerting_duckdb_support import InspectedDuckDBOutbox
from alerting_support import FakeClock, LoopbackServer
from alertmanager_server import Alertmanager, start_alertmanager
from memory_outbox import InMemoryOutbox
from smtp_server import SmtpServer, start_smtp

from driftwatch.storage.database import Database


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 standing in for Slack or a webhook receiver."""
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def second_loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[Alertmanager]:
    """One real Alertmanager for the whole session (installed from Debian's package if missing)."""
    server, reason = start_alertmanager()
    if server is None:
        pytest.skip(f"no Alertmanager: {reason}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """One real SMTP server (aiosmtpd, STARTTLS + AUTH) for the whole session."""
    server, reason = start_smtp()
    if server is None:
        pytest.skip(reason)
    yield server
    server.stop()


@pytest.fixture(params=["memory", "duckdb"])
def outbox(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[InMemoryOutbox | InspectedDuckDBOutbox]:
    """The reference in-memory outbox, and the DuckDB one the pipeline delivers from (a real database file):
    a test using this fixture runs on both, with the same assertions."""
    if request.param == "memory":
        yield InMemoryOutbox()
        return
    db = Database(tmp_path / "outbox.duckdb")
    try:
        yield InspectedDuckDBOutbox(db)
    finally:
        db.close()
